/**
 * @module node/load-balancer
 * The load balancer in front of the cluster: for each LoadBalancer ingress address, the external
 * hosts route it to one node, destination unchanged (as MetalLB's L2 announcement or a
 * passthrough cloud LB delivers it), and that node's kube-proxy rules decide. The node is the
 * first by name that is Ready, schedulable and not excluded from external load balancers
 * (`node.kubernetes.io/exclude-from-external-load-balancers`), and for externalTrafficPolicy
 * Local one with a ready local endpoint (MetalLB announces only from those).
 */
import { ip as ipOf, type Ipv4 } from "../net/addr.js";
import type { Network } from "../kernel/network.js";
import type { EndpointSlice, Node, Service } from "../cluster/api/types.js";
import type { Cluster } from "../cluster/cluster.js";

/** The external hosts' routes to the cluster's load-balancer addresses. */
export class LoadBalancer {
  private routes = new Map<string, { readonly node: string; readonly via: Ipv4 }>();
  private byVip: ReadonlyMap<string, string> = new Map();

  constructor(
    private readonly net: Network,
    private readonly hosts: readonly string[],
    private readonly nic: string,
  ) {}

  /** Routes every ingress address to its node on each external host (and drops the stale ones). */
  sync(cluster: Cluster): void {
    const want = new Map<string, { node: string; via: Ipv4 }>();
    const nodes = (cluster.list("Node") as Node[])
      .filter((n) => n.status?.conditions?.find((c) => c.type === "Ready")?.status === "True" && n.metadata.labels?.["node.kubernetes.io/exclude-from-external-load-balancers"] === undefined)
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    // The nodes with a ready endpoint, per Service.
    const ready = new Map<string, Set<string>>();
    for (const s of cluster.list("EndpointSlice") as EndpointSlice[]) {
      const svc = s.metadata.labels?.["kubernetes.io/service-name"];
      if (svc === undefined) continue;
      const key = `${s.metadata.namespace ?? "default"}/${svc}`;
      const set = ready.get(key) ?? new Set<string>();
      for (const e of s.endpoints) if (e.conditions?.ready !== false && e.nodeName) set.add(e.nodeName);
      ready.set(key, set);
    }
    for (const svc of cluster.list("Service") as Service[]) {
      if (svc.spec.type !== "LoadBalancer") continue;
      const local = ready.get(`${svc.metadata.namespace ?? "default"}/${svc.metadata.name}`);
      const node = nodes.find((n) => svc.spec.externalTrafficPolicy !== "Local" || local?.has(n.metadata.name) === true);
      const ipText = node?.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
      if (!node || !ipText) continue;
      for (const ing of svc.status?.loadBalancer?.ingress ?? []) if (ing.ip) want.set(ing.ip, { node: node.metadata.name, via: ipOf(ipText) });
    }
    for (const h of this.hosts) {
      const ns = this.net.ns(h);
      for (const [vip] of this.routes) if (!want.has(vip)) ns.routeDel({ addr: ipOf(vip), len: 32 });
      for (const [vip, w] of want) ns.routeReplace({ dst: { addr: ipOf(vip), len: 32 }, via: w.via, dev: this.nic });
    }
    this.routes = want;
    this.byVip = new Map([...want].map(([vip, r]) => [vip, r.node]));
  }

  /** Every ingress address routed, and the node it goes to. */
  nodes(): ReadonlyMap<string, string> {
    return this.byVip;
  }
}
