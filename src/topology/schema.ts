/**
 * @module topology/schema
 * The `Cluster` and `Scenario` documents of TOPOLOGY.md (podwire.dev/v1alpha1): their types and a
 * strict decoder that reports unknown fields and wrong types with their paths, so a typo never
 * passes silently.
 */

/** A decoding problem at a field path. */
export interface FieldProblem {
  readonly path: string;
  readonly message: string;
}

type Shape = "string" | "number" | "boolean" | "int-or-string" | "string-map" | "sysctl-map" | "any" | { readonly [k: string]: Shape } | readonly [Shape];

const TAINT: Shape = { key: "string", value: "string", effect: "string" };

/** The Cluster document's shape. */
export const CLUSTER_SHAPE: Shape = {
  apiVersion: "string",
  kind: "string",
  metadata: { name: "string" },
  networking: {
    cni: "string",
    bridge: "string",
    flannel: { backend: "string", vni: "number", port: "number" },
    podSubnet: "string",
    nodeCidrMaskSize: "number",
    serviceSubnet: "string",
    nodePortRange: "string",
    underlay: { subnet: "string", mtu: "number", gateway: "string" },
    bridgePlugin: { ipMasq: "boolean", hairpinMode: "boolean", isDefaultGateway: "boolean" },
    loadBalancer: { pool: "string" },
    kubeProxy: {
      mode: "string",
      clusterCIDR: "string",
      detectLocalMode: "string",
      detectLocal: { bridgeInterface: "string", interfaceNamePrefix: "string" },
      nodePortAddresses: ["string"],
      iptables: { masqueradeAll: "boolean", masqueradeBit: "number", localhostNodePorts: "boolean" },
      nfacct: "boolean",
    },
    seed: "number",
  },
  nodes: [
    {
      name: "string",
      role: "string",
      ip: "string",
      extraAddresses: ["string"],
      podCIDR: "string",
      labels: "string-map",
      taints: [TAINT],
      capacity: { cpu: "int-or-string", memory: "int-or-string", pods: "int-or-string" },
      unschedulable: "boolean",
      sysctls: "sysctl-map",
    },
  ],
  hosts: [{ name: "string", ip: "string", listen: "string" }],
};

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "list";
  if (typeof v === "object") return "mapping";
  return typeof v;
}

/** Checks `value` against `shape`, collecting problems (unknown fields included). */
export function checkShape(value: unknown, shape: Shape, path: string, out: FieldProblem[]): void {
  if (value === undefined || value === null) return;
  const at = (p: string): string => p || "(document)";
  if (shape === "any") return;
  if (shape === "string" || shape === "number" || shape === "boolean") {
    if (typeof value !== shape) out.push({ path: at(path), message: `must be a ${shape}, got ${typeName(value)}` });
    return;
  }
  if (shape === "int-or-string") {
    if (typeof value !== "string" && typeof value !== "number") out.push({ path: at(path), message: `must be a number or a string, got ${typeName(value)}` });
    return;
  }
  if (shape === "string-map" || shape === "sysctl-map") {
    if (typeof value !== "object" || Array.isArray(value)) {
      out.push({ path: at(path), message: `must be a mapping, got ${typeName(value)}` });
      return;
    }
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const ok = shape === "string-map" ? typeof v === "string" : typeof v === "string" || typeof v === "number";
      if (!ok) out.push({ path: `${path}.${k}`, message: `must be a ${shape === "string-map" ? "string" : "number or string"}, got ${typeName(v)}` });
    }
    return;
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) {
      out.push({ path: at(path), message: `must be a list, got ${typeName(value)}` });
      return;
    }
    value.forEach((v, i) => checkShape(v, shape[0] as Shape, `${path}[${i}]`, out));
    return;
  }
  if (typeof value !== "object" || Array.isArray(value)) {
    out.push({ path: at(path), message: `must be a mapping, got ${typeName(value)}` });
    return;
  }
  const fields = shape as { readonly [k: string]: Shape };
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const p = path ? `${path}.${k}` : k;
    const sub = fields[k];
    if (sub === undefined) out.push({ path: p, message: `unknown field "${k}" (known: ${Object.keys(fields).join(", ")})` });
    else checkShape(v, sub, p, out);
  }
}

/** One Scenario step (TOPOLOGY.md "Operations over time"). */
export type Step =
  | { readonly cordon: string }
  | { readonly uncordon: string }
  | { readonly drain: { readonly node: string; readonly ignoreDaemonSets?: boolean; readonly force?: boolean; readonly deleteEmptyDirData?: boolean } }
  | { readonly scale: { readonly deployment?: string; readonly replicaset?: string; readonly replicas: number } }
  | { readonly delete: string }
  | { readonly failNode: string }
  | { readonly recoverNode: string }
  | { readonly advance: string }
  | { readonly apply: { readonly manifest: unknown } };

/** The verbs a step may use. */
export const STEP_VERBS = ["cordon", "uncordon", "drain", "scale", "delete", "failNode", "recoverNode", "advance", "apply"] as const;
