/**
 * @module node/follow
 * What the node agents read from the cluster when a node is brought up to date (dataplane.ts
 * `ensure`): flanneld's subnet leases from the Node objects, the static routes to every other
 * node's pod subnet in `cni: bridge` mode (the kubenet layout), and the listening sockets of the
 * node's running containers.
 */
import { ip as ipOf, parseIpv4, type Ipv4, type Mac } from "../net/addr.js";
import { parseCidr, type Cidr } from "../net/cidr.js";
import type { NetNs } from "../kernel/netns.js";
import type { Pod } from "../cluster/api/types.js";
import type { Cluster } from "../cluster/cluster.js";
import { FLANNEL_ANNOTATIONS, type Lease } from "../cni/flannel.js";
import { podListens } from "./agents.js";

// Per cluster, the leases as of a store version: every node's sync reads the same ones.
const leasesMemo = new WeakMap<Cluster, { readonly version: number; readonly leases: Lease[] }>();

/** flannel's subnet leases, from the Nodes (computed again only after the cluster changed). */
export function flannelLeases(cluster: Cluster): Lease[] {
  const version = cluster.api.store.resourceVersion;
  const memo = leasesMemo.get(cluster);
  if (memo?.version === version) return memo.leases;
  const out: Lease[] = [];
  for (const n of cluster.list("Node")) {
    const sub = n.spec.podCIDR ? parseCidr(n.spec.podCIDR) : undefined;
    const pub = n.metadata.annotations?.[FLANNEL_ANNOTATIONS.publicIp];
    if (!sub?.ok || !pub) continue;
    const p = parseIpv4(pub);
    if (!p.ok) continue;
    let mac: Mac | undefined;
    try {
      mac = (JSON.parse(n.metadata.annotations?.[FLANNEL_ANNOTATIONS.backendData] ?? "null") as { VtepMAC?: Mac } | null)?.VtepMAC;
    } catch {
      mac = undefined;
    }
    out.push({ node: n.metadata.name, subnet: sub.value, publicIp: p.value, ...(mac ? { vtepMac: mac } : {}) });
  }
  leasesMemo.set(cluster, { version, leases: out });
  return out;
}

/**
 * `cni: bridge`: a route to each other node's podCIDR via its InternalIP on `nic`; `routes` holds
 * the ones made so far (by node name), and those whose node is gone are deleted.
 */
export function syncStaticRoutes(ns: NetNs, self: string, cluster: Cluster, routes: Map<string, Cidr>, nic: string): void {
  const want = new Map<string, { cidr: Cidr; via: Ipv4 }>();
  for (const n of cluster.list("Node")) {
    if (n.metadata.name === self || !n.spec.podCIDR) continue;
    const c = parseCidr(n.spec.podCIDR);
    const ipText = n.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
    if (!c.ok || !ipText) continue;
    want.set(n.metadata.name, { cidr: c.value, via: ipOf(ipText) });
  }
  for (const [name, c] of routes) {
    if (want.has(name)) continue;
    try {
      ns.routeDel(c);
    } catch {
      // gone with its device
    }
    routes.delete(name);
  }
  for (const [name, w] of want) {
    ns.routeReplace({ dst: w.cidr, via: w.via, dev: nic });
    routes.set(name, w.cidr);
  }
}

/**
 * The running containers' listening sockets: in the pod's namespace (`namespaces`: the network's,
 * its sandboxes already made), or the node's (`ns`) for hostNetwork pods.
 */
export function syncPodSockets(ns: NetNs, self: string, cluster: Cluster, namespaces: ReadonlyMap<string, NetNs>): void {
  const podLabel = (p: Pod): string => `pod/${p.metadata.namespace ?? "default"}/${p.metadata.name}`;
  const clear = (n: NetNs): void => {
    const keep = n.sockets.filter((s) => !s.label?.startsWith("pod/"));
    n.sockets.splice(0, n.sockets.length, ...keep);
  };
  clear(ns);
  for (const pod of cluster.podsOn(self)) {
    if (pod.status?.phase !== "Running") continue;
    const sb = cluster.kubelets.sandbox(`${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`);
    const target = pod.spec.hostNetwork ? ns : sb && namespaces.get(sb.netns);
    if (!target) continue;
    if (!pod.spec.hostNetwork) clear(target);
    for (const l of podListens(pod)) {
      try {
        target.listen(l.proto, 0 as Ipv4, l.port, { label: podLabel(pod), reply: l.proto === "udp" ? "echo" : "none" });
      } catch {
        // Two hostNetwork pods on one port: the second container cannot bind (it would crash-loop).
      }
    }
  }
}
