/**
 * @module trace/endpoints
 * What `--from` and `--to` name (CLI.md "trace"), resolved against a built topology: the
 * namespace a packet starts in (a pod's sandbox, a node, an external host, or a bare address
 * arriving at a node's NIC with `--at`) and the address and port it is sent to (an address, a
 * Service's cluster IP or load-balancer address, a pod, a node, a host, or a cluster DNS name
 * resolved as CoreDNS would). Problems are thrown as `TraceInputError` naming the flag.
 */
import { formatIpv4, parseIpv4, type Ipv4 } from "../net/addr.js";
import type { Pod, Service } from "../cluster/api/types.js";
import type { Topology } from "../topology/build.js";

/** A bad `--from`/`--to`/`--at`: one line naming the flag. */
export class TraceInputError extends Error {
  override readonly name = "TraceInputError";
}

/** A machine or pod a namespace belongs to. */
export interface Place {
  readonly kind: "pod" | "node" | "host";
  readonly name: string;
  readonly namespace?: string;
  /** The node a pod runs on (a node's own name for a node). */
  readonly node?: string;
  readonly ip: string;
}

/** Where the packet starts. */
export type Source =
  | { readonly kind: "socket"; readonly netns: string; readonly place: Place }
  | { readonly kind: "wire"; readonly node: string; readonly ip: Ipv4 };

/** Where it is sent. */
export interface Destination {
  readonly ip: Ipv4;
  readonly port?: number;
  /** How the user named it (`svc/default/web:80`). */
  readonly label: string;
}

const placesCache = new WeakMap<Topology, { readonly version: number; readonly map: ReadonlyMap<string, Place> }>();

/** Every namespace of the topology, by name (computed again only after the cluster changed). */
export function places(t: Topology): ReadonlyMap<string, Place> {
  const version = t.cluster.api.store.resourceVersion;
  const hit = placesCache.get(t);
  if (hit?.version === version) return hit.map;
  const m = new Map<string, Place>();
  for (const n of t.nodes) m.set(n.name, { kind: "node", name: n.name, node: n.name, ip: n.ip });
  for (const h of t.hosts) m.set(h.name, { kind: "host", name: h.name, ip: h.ip });
  for (const p of t.cluster.list("Pod") as Pod[]) {
    const ns = p.metadata.namespace ?? "default";
    const sb = t.cluster.kubelets.sandbox(`${ns}/${p.metadata.name}`);
    if (!sb || p.spec.hostNetwork) continue;
    m.set(sb.netns, { kind: "pod", name: p.metadata.name, namespace: ns, ...(p.spec.nodeName ? { node: p.spec.nodeName } : {}), ip: p.status?.podIP ?? sb.ip ?? "" });
  }
  placesCache.set(t, { version, map: m });
  return m;
}

const podIpCache = new WeakMap<ReadonlyMap<string, Place>, ReadonlyMap<string, Place>>();

/** The pod (not hostNetwork) that has `ip`, from places(). */
export function podByIp(t: Topology, ip: string): Place | undefined {
  const all = places(t);
  let m = podIpCache.get(all);
  if (!m) {
    const byIp = new Map<string, Place>();
    for (const p of all.values()) if (p.kind === "pod" && p.ip && !byIp.has(p.ip)) byIp.set(p.ip, p);
    podIpCache.set(all, byIp);
    m = byIp;
  }
  return m.get(ip);
}

function splitRef(ref: string): [string, string] {
  const i = ref.indexOf("/");
  return i < 0 ? ["default", ref] : [ref.slice(0, i), ref.slice(i + 1)];
}

function pod(t: Topology, flag: string, ref: string): Pod {
  const [ns, name] = splitRef(ref);
  const p = t.cluster.get("Pod", `${ns}/${name}`);
  if (!p) {
    const known = (t.cluster.list("Pod") as Pod[]).map((x) => `${x.metadata.namespace ?? "default"}/${x.metadata.name}`);
    throw new TraceInputError(`${flag}: no pod "${ns}/${name}" in the topology (pods: ${known.join(", ") || "none"})`);
  }
  return p;
}

type TopologyNode = Topology["nodes"][number];
// A topology's nodes by name and by address (the first with it, as a scan finds it); the list is fixed when the topology is built.
const nodeIndexes = new WeakMap<Topology["nodes"], { readonly byName: ReadonlyMap<string, TopologyNode>; readonly byIp: ReadonlyMap<string, TopologyNode> }>();

function nodeIndex(t: Topology): { readonly byName: ReadonlyMap<string, TopologyNode>; readonly byIp: ReadonlyMap<string, TopologyNode> } {
  let ix = nodeIndexes.get(t.nodes);
  if (!ix) {
    const byName = new Map<string, TopologyNode>();
    const byIp = new Map<string, TopologyNode>();
    for (const n of t.nodes) {
      if (!byName.has(n.name)) byName.set(n.name, n);
      if (!byIp.has(n.ip)) byIp.set(n.ip, n);
    }
    nodeIndexes.set(t.nodes, (ix = { byName, byIp }));
  }
  return ix;
}

/** The node with address `ip`, if any (a topology of 5,000 nodes is not scanned per trace). */
export function nodeByIp(t: Topology, ip: string): TopologyNode | undefined {
  return nodeIndex(t).byIp.get(ip);
}

function node(t: Topology, flag: string, name: string): TopologyNode {
  const n = nodeIndex(t).byName.get(name);
  if (!n) throw new TraceInputError(`${flag}: no node "${name}" in the topology (nodes: ${t.nodes.map((x) => x.name).join(", ")})`);
  return n;
}

function host(t: Topology, flag: string, name: string): (typeof t.hosts)[number] {
  const h = t.hosts.find((x) => x.name === name);
  if (!h) throw new TraceInputError(`${flag}: no host "${name}" in the topology (hosts: ${t.hosts.map((x) => x.name).join(", ") || "none"})`);
  return h;
}

function service(t: Topology, flag: string, ref: string): Service {
  const [ns, name] = splitRef(ref);
  const s = t.cluster.get("Service", `${ns}/${name}`);
  if (!s) throw new TraceInputError(`${flag}: no Service "${ns}/${name}" in the topology`);
  return s;
}

function addr(flag: string, text: string): Ipv4 {
  const a = parseIpv4(text);
  if (!a.ok) throw new TraceInputError(`${flag}: ${a.error}`);
  return a.value;
}

/** `--from`. */
export function resolveSource(t: Topology, from: string, at: string | undefined): Source {
  const all = places(t);
  const byIp = (ip: string): [string, Place] | undefined => [...all].find(([, p]) => p.ip === ip);
  if (from.startsWith("pod/")) {
    const p = pod(t, "--from", from.slice(4));
    const key = `${p.metadata.namespace ?? "default"}/${p.metadata.name}`;
    if (p.spec.hostNetwork) return { kind: "socket", netns: p.spec.nodeName as string, place: all.get(p.spec.nodeName as string) as Place };
    const sb = t.cluster.kubelets.sandbox(key);
    if (sb) t.dataplane.prepare(sb.netns);
    if (!sb || !t.dataplane.net.namespaces.has(sb.netns)) throw new TraceInputError(`--from: pod "${key}" has no network sandbox (status ${p.status?.phase ?? "Pending"}; see \`podwire get events\`)`);
    return { kind: "socket", netns: sb.netns, place: all.get(sb.netns) as Place };
  }
  if (from.startsWith("node/")) {
    const n = node(t, "--from", from.slice(5));
    return { kind: "socket", netns: n.name, place: all.get(n.name) as Place };
  }
  if (from.startsWith("host/")) {
    const h = host(t, "--from", from.slice(5));
    return { kind: "socket", netns: h.name, place: all.get(h.name) as Place };
  }
  const ip = addr("--from", from);
  const known = byIp(formatIpv4(ip));
  if (known && at === undefined) return { kind: "socket", netns: known[0], place: known[1] };
  if (at === undefined) throw new TraceInputError(`--from: ${from} belongs to no pod, node or host; say where it enters with --at node/NAME`);
  if (!at.startsWith("node/")) throw new TraceInputError(`--at: "${at}" must be node/NAME`);
  return { kind: "wire", node: node(t, "--at", at.slice(5)).name, ip };
}

function port(flag: string, text: string | undefined, proto: string): number | undefined {
  if (proto === "icmp") {
    if (text !== undefined) throw new TraceInputError(`${flag}: icmp has no port (drop ":${text}")`);
    return undefined;
  }
  if (text === undefined) throw new TraceInputError(`${flag}: needs a port (…:PORT) for ${proto}`);
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw new TraceInputError(`${flag}: port "${text}" must be 1–65535`);
  return Number(text);
}

/** `--to`. */
export function resolveDestination(t: Topology, to: string, proto: string): Destination {
  const m = /^(.*?)(?::([^:/]*))?$/.exec(to) as RegExpExecArray;
  const target = m[1] as string;
  const p = port("--to", m[2], proto);
  const mk = (ip: Ipv4): Destination => ({ ip, ...(p !== undefined ? { port: p } : {}), label: to });
  if (target.startsWith("svc/")) {
    const s = service(t, "--to", target.slice(4));
    if (!s.spec.clusterIP || s.spec.clusterIP === "None") throw new TraceInputError(`--to: Service "${target.slice(4)}" is headless (clusterIP: None); trace to one of its pods instead`);
    return mk(addr("--to", s.spec.clusterIP));
  }
  if (target.startsWith("lb/")) {
    const s = service(t, "--to", target.slice(3));
    const ing = s.status?.loadBalancer?.ingress?.find((i) => i.ip)?.ip;
    if (!ing) throw new TraceInputError(`--to: Service "${s.metadata.namespace ?? "default"}/${s.metadata.name}" has no load-balancer address (${s.spec.type === "LoadBalancer" ? "<pending>: give networking.loadBalancer.pool" : `type ${s.spec.type ?? "ClusterIP"}`})`);
    return mk(addr("--to", ing));
  }
  if (target.startsWith("pod/")) {
    const pp = pod(t, "--to", target.slice(4));
    if (!pp.status?.podIP) throw new TraceInputError(`--to: pod "${target.slice(4)}" has no IP yet`);
    return mk(addr("--to", pp.status.podIP));
  }
  if (target.startsWith("node/")) return mk(addr("--to", node(t, "--to", target.slice(5)).ip));
  if (target.startsWith("host/")) return mk(addr("--to", host(t, "--to", target.slice(5)).ip));
  const dns = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?\.?$/.exec(target);
  if (dns) {
    const s = service(t, "--to", `${dns[2]}/${dns[1]}`);
    if (!s.spec.clusterIP || s.spec.clusterIP === "None") throw new TraceInputError(`--to: ${target} is a headless Service; CoreDNS answers with its pods' addresses, so trace to a pod`);
    return mk(addr("--to", s.spec.clusterIP));
  }
  return mk(addr("--to", target));
}
