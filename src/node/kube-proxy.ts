/**
 * @module node/kube-proxy
 * kube-proxy on one node (iptables mode): its configuration as it reads it from the topology and
 * the host (KubeProxyConfiguration, the node's addresses and podCIDR), what it does once at start
 * (the canary chains, `route_localnet`, the jumps from the built-in chains, each ensured with
 * check-then-prepend), and a full sync (`iptables-restore --noflush` of `syncProxyRules`' text).
 */
import { formatIpv4 } from "../net/addr.js";
import { formatCidr } from "../net/cidr.js";
import type { NetNs } from "../kernel/netns.js";
import type { EndpointSlice, Node, Service } from "../cluster/api/types.js";
import type { Cluster } from "../cluster/cluster.js";
import { JUMP_CHAINS, syncProxyRules, type LocalDetector, type ProxierConfig, type ProxierInput } from "../kube-proxy/proxier.js";
import { ensureChain, ensureRule } from "./iptables-ensure.js";
import type { NodeDecl, NodeNetworking } from "./config.js";

/** The proxier's settings on a node. */
export function proxierConfig(cfg: NodeNetworking, decl: NodeDecl, ns: NetNs, node: Node | undefined): ProxierConfig {
  const kp = cfg.kubeProxy;
  const clusterCIDR = kp.clusterCIDR ?? formatCidr(cfg.podSubnet);
  let det: LocalDetector | undefined;
  switch (kp.detectLocalMode) {
    case "ClusterCIDR":
      det = clusterCIDR === "" ? undefined : { mode: "ClusterCIDR", cidr: clusterCIDR };
      break;
    case "NodeCIDR":
      det = node?.spec.podCIDR ? { mode: "NodeCIDR", cidr: node.spec.podCIDR } : undefined;
      break;
    case "BridgeInterface":
      det = { mode: "BridgeInterface", interface: kp.detectLocal?.bridgeInterface ?? cfg.bridge };
      break;
    case "InterfaceNamePrefix":
      det = { mode: "InterfaceNamePrefix", prefix: kp.detectLocal?.interfaceNamePrefix ?? "veth" };
      break;
  }
  const npa = kp.nodePortAddresses.map((c) => (c === "primary" ? `${decl.ip}/32` : c));
  return {
    nodeName: decl.name,
    nodeIP: decl.ip,
    nodeAddresses: ns.addrs.map((a) => ({ ip: formatIpv4(a.addr), loopback: a.addr >>> 24 === 127 })),
    ...(det ? { localDetector: det } : {}),
    masqueradeAll: kp.masqueradeAll,
    masqueradeBit: kp.masqueradeBit,
    localhostNodePorts: kp.localhostNodePorts,
    nodePortAddresses: npa,
    nfacct: kp.nfacct,
    randomFully: true,
  };
}

/** At start: the canaries, route_localnet (for localhost NodePorts) and the jumps. */
export function kubeProxyStart(ns: NetNs, cfg: ProxierConfig): void {
  for (const t of ["mangle", "nat", "filter"] as const) ensureChain(ns, t, "KUBE-PROXY-CANARY");
  if (cfg.localhostNodePorts) ns.sysctlSet("net.ipv4.conf.all.route_localnet", 1);
  for (const j of JUMP_CHAINS) {
    const dst = /-j (\S+)$/.exec(j.rule)?.[1] as string;
    ensureChain(ns, j.table, dst);
    ensureRule(ns, j.table, j.chain, j.rule, "prepend");
  }
}

/**
 * One full sync: the restore text for the cluster's Services and EndpointSlices, restored with
 * `--noflush`. Returns the sync's inputs: the store hands out immutable snapshots, so keeping them
 * (not the text) is enough to make the text again when it is read.
 */
export function kubeProxySync(ns: NetNs, cfg: ProxierConfig, cluster: Cluster): { readonly input: ProxierInput; readonly cfg: ProxierConfig } {
  const existing = [...(ns.ruleset.tables.get("nat")?.chains.keys() ?? [])];
  const input: ProxierInput = { services: cluster.list("Service") as Service[], endpointSlices: cluster.list("EndpointSlice") as EndpointSlice[], existingNatChains: existing };
  const out = syncProxyRules(input, cfg);
  ns.iptablesRestore(out.lines, { noflush: true, source: "kube-proxy", replay: () => syncProxyRules(input, cfg).restore });
  return { input, cfg };
}
