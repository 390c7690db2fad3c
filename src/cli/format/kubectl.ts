/**
 * @module cli/format/kubectl
 * `kubectl get` output: the table printers of kubectl's human-readable output for nodes, pods,
 * services, endpointslices and events (columns, `-o wide` columns, status words, `<none>` and
 * `<pending>`), aligned as its tabwriter does (three spaces of padding), and `-o json|yaml` as a
 * `List` with keys sorted, as kubectl prints unstructured objects.
 * @see k8s.io/kubernetes/pkg/printers/internalversion/printers.go
 */
import yaml from "js-yaml";
import type { EndpointSlice, Event, Node, Pod, Service } from "../../cluster/api/types.js";
import { clockOf, humanDuration } from "../../cluster/time.js";

/** Rows to an aligned table. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join("").trimEnd()).join("\n") + "\n";
}

const age = (ts: string | undefined, now: number): string => (ts ? humanDuration(now - clockOf(ts)) : "<unknown>");

/** `kubectl get nodes`. */
export function nodeRows(nodes: readonly Node[], now: number, wide: boolean): string[][] {
  const head = ["NAME", "STATUS", "ROLES", "AGE", "VERSION", ...(wide ? ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"] : [])];
  return [
    head,
    ...nodes.map((n) => {
      const ready = n.status?.conditions?.find((c) => c.type === "Ready");
      let status = ready?.status === "True" ? "Ready" : ready ? "NotReady" : "Unknown";
      if (n.spec.unschedulable) status += ",SchedulingDisabled";
      const roles = Object.keys(n.metadata.labels ?? {})
        .filter((k) => k.startsWith("node-role.kubernetes.io/"))
        .map((k) => k.slice("node-role.kubernetes.io/".length))
        .sort();
      const addr = (t: string): string => n.status?.addresses?.find((a) => a.type === t)?.address ?? "<none>";
      const info = n.status?.nodeInfo ?? {};
      return [n.metadata.name, status, roles.join(",") || "<none>", age(n.metadata.creationTimestamp, now), info["kubeletVersion"] ?? "", ...(wide ? [addr("InternalIP"), addr("ExternalIP"), info["osImage"] ?? "", info["kernelVersion"] ?? "", info["containerRuntimeVersion"] ?? ""] : [])];
    }),
  ];
}

/** The STATUS column of `kubectl get pods`. */
export function podStatus(p: Pod): string {
  if (p.metadata.deletionTimestamp) return "Terminating";
  if (p.status?.reason) return p.status.reason;
  for (const c of p.status?.containerStatuses ?? []) {
    if (c.state.waiting) return c.state.waiting.reason;
    if (c.state.terminated) return c.state.terminated.reason;
  }
  return p.status?.phase ?? "Pending";
}

/** `kubectl get pods`. */
export function podRows(pods: readonly Pod[], now: number, wide: boolean, allNamespaces: boolean): string[][] {
  const head = [...(allNamespaces ? ["NAMESPACE"] : []), "NAME", "READY", "STATUS", "RESTARTS", "AGE", ...(wide ? ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"] : [])];
  return [
    head,
    ...pods.map((p) => {
      const cs = p.status?.containerStatuses ?? [];
      const ready = `${cs.filter((c) => c.ready).length}/${p.spec.containers.length}`;
      const restarts = String(cs.reduce((n, c) => n + c.restartCount, 0));
      return [...(allNamespaces ? [p.metadata.namespace ?? ""] : []), p.metadata.name, ready, podStatus(p), restarts, age(p.metadata.creationTimestamp, now), ...(wide ? [p.status?.podIP ?? "<none>", p.spec.nodeName ?? "<none>", p.status?.nominatedNodeName ?? "<none>", "<none>"] : [])];
    }),
  ];
}

function externalIp(s: Service): string {
  const type = s.spec.type ?? "ClusterIP";
  if (type === "ExternalName") return s.spec.externalName ?? "<none>";
  const lb = (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? "");
  const ext = [...lb, ...(s.spec.externalIPs ?? [])];
  if (type === "LoadBalancer") return ext.length > 0 ? ext.join(",") : "<pending>";
  return ext.length > 0 ? ext.join(",") : "<none>";
}

/** `kubectl get services`. */
export function serviceRows(svcs: readonly Service[], now: number, wide: boolean, allNamespaces: boolean): string[][] {
  const head = [...(allNamespaces ? ["NAMESPACE"] : []), "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", ...(wide ? ["SELECTOR"] : [])];
  return [
    head,
    ...svcs.map((s) => {
      const ports = (s.spec.ports ?? []).map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`).join(",") || "<none>";
      const sel = Object.entries(s.spec.selector ?? {})
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
      return [...(allNamespaces ? [s.metadata.namespace ?? ""] : []), s.metadata.name, s.spec.type ?? "ClusterIP", s.spec.type === "ExternalName" ? "<none>" : (s.spec.clusterIP ?? "<none>"), externalIp(s), ports, age(s.metadata.creationTimestamp, now), ...(wide ? [sel || "<none>"] : [])];
    }),
  ];
}

/** `kubectl get endpointslices`. */
export function endpointSliceRows(slices: readonly EndpointSlice[], now: number, allNamespaces: boolean): string[][] {
  const head = [...(allNamespaces ? ["NAMESPACE"] : []), "NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"];
  return [
    head,
    ...slices.map((s) => {
      const ports = (s.ports ?? []).map((p) => String(p.port ?? "")).join(",") || "<unset>";
      const addrs = s.endpoints.flatMap((e) => e.addresses);
      const eps = addrs.length === 0 ? "<unset>" : addrs.length > 3 ? `${addrs.slice(0, 3).join(",")} + ${addrs.length - 3} more...` : addrs.join(",");
      return [...(allNamespaces ? [s.metadata.namespace ?? ""] : []), s.metadata.name, s.addressType, ports, eps, age(s.metadata.creationTimestamp, now)];
    }),
  ];
}

/** `kubectl get events`. */
export function eventRows(events: readonly Event[], now: number, allNamespaces: boolean): string[][] {
  const head = [...(allNamespaces ? ["NAMESPACE"] : []), "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"];
  return [
    head,
    ...events.map((e) => {
      const seen = e.count > 1 ? `${age(e.lastTimestamp, now)} (x${e.count} over ${age(e.firstTimestamp, now)})` : age(e.lastTimestamp, now);
      return [...(allNamespaces ? [e.metadata.namespace ?? ""] : []), seen, e.type, e.reason, `${e.involvedObject.kind.toLowerCase()}/${e.involvedObject.name}`, e.message];
    }),
  ];
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .filter((k) => o[k] !== undefined)
        .map((k) => [k, sortKeys(o[k])]),
    );
  }
  return v;
}

/** `-o json` / `-o yaml` of a list. */
export function formatList(items: readonly unknown[], output: "json" | "yaml"): string {
  const list = sortKeys({ apiVersion: "v1", items, kind: "List", metadata: { resourceVersion: "" } });
  if (output === "json") return `${JSON.stringify(list, null, 4)}\n`;
  return yaml.dump(list, { sortKeys: true, lineWidth: -1, noRefs: true });
}
