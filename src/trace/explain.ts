/**
 * @module trace/explain
 * The closing explanation of a trace, in Kubernetes terms: which Service an address is, which
 * endpoint kube-proxy chose, why the packet was masqueraded, how it crossed nodes, and — for a
 * drop — the sentence a network engineer would say ("Service default/web has no ready endpoints →
 * REJECT in filter KUBE-SERVICES"). It reads the trace's hops and the cluster's objects; it
 * decides nothing.
 */
import type { Service } from "../cluster/api/types.js";
import { formatIpv4 } from "../net/addr.js";
import type { Tuple } from "../net/tuple.js";
import type { Topology } from "../topology/build.js";
import { nodeByIp, podByIp } from "./endpoints.js";
import type { PathOutcome } from "./tracer.js";

// The Services by the addresses and node ports they answer on, in list order (the first wins, as a
// scan of the list finds it), computed again only after the cluster changed.
const serviceIndex = new WeakMap<Topology, { readonly version: number; readonly byIp: ReadonlyMap<string, Service>; readonly byNodePort: ReadonlyMap<number, Service> }>();

function servicesOf(t: Topology): { readonly byIp: ReadonlyMap<string, Service>; readonly byNodePort: ReadonlyMap<number, Service> } {
  const version = t.cluster.api.store.resourceVersion;
  const hit = serviceIndex.get(t);
  if (hit?.version === version) return hit;
  const byIp = new Map<string, Service>();
  const byNodePort = new Map<number, Service>();
  for (const s of t.cluster.list("Service") as Service[]) {
    for (const ip of [s.spec.clusterIP, ...(s.spec.externalIPs ?? []), ...(s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip)]) if (ip !== undefined && !byIp.has(ip)) byIp.set(ip, s);
    for (const p of s.spec.ports ?? []) if (p.nodePort !== undefined && !byNodePort.has(p.nodePort)) byNodePort.set(p.nodePort, s);
  }
  const ix = { version, byIp, byNodePort };
  serviceIndex.set(t, ix);
  return ix;
}

function serviceOf(t: Topology, ip: string, port: number | null): string | undefined {
  const s = servicesOf(t).byIp.get(ip);
  if (!s) return undefined;
  const sp = s.spec.ports?.find((p) => p.port === port);
  const kind = s.spec.clusterIP === ip ? "cluster IP" : (s.spec.externalIPs ?? []).includes(ip) ? "external IP" : "load-balancer address";
  return `${ip}${port !== null ? `:${port}` : ""} is the ${kind} of Service ${s.metadata.namespace ?? "default"}/${s.metadata.name}${sp?.name ? ` (port ${sp.name})` : ""}`;
}

function nodePortOf(t: Topology, port: number | null): string | undefined {
  if (port === null) return undefined;
  const s = servicesOf(t).byNodePort.get(port);
  return s ? `port ${port} is NodePort ${port} of Service ${s.metadata.namespace ?? "default"}/${s.metadata.name} (externalTrafficPolicy: ${s.spec.externalTrafficPolicy ?? "Cluster"})` : undefined;
}

function podOf(t: Topology, ip: string): string | undefined {
  const p = podByIp(t, ip);
  return p ? `pod ${p.namespace ?? "default"}/${p.name} on ${p.node ?? "?"}` : undefined;
}

const comment = (rule: string | undefined): string => /--comment (?:"((?:[^"\\]|\\.)*)"|(\S+))/.exec(rule ?? "")?.slice(1).find((x) => x !== undefined) ?? "";

/** The explanation lines of one path. */
export function explain(t: Topology, o: Omit<PathOutcome, "explanation">, tuple: Tuple): string[] {
  const out: string[] = [];
  const dst = formatIpv4(tuple.dst);
  const dport = tuple.proto === "icmp" ? null : tuple.dport;
  const svc = serviceOf(t, dst, dport);
  if (svc) out.push(svc);
  else {
    const node = nodeByIp(t, dst);
    const np = node && nodePortOf(t, dport);
    if (node && np) out.push(`${dst} is node ${node.name}; ${np}`);
  }
  for (const n of o.nat) {
    if (n.type === "DNAT") {
      const toIp = n.to.split(":")[0] ?? "";
      const toNode = nodeByIp(t, toIp);
      const who = podOf(t, toIp) ?? (toNode ? `node ${toNode.name}` : undefined);
      const chain = /^-A (\S+)/.exec(n.rule ?? "")?.[1] ?? "";
      out.push(`${n.node ? `kube-proxy's rules on ${n.node}` : "A DNAT rule"} sent it to ${n.to}${who ? ` (${who})` : ""}${chain.startsWith("KUBE-SEP-") ? ` via ${chain}` : ""}`);
    } else {
      const masqBy = o.hops.flatMap((h) => h.rules ?? []).filter((r) => r.verdict === "jump KUBE-MARK-MASQ").map((r) => r.chain);
      const why = masqBy.some((c) => c.startsWith("KUBE-SEP-"))
        ? "the pod reached itself through its Service (hairpin), so kube-proxy masquerades it"
        : masqBy.some((c) => c.startsWith("KUBE-EXT-"))
          ? "kube-proxy masquerades traffic to external destinations of a Service with externalTrafficPolicy: Cluster (or from the node itself)"
          : masqBy.some((c) => c.startsWith("KUBE-SVC-") || c.startsWith("KUBE-SVL-"))
            ? "the source is outside the cluster CIDR, so kube-proxy masquerades traffic to the cluster IP"
            : /flanneld masq/.test(n.rule ?? "")
              ? "flannel masquerades pod traffic leaving the pod network (FLANNEL-POSTRTG)"
              : /CNI-/.test(n.rule ?? "")
                ? "the bridge plugin's ipMasq chain masquerades pod traffic leaving the pod network"
                : /MASQUERADE/.test(n.rule ?? "") && /docker0|172\.17/.test(n.rule ?? "")
                  ? "Docker masquerades container traffic leaving docker0"
                  : "a source NAT rule matched";
      out.push(`${n.type === "MASQUERADE" ? "Masqueraded" : "Source-NATed"} on ${n.node ?? "?"} from ${n.from} to ${n.to}: ${why}`);
    }
  }
  const encap = o.hops.find((h) => h.event === "vxlan encap");
  if (encap) {
    const decap = o.hops.find((h) => h.event === "vxlan decap");
    out.push(`Crossed from ${encap.node ?? "?"} to ${decap?.node ?? "?"} over flannel's VXLAN (${encap.detail.replace(/^[^:]+: /, "")})`);
  }
  const d = o.drop;
  if (o.verdict === "delivered" && o.delivered) {
    const dl = o.delivered;
    const who = dl.kind === "pod" ? `pod ${dl.namespace}/${dl.name} on ${dl.node ?? "?"}` : `${dl.kind} ${dl.name}`;
    out.push(`Delivered to ${who} (${dl.socket === "kernel" ? "the kernel answered" : `socket ${dl.socket}`}), which saw the source ${o.observedSource?.ip ?? "?"}${o.observedSource?.port != null ? `:${o.observedSource.port}` : ""}`);
    if (o.reply?.verdict === "delivered") out.push(`The ${o.reply.what} came back from ${o.reply.observedSource?.ip ?? "?"}${o.reply.observedSource?.port != null ? `:${o.reply.observedSource.port}` : ""}${o.nat.length > 0 ? " (conntrack undid the NAT on the way back)" : ""}`);
    else if (o.reply && o.reply.verdict !== "none") out.push(`The ${o.reply.what} was ${o.reply.verdict}: ${o.reply.drop?.reason ?? "?"}`);
  } else if (d) {
    const c = comment(d.rule);
    const at = d.node ?? d.netns;
    const svcName = c.split(/[ :]/)[0] ?? "";
    if (c.includes("has no endpoints")) out.push(`Service ${svcName} has no ready endpoints → ${o.verdict === "rejected" ? "REJECT" : "DROP"} in ${d.table ?? "filter"} ${d.chain ?? ""} on ${at}`);
    else if (c.includes("has no local endpoints")) {
      const itp = d.chain === "KUBE-SERVICES";
      out.push(`${itp ? "internalTrafficPolicy" : "externalTrafficPolicy"}: Local and no local endpoint of Service ${svcName} on ${at} → dropped (${d.table} ${d.chain})`);
    } else if (c.includes("traffic not accepted by KUBE-FW")) out.push(`The source ${formatIpv4(tuple.src)} is not in Service ${svcName}'s loadBalancerSourceRanges → dropped in filter KUBE-PROXY-FIREWALL on ${at}`);
    else if (d.rule?.startsWith("-P ")) out.push(`${d.table} ${d.chain} on ${at} has policy ${d.rule.split(" ")[2] ?? "DROP"} and no rule accepted the packet${d.chain === "FORWARD" ? " (Docker sets FORWARD to DROP when it turns ip_forward on)" : ""}`);
    else if (d.stage === "netfilter") out.push(`Dropped by ${d.table} ${d.chain} on ${at}: ${d.rule ?? d.reason}`);
    else if (o.verdict === "rejected" && d.stage === "socket") out.push(`Refused: nothing listens on ${dst}${dport !== null ? `:${dport}` : ""} where it arrived (a wrong targetPort or containerPort?)`);
    else if (d.stage === "route" && /forwarding/.test(d.reason)) out.push(`${at} does not forward: net.ipv4.ip_forward is 0 there`);
    else out.push(`${o.verdict === "no-route" ? "No route" : "Dropped"} on ${at} (${d.stage}): ${d.reason}`);
  }
  return out;
}
