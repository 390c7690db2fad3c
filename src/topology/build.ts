/**
 * @module topology/build
 * From documents to a settled cluster: check the Cluster document strictly, resolve defaults,
 * validate addresses (CIDRs, overlaps between podSubnet, serviceSubnet, underlay and the pool, node
 * podCIDRs inside podSubnet, node and host addresses on the underlay, duplicates), register the
 * nodes, apply the manifests as the apiserver takes them (namespaces first, whatever the file
 * order), settle, then run the Scenario steps, settling after each.
 */
import { formatIpv4, ipv4, parseIpv4 } from "../net/addr.js";
import { cidrContains, cidrOverlaps, formatCidr, parseCidr, parseIfAddr, type Cidr } from "../net/cidr.js";
import { ApiError } from "../cluster/api/resource.js";
import { KINDS, isNamespaced, type AnyObject, type Kind, type Taint } from "../cluster/api/types.js";
import { dns1123Subdomain } from "../cluster/api/names.js";
import { parsePortRange } from "../cluster/allocators/node-port.js";
import { Cluster, type NodeSpec } from "../cluster/cluster.js";
import { DEFAULTS, DEFAULT_CLUSTER } from "./defaults.js";
import { TopologyError, issueAt, sortIssues, type Issue, type SourcedDoc, type TopologyDocs } from "./load.js";
import { CLUSTER_SHAPE, checkShape, type FieldProblem } from "./schema.js";
import { runScenario, type StepRecord } from "./scenario.js";
import { Dataplane } from "../node/dataplane.js";
import type { KubeProxySettings, NodeNetworking } from "../node/config.js";
import { createClock } from "../sim/clock.js";

/** A machine outside the cluster on the underlay. */
export interface HostSpec {
  readonly name: string;
  readonly ip: string;
  /** What the host listens on (`"8080,53/udp"`, podwire's extension), empty by default. */
  readonly listen: string;
}

/** The resolved networking settings: what the nodes need, and what the control plane does. */
export interface Networking extends NodeNetworking {
  readonly nodeCidrMaskSize: number;
  readonly serviceSubnet: Cidr;
  readonly nodePortRange: string;
  readonly loadBalancerPool?: Cidr;
}

/** A built topology. */
export interface Topology {
  readonly name: string;
  readonly cluster: Cluster;
  /** The nodes' and external hosts' emulated kernels and the agents that configure them. */
  readonly dataplane: Dataplane;
  readonly networking: Networking;
  readonly nodes: readonly (NodeSpec & { readonly extraAddresses: readonly string[]; readonly sysctls: Readonly<Record<string, string | number>> })[];
  readonly hosts: readonly HostSpec[];
  /** What each Scenario step printed (or the refusal recorded with expectFailure). */
  readonly steps: readonly StepRecord[];
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : {});

function cidrField(d: SourcedDoc, path: string, text: unknown, dflt: string, issues: Issue[]): Cidr {
  const r = parseCidr(typeof text === "string" ? text : dflt);
  if (r.ok) return r.value;
  issues.push(issueAt(d, path, r.error));
  // Keep checking the rest of the document; the build stops on the issue anyway.
  return { addr: ipv4(0), len: 0 };
}

function oneOf<T extends string>(d: SourcedDoc, path: string, v: unknown, allowed: readonly T[], dflt: T, issues: Issue[]): T {
  if (v === undefined) return dflt;
  if (allowed.includes(v as T)) return v as T;
  issues.push(issueAt(d, path, `Unsupported value: ${JSON.stringify(v)}: supported values: ${allowed.map((a) => `"${a}"`).join(", ")}`));
  return dflt;
}

/** Resolves and validates the Cluster document. */
export function resolveCluster(d: SourcedDoc, issues: Issue[]): { name: string; networking: Networking; nodes: Topology["nodes"]; hosts: HostSpec[] } {
  const problems: FieldProblem[] = [];
  checkShape(d.doc, CLUSTER_SHAPE, "", problems);
  for (const p of problems) issues.push(issueAt(d, p.path, p.message));
  const net = rec(d.doc["networking"]);
  const cni = oneOf(d, "networking.cni", net["cni"], ["flannel", "bridge", "docker0"], DEFAULTS.cni, issues);
  const fl = rec(net["flannel"]);
  const under = rec(net["underlay"]);
  const podSubnet = cidrField(d, "networking.podSubnet", net["podSubnet"], cni === "docker0" ? DEFAULTS.dockerSubnet : DEFAULTS.podSubnet, issues);
  const serviceSubnet = cidrField(d, "networking.serviceSubnet", net["serviceSubnet"], DEFAULTS.serviceSubnet, issues);
  const underlay = cidrField(d, "networking.underlay.subnet", under["subnet"], DEFAULTS.underlaySubnet, issues);
  const poolText = rec(net["loadBalancer"])["pool"];
  const pool = poolText === undefined ? undefined : cidrField(d, "networking.loadBalancer.pool", poolText, "0.0.0.0/32", issues);
  const mask = typeof net["nodeCidrMaskSize"] === "number" ? (net["nodeCidrMaskSize"] as number) : DEFAULTS.nodeCidrMaskSize;
  if (!Number.isInteger(mask) || mask < podSubnet.len || mask > 30) issues.push(issueAt(d, "networking.nodeCidrMaskSize", `must be an integer between the podSubnet prefix (${podSubnet.len}) and 30`));
  const range = typeof net["nodePortRange"] === "string" ? (net["nodePortRange"] as string) : DEFAULTS.nodePortRange;
  if (!parsePortRange(range)) issues.push(issueAt(d, "networking.nodePortRange", `"${range}" is not a port range like 30000-32767`));
  const named: [string, Cidr | undefined][] = [["podSubnet", podSubnet], ["serviceSubnet", serviceSubnet], ["underlay.subnet", underlay], ["loadBalancer.pool", pool]];
  for (let i = 0; i < named.length; i += 1) {
    for (let j = i + 1; j < named.length; j += 1) {
      const [an, a] = named[i] as [string, Cidr | undefined];
      const [bn, b] = named[j] as [string, Cidr | undefined];
      if (a && b && a.len > 0 && b.len > 0 && cidrOverlaps(a, b)) issues.push(issueAt(d, `networking.${bn}`, `${formatCidr(b)} overlaps networking.${an} ${formatCidr(a)}`));
    }
  }
  const seed = typeof net["seed"] === "number" ? (net["seed"] as number) : DEFAULTS.seed;
  const kubeProxy = resolveKubeProxy(d, rec(net["kubeProxy"]), issues);
  const bp = rec(net["bridgePlugin"]);
  const gwText = typeof under["gateway"] === "string" ? (under["gateway"] as string) : formatIpv4(ipv4(underlay.addr + DEFAULTS.underlayGatewayHost));
  const gw = parseIpv4(gwText);
  if (!gw.ok) issues.push(issueAt(d, "networking.underlay.gateway", gw.error));
  else if (!cidrContains(underlay, gw.value)) issues.push(issueAt(d, "networking.underlay.gateway", `${gwText} is not in networking.underlay.subnet ${formatCidr(underlay)}`));
  const mtu = (under["mtu"] as number | undefined) ?? DEFAULTS.underlayMtu;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) issues.push(issueAt(d, "networking.underlay.mtu", `must be an integer from 68 to 65535, got ${String(mtu)}`));
  const networking: Networking = {
    cni,
    bridge: typeof net["bridge"] === "string" ? (net["bridge"] as string) : cni === "docker0" ? DEFAULTS.dockerBridge : DEFAULTS.bridge,
    flannel: { backend: oneOf(d, "networking.flannel.backend", fl["backend"], ["vxlan", "host-gw"], DEFAULTS.flannelBackend, issues), vni: (fl["vni"] as number | undefined) ?? DEFAULTS.flannelVni, port: (fl["port"] as number | undefined) ?? DEFAULTS.flannelPort },
    podSubnet,
    nodeCidrMaskSize: mask,
    serviceSubnet,
    nodePortRange: range,
    underlay: { subnet: underlay, mtu, gateway: gwText },
    ...(pool ? { loadBalancerPool: pool } : {}),
    kubeProxy,
    bridgePlugin: {
      ipMasq: (bp["ipMasq"] as boolean | undefined) ?? DEFAULTS.bridgePlugin.ipMasq,
      hairpinMode: (bp["hairpinMode"] as boolean | undefined) ?? DEFAULTS.bridgePlugin.hairpinMode,
      isDefaultGateway: (bp["isDefaultGateway"] as boolean | undefined) ?? DEFAULTS.bridgePlugin.isDefaultGateway,
    },
    seed,
  };
  const used = new Map<number, string>();
  const names = new Set<string>();
  const nodesIn = Array.isArray(d.doc["nodes"]) ? (d.doc["nodes"] as unknown[]) : [];
  if (nodesIn.length === 0) issues.push(issueAt(d, "nodes", "Required value: a cluster needs at least one node"));
  const explicit = (list: unknown[], field: string): void => {
    list.forEach((n, i) => {
      const ipText = rec(n)["ip"];
      if (typeof ipText !== "string") return;
      const a = parseIpv4(ipText);
      const path = `${field}[${i}].ip`;
      if (!a.ok) issues.push(issueAt(d, path, a.error));
      else if (!cidrContains(underlay, a.value)) issues.push(issueAt(d, path, `${ipText} is not in networking.underlay.subnet ${formatCidr(underlay)}`));
      else if (used.has(a.value)) issues.push(issueAt(d, path, `${ipText} is already used by ${used.get(a.value)}`));
      else used.set(a.value, `${field}[${i}]`);
    });
  };
  const hostsIn = Array.isArray(d.doc["hosts"]) ? (d.doc["hosts"] as unknown[]) : [];
  explicit(nodesIn, "nodes");
  explicit(hostsIn, "hosts");
  let next = underlay.addr + DEFAULTS.firstNodeHost;
  const nextFree = (): string => {
    while (used.has(next)) next += 1;
    used.set(next, "auto");
    return formatIpv4(ipv4(next));
  };
  const checkName = (name: unknown, path: string): string => {
    if (typeof name !== "string" || name === "") {
      issues.push(issueAt(d, path, "Required value"));
      return "";
    }
    for (const m of dns1123Subdomain(name)) issues.push(issueAt(d, path, `Invalid value: "${name}": ${m}`));
    if (names.has(name)) issues.push(issueAt(d, path, `Duplicate value: "${name}"`));
    names.add(name);
    return name;
  };
  const nodes = nodesIn.map((raw, i) => {
    const n = rec(raw);
    const name = checkName(n["name"], `nodes[${i}].name`);
    const role = oneOf(d, `nodes[${i}].role`, n["role"], ["control-plane", "worker"], DEFAULTS.role, issues);
    let podCIDR = n["podCIDR"] as string | undefined;
    if (podCIDR !== undefined) {
      const c = parseCidr(podCIDR);
      if (!c.ok) issues.push(issueAt(d, `nodes[${i}].podCIDR`, c.error));
      else if (!(cidrContains(podSubnet, c.value.addr) && c.value.len >= podSubnet.len)) issues.push(issueAt(d, `nodes[${i}].podCIDR`, `${podCIDR} is not inside networking.podSubnet ${formatCidr(podSubnet)}`));
      else if (c.value.len !== mask) issues.push(issueAt(d, `nodes[${i}].podCIDR`, `${podCIDR} must be a /${mask} (networking.nodeCidrMaskSize)`));
    } else if (cni === "docker0") {
      podCIDR = formatCidr(podSubnet);
    }
    const cap = rec(n["capacity"]);
    (n["extraAddresses"] as unknown[] | undefined)?.forEach((x, j) => {
      const r = typeof x === "string" ? parseIfAddr(x) : undefined;
      if (!r?.ok) issues.push(issueAt(d, `nodes[${i}].extraAddresses[${j}]`, r ? r.error : `must be a string like 192.168.99.11/24, got ${JSON.stringify(x)}`));
    });
    return {
      name,
      role,
      ip: typeof n["ip"] === "string" ? (n["ip"] as string) : nextFree(),
      ...(n["labels"] ? { labels: n["labels"] as Record<string, string> } : {}),
      ...(n["taints"] ? { taints: n["taints"] as Taint[] } : {}),
      capacity: { cpu: String(cap["cpu"] ?? DEFAULTS.capacity.cpu), memory: String(cap["memory"] ?? DEFAULTS.capacity.memory), pods: (cap["pods"] as number | undefined) ?? DEFAULTS.capacity.pods },
      ...(n["unschedulable"] === true ? { unschedulable: true } : {}),
      ...(podCIDR ? { podCIDR } : {}),
      extraAddresses: (n["extraAddresses"] as string[] | undefined) ?? [],
      sysctls: { ...DEFAULTS.sysctls, ...((n["sysctls"] as Record<string, string | number> | undefined) ?? {}) },
    };
  });
  const hosts = hostsIn.map((raw, i) => {
    const h = rec(raw);
    const listen = typeof h["listen"] === "string" ? (h["listen"] as string) : "";
    for (const part of listen.split(",").map((x) => x.trim()).filter(Boolean)) {
      if (!/^\d{1,5}(\/(tcp|udp))?$/.test(part) || Number(part.split("/")[0]) < 1 || Number(part.split("/")[0]) > 65535) issues.push(issueAt(d, `hosts[${i}].listen`, `"${part}" is not PORT or PORT/tcp|udp (like "8080,53/udp")`));
    }
    return { name: checkName(h["name"], `hosts[${i}].name`), ip: typeof h["ip"] === "string" ? (h["ip"] as string) : nextFree(), listen };
  });
  const name = typeof rec(d.doc["metadata"])["name"] === "string" ? (rec(d.doc["metadata"])["name"] as string) : "default";
  return { name, networking, nodes, hosts };
}

/** The `kubeProxy` section, checked (KubeProxyConfiguration field names). */
function resolveKubeProxy(d: SourcedDoc, kp: Rec, issues: Issue[]): KubeProxySettings {
  const at = (f: string): string => `networking.kubeProxy.${f}`;
  if (kp["mode"] !== undefined && kp["mode"] !== "iptables") issues.push(issueAt(d, at("mode"), `Unsupported value: ${JSON.stringify(kp["mode"])}: supported values: "iptables"`));
  const clusterCIDR = kp["clusterCIDR"] as string | undefined;
  if (clusterCIDR !== undefined && clusterCIDR !== "") {
    const c = parseCidr(clusterCIDR);
    if (!c.ok) issues.push(issueAt(d, at("clusterCIDR"), c.error));
  }
  const mode = oneOf(d, at("detectLocalMode"), kp["detectLocalMode"], ["ClusterCIDR", "NodeCIDR", "BridgeInterface", "InterfaceNamePrefix"], DEFAULTS.detectLocalMode, issues);
  const npa = (kp["nodePortAddresses"] as string[] | undefined) ?? [];
  npa.forEach((c, i) => {
    if (c === "primary") return;
    const r = parseCidr(c);
    if (!r.ok) issues.push(issueAt(d, `${at("nodePortAddresses")}[${i}]`, `${r.error} (a CIDR, or "primary")`));
  });
  const ipt = rec(kp["iptables"]);
  const bit = (ipt["masqueradeBit"] as number | undefined) ?? DEFAULTS.masqueradeBit;
  if (!Number.isInteger(bit) || bit < 0 || bit > 31) issues.push(issueAt(d, at("iptables.masqueradeBit"), `must be within the range [0, 31], got ${String(bit)}`));
  const det = rec(kp["detectLocal"]);
  return {
    ...(clusterCIDR !== undefined ? { clusterCIDR } : {}),
    detectLocalMode: mode,
    detectLocal: {
      ...(typeof det["bridgeInterface"] === "string" ? { bridgeInterface: det["bridgeInterface"] as string } : {}),
      ...(typeof det["interfaceNamePrefix"] === "string" ? { interfaceNamePrefix: det["interfaceNamePrefix"] as string } : {}),
    },
    nodePortAddresses: npa,
    masqueradeAll: (ipt["masqueradeAll"] as boolean | undefined) ?? DEFAULTS.masqueradeAll,
    masqueradeBit: bit,
    localhostNodePorts: (ipt["localhostNodePorts"] as boolean | undefined) ?? DEFAULTS.localhostNodePorts,
    nfacct: (kp["nfacct"] as boolean | undefined) ?? DEFAULTS.nfacct,
  };
}

/** The field path an apiserver error names (`spec.ports[0].port: …`), if any. */
function errorPath(cause: string): string {
  const m = /^([A-Za-z][\w.[\]]*?): /.exec(cause);
  return m ? (m[1] as string) : "";
}

/** Options of `buildTopology`. */
export interface BuildOptions {
  /** When pod sandboxes' devices are made (node/dataplane.ts `DataplaneOptions`); default "lazy". */
  readonly sandboxes?: "lazy" | "eager";
}

/** Builds and settles a topology. */
export function buildTopology(docs: TopologyDocs, opts: BuildOptions = {}): Topology {
  const issues: Issue[] = [];
  const clusterDoc: SourcedDoc = docs.cluster ?? { file: "<built-in default cluster>", doc: DEFAULT_CLUSTER as unknown as Record<string, unknown>, positions: { startLine: 1, lines: new Map() } };
  const resolved = resolveCluster(clusterDoc, issues);
  const manifests: { d: SourcedDoc; kind: Kind }[] = [];
  for (const d of docs.manifests) {
    const kind = d.doc["kind"] as string;
    if (!(KINDS as readonly string[]).includes(kind) || kind === "Event") {
      issues.push(issueAt(d, "kind", `podwire does not model kind "${kind}" (${KINDS.filter((k) => k !== "Event").join(", ")})`));
      continue;
    }
    manifests.push({ d, kind: kind as Kind });
  }
  if (issues.length > 0) throw new TopologyError(sortIssues(issues));
  const { networking } = resolved;
  const range = parsePortRange(networking.nodePortRange) as { base: number; last: number };
  const clock = createClock();
  const dataplane = new Dataplane(networking, resolved.nodes, resolved.hosts, clock, opts.sandboxes ? { sandboxes: opts.sandboxes } : {});
  const cluster = new Cluster({
    clock,
    network: (n) => dataplane.podNetwork(n),
    agents: dataplane.agents(),
    seed: networking.seed,
    serviceSubnet: networking.serviceSubnet,
    ...(networking.cni !== "docker0" ? { podSubnet: networking.podSubnet } : {}),
    nodeCidrMaskSize: networking.nodeCidrMaskSize,
    nodePortRange: range,
    ...(networking.loadBalancerPool ? { loadBalancerPool: networking.loadBalancerPool } : {}),
  });
  for (const n of resolved.nodes) cluster.addNode(n);
  dataplane.attach(cluster);
  const order = (k: Kind): number => KINDS.indexOf(k);
  const sorted = [...manifests].sort((a, b) => order(a.kind) - order(b.kind));
  const seen = new Map<string, SourcedDoc>();
  for (const { d, kind } of sorted) {
    const meta = rec(d.doc["metadata"]);
    const key = `${kind}/${isNamespaced(kind) ? (meta["namespace"] ?? "default") : ""}/${String(meta["name"])}`;
    const prev = seen.get(key);
    if (prev) {
      issues.push(issueAt(d, "metadata.name", `${kind} "${String(meta["name"])}" is also defined at ${prev.file}:${prev.positions.startLine}`));
      continue;
    }
    seen.set(key, d);
    try {
      cluster.api.create(d.doc as unknown as AnyObject);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const causes = e.causes.length > 0 ? e.causes : [e.message];
      const head = e.causes.length > 0 ? `${kind} "${String(meta["name"])}" is invalid: ` : "";
      for (const c of causes) issues.push(issueAt(d, errorPath(c), head + c.replace(/^[A-Za-z][\w.[\]]*?: /, "")));
    }
  }
  if (issues.length > 0) throw new TopologyError(sortIssues(issues));
  cluster.settle();
  const steps = docs.scenario ? runScenario(cluster, docs.scenario) : [];
  return { name: resolved.name, cluster, dataplane, networking, nodes: resolved.nodes, hosts: resolved.hosts, steps };
}
