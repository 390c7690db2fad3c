/**
 * @module kube-proxy/proxier
 * kube-proxy's iptables proxier (v1.32–v1.33): `syncProxyRules` turns the service ports and their
 * endpoints into the `iptables-restore --noflush` input the real one writes in a full sync — the
 * same chains, rules, comments, match order and number formats (kube-proxy.md §1–§4) — and lists
 * the jumps from the built-in chains that it ensures with `iptables -C`/`-I … 1` before restoring.
 *
 * The one liberty: the real proxier walks its service map in Go's random map order, so the order
 * of service ports in its output differs run to run. podwire walks them sorted by service-port name
 * (then protocol), which is one of the orders the real one can produce.
 * @see k8s.io/kubernetes/pkg/proxy/iptables/proxier.go (syncProxyRules, writeServiceToEndpointRules)
 */
import type { EndpointSlice, Service } from "../cluster/api/types.js";
import { goHex08, probability, SERVICE_CHAIN_PREFIXES } from "./names.js";
import { categorizeEndpoints, endpointsByServicePort, servicePortKey, servicePorts, usesClusterEndpoints, usesLocalEndpoints, type EndpointInfo, type ServicePortInfo } from "./service-ports.js";

/** How kube-proxy tells pod traffic from other traffic (`--detect-local-mode`). */
export type LocalDetector =
  | { readonly mode: "ClusterCIDR" | "NodeCIDR"; readonly cidr: string }
  | { readonly mode: "BridgeInterface"; readonly interface: string }
  | { readonly mode: "InterfaceNamePrefix"; readonly prefix: string };

/** The proxier's settings on one node (KubeProxyConfiguration + what it learns from the host). */
export interface ProxierConfig {
  readonly nodeName: string;
  /** The node's primary IP (`--bind-address`/node InternalIP): for loadBalancerSourceRanges' allowFromNode. */
  readonly nodeIP: string;
  /** The node's addresses, for `nodePortAddresses` (ignored when it is empty: match all). */
  readonly nodeAddresses?: readonly { readonly ip: string; readonly loopback?: boolean }[];
  /** undefined = no local-traffic detector (`clusterCIDR: ""`). */
  readonly localDetector?: LocalDetector;
  readonly masqueradeAll?: boolean;
  /** `iptables.masqueradeBit` (default 14). */
  readonly masqueradeBit?: number;
  /** The mark as written; default Go's `%#08x` of 1<<bit (`0x00004000`). kube-proxy's unit tests set `0x4000`. */
  readonly masqueradeMark?: string;
  readonly localhostNodePorts?: boolean;
  /** `nodePortAddresses` CIDRs (already resolved: "primary" → the node IP's /32). */
  readonly nodePortAddresses?: readonly string[];
  /** Whether the nfacct counters could be created (kernel has nfnetlink_acct). Default true. */
  readonly nfacct?: boolean;
  /** Whether the iptables binary supports `--random-fully` (iptables ≥ 1.6.2). Default true. */
  readonly randomFully?: boolean;
  /** `net.netfilter.nf_conntrack_tcp_be_liberal` ≠ 0: the INVALID drop rule is not written. */
  readonly conntrackTcpLiberal?: boolean;
}

/** What one sync writes. */
export interface ProxierInput {
  readonly services: readonly Service[];
  readonly endpointSlices: readonly EndpointSlice[];
  /** nat chains present before the sync (from `iptables-save -t nat`), for the stale-chain cleanup. */
  readonly existingNatChains?: readonly string[];
}

/** A jump from a built-in chain, ensured with check-then-prepend. */
export interface JumpRule {
  readonly table: "filter" | "nat";
  readonly chain: string;
  /** The rule after `-A CHAIN` / `-I CHAIN 1`. */
  readonly rule: string;
}

/** The output of a sync. */
export interface ProxierOutput {
  /** The `iptables-restore --noflush --counters` input. */
  readonly restore: string;
  /** The jumps ensured before it, in the order kube-proxy ensures them (each is prepended). */
  readonly jumps: readonly JumpRule[];
  /** Total endpoints across service ports (large-cluster mode above 1000). */
  readonly endpointCount: number;
}

/** `largeClusterEndpointsThreshold`. */
export const LARGE_CLUSTER_ENDPOINTS = 1000;

/** kube-proxy's jumps (`iptablesJumpChains` then `iptablesKubeletJumpChains`), in ensure order. */
export const JUMP_CHAINS: readonly JumpRule[] = [
  { table: "filter", chain: "INPUT", rule: `-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES` },
  { table: "filter", chain: "FORWARD", rule: `-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES` },
  { table: "filter", chain: "INPUT", rule: `-m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS` },
  { table: "filter", chain: "FORWARD", rule: `-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES` },
  { table: "filter", chain: "OUTPUT", rule: `-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES` },
  { table: "filter", chain: "FORWARD", rule: `-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD` },
  { table: "filter", chain: "INPUT", rule: `-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL` },
  { table: "filter", chain: "OUTPUT", rule: `-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL` },
  { table: "filter", chain: "FORWARD", rule: `-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL` },
  { table: "nat", chain: "OUTPUT", rule: `-m comment --comment "kubernetes service portals" -j KUBE-SERVICES` },
  { table: "nat", chain: "PREROUTING", rule: `-m comment --comment "kubernetes service portals" -j KUBE-SERVICES` },
  { table: "nat", chain: "POSTROUTING", rule: `-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING` },
  { table: "filter", chain: "INPUT", rule: `-j KUBE-FIREWALL` },
  { table: "filter", chain: "OUTPUT", rule: `-j KUBE-FIREWALL` },
];

const q = (s: string): string => `"${s}"`;

function ifLocal(d: LocalDetector): string {
  switch (d.mode) {
    case "ClusterCIDR":
    case "NodeCIDR":
      return `-s ${d.cidr}`;
    case "BridgeInterface":
      return `-i ${d.interface}`;
    case "InterfaceNamePrefix":
      return `-i ${d.prefix}+`;
  }
}

const ifNotLocal = (d: LocalDetector): string => `! ${ifLocal(d)}`;

function cidrContains(cidr: string, ip: string): boolean {
  const [a = "", l = "32"] = cidr.split("/");
  const n = (s: string): number => s.split(".").reduce((v, o) => v * 256 + Number(o), 0);
  const len = Number(l);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return ((n(a) & mask) >>> 0) === ((n(ip) & mask) >>> 0);
}

/** Runs one full sync. */
export function syncProxyRules(input: ProxierInput, cfg: ProxierConfig): ProxierOutput {
  const mark = cfg.masqueradeMark ?? goHex08(1 << (cfg.masqueradeBit ?? 14));
  const localhostNodePorts = cfg.localhostNodePorts ?? true;
  const nfacct = cfg.nfacct ?? true;
  const det = cfg.localDetector;
  const filterChains: string[] = [];
  const filterRules: string[] = [];
  const natChains: string[] = [];
  const natRules: string[] = [];
  const chainLine = (c: string): string => `:${c} - [0:0]`;

  for (const c of ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL"]) filterChains.push(chainLine(c));
  for (const c of ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]) natChains.push(chainLine(c));
  natRules.push(`-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`);
  natRules.push(`-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`);
  natRules.push(`-A KUBE-POSTROUTING -m comment --comment ${q("kubernetes service traffic requiring SNAT")} -j MASQUERADE${cfg.randomFully === false ? "" : " --random-fully"}`);
  natRules.push(`-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`);
  if (localhostNodePorts) {
    filterChains.push(chainLine("KUBE-FIREWALL"));
    filterRules.push(`-A KUBE-FIREWALL -m comment --comment ${q("block incoming localnet connections")} -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`);
  }

  const ports = servicePorts(input.services).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
  const endpoints = endpointsByServicePort(input.endpointSlices, cfg.nodeName);
  let endpointCount = 0;
  for (const sp of ports) endpointCount += endpoints.get(servicePortKey(sp))?.length ?? 0;
  const large = endpointCount > LARGE_CLUSTER_ENDPOINTS;
  const comment = (text: string): string => (large ? "" : ` -m comment --comment ${text}`);
  const active = new Set<string>(["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]);

  for (const sp of ports) {
    writeServicePort(sp, endpoints.get(servicePortKey(sp)) ?? []);
  }

  function writeServicePort(sp: ServicePortInfo, eps: readonly EndpointInfo[]): void {
    const p = sp.protocol;
    const spn = sp.name;
    const proto = `-m ${p} -p ${p}`;
    const { cluster, local, reachable, hasAny } = categorizeEndpoints(eps, sp);
    const usesCluster = cluster.length > 0 && usesClusterEndpoints(sp);
    const usesLocal = local.length > 0 && usesLocalEndpoints(sp);
    const internalChain = sp.internalPolicyLocal ? sp.chains.svl : sp.chains.svc;
    const hasInternal = sp.internalPolicyLocal ? hasAny && local.length > 0 : hasAny;
    const externalPolicyChain = sp.externalPolicyLocal ? sp.chains.svl : sp.chains.svc;
    const hasExternal = sp.externalPolicyLocal ? hasAny && local.length > 0 : hasAny;
    const usesExt = hasAny && sp.externallyAccessible;
    const usesFw = hasAny && sp.loadBalancerVIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
    const lbChain = usesFw ? sp.chains.fw : sp.chains.ext;
    let intTarget = "";
    let intComment = "";
    let extTarget = "";
    let extComment = "";
    if (!hasAny) {
      intTarget = extTarget = "REJECT";
      intComment = extComment = q(`${spn} has no endpoints`);
    } else {
      if (!hasInternal) {
        intTarget = "DROP";
        intComment = q(`${spn} has no local endpoints`);
      }
      if (!hasExternal) {
        extTarget = "DROP";
        extComment = q(`${spn} has no local endpoints`);
      }
    }
    const dport = `--dport ${sp.port}`;
    if (hasInternal) natRules.push(`-A KUBE-SERVICES -m comment --comment ${q(`${spn} cluster IP`)} ${proto} -d ${sp.clusterIP} ${dport} -j ${internalChain}`);
    else filterRules.push(`-A KUBE-SERVICES -m comment --comment ${intComment} ${proto} -d ${sp.clusterIP} ${dport} -j ${intTarget}`);
    for (const ip of sp.externalIPs) {
      if (hasAny) natRules.push(`-A KUBE-SERVICES -m comment --comment ${q(`${spn} external IP`)} ${proto} -d ${ip} ${dport} -j ${sp.chains.ext}`);
      if (!hasExternal) filterRules.push(`-A KUBE-EXTERNAL-SERVICES -m comment --comment ${extComment} ${proto} -d ${ip} ${dport} -j ${extTarget}`);
    }
    for (const ip of sp.loadBalancerVIPs) {
      if (hasAny) natRules.push(`-A KUBE-SERVICES -m comment --comment ${q(`${spn} loadbalancer IP`)} ${proto} -d ${ip} ${dport} -j ${lbChain}`);
      if (usesFw) filterRules.push(`-A KUBE-PROXY-FIREWALL -m comment --comment ${q(`${spn} traffic not accepted by ${sp.chains.fw}`)} ${proto} -d ${ip} ${dport} -j DROP`);
    }
    if (!hasExternal) for (const ip of sp.loadBalancerVIPs) filterRules.push(`-A KUBE-EXTERNAL-SERVICES -m comment --comment ${extComment} ${proto} -d ${ip} ${dport} -j ${extTarget}`);
    if (sp.nodePort !== 0) {
      if (hasAny) {
        if (localhostNodePorts && nfacct) natRules.push(`-A KUBE-NODEPORTS -m comment --comment ${spn} ${proto} -d 127.0.0.0/8 --dport ${sp.nodePort} -m nfacct --nfacct-name localhost_nps_accepted_pkts -j ${sp.chains.ext}`);
        natRules.push(`-A KUBE-NODEPORTS -m comment --comment ${spn} ${proto} --dport ${sp.nodePort} -j ${sp.chains.ext}`);
      }
      if (!hasExternal) filterRules.push(`-A KUBE-EXTERNAL-SERVICES -m comment --comment ${extComment} -m addrtype --dst-type LOCAL ${proto} --dport ${sp.nodePort} -j ${extTarget}`);
    }
    if (sp.healthCheckNodePort !== 0) filterRules.push(`-A KUBE-NODEPORTS -m comment --comment ${q(`${spn} health check node port`)} -m tcp -p tcp --dport ${sp.healthCheckNodePort} -j ACCEPT`);

    if (hasInternal) {
      const args = `-m comment --comment ${q(`${spn} cluster IP`)} ${proto} -d ${sp.clusterIP} ${dport}`;
      if (cfg.masqueradeAll) natRules.push(`-A ${internalChain} ${args} -j KUBE-MARK-MASQ`);
      else if (det) natRules.push(`-A ${internalChain} ${args} ${ifNotLocal(det)} -j KUBE-MARK-MASQ`);
    }
    if (usesExt) {
      const ext = sp.chains.ext;
      natChains.push(chainLine(ext));
      active.add(ext);
      if (!sp.externalPolicyLocal) {
        natRules.push(`-A ${ext} -m comment --comment ${q(`masquerade traffic for ${spn} external destinations`)} -j KUBE-MARK-MASQ`);
      } else {
        if (det) natRules.push(`-A ${ext} -m comment --comment ${q(`pod traffic for ${spn} external destinations`)} ${ifLocal(det)} -j ${sp.chains.svc}`);
        natRules.push(`-A ${ext} -m comment --comment ${q(`masquerade LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`);
        natRules.push(`-A ${ext} -m comment --comment ${q(`route LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j ${sp.chains.svc}`);
      }
      if (hasExternal) natRules.push(`-A ${ext} -j ${externalPolicyChain}`);
    }
    if (usesFw) {
      const fw = sp.chains.fw;
      natChains.push(chainLine(fw));
      active.add(fw);
      const head = `-A ${fw} -m comment --comment ${q(`${spn} loadbalancer IP`)}`;
      let allowFromNode = false;
      for (const r of sp.loadBalancerSourceRanges) {
        natRules.push(`${head} -s ${r} -j ${sp.chains.ext}`);
        if (cidrContains(r, cfg.nodeIP)) allowFromNode = true;
      }
      if (allowFromNode) for (const ip of sp.loadBalancerVIPs) natRules.push(`${head} -s ${ip} -j ${sp.chains.ext}`);
      natRules.push(`-A ${fw} -m comment --comment ${q(`other traffic to ${spn} will be dropped by KUBE-PROXY-FIREWALL`)}`);
    }
    const toEndpoints = (chain: string, list: readonly EndpointInfo[]): void => {
      natChains.push(chainLine(chain));
      active.add(chain);
      if (sp.stickySeconds > 0) {
        for (const e of list) natRules.push(`-A ${chain}${comment(q(`${spn} -> ${e.key}`))} -m recent --name ${e.chain} --rcheck --seconds ${sp.stickySeconds} --reap -j ${e.chain}`);
      }
      list.forEach((e, i) => {
        const stat = i < list.length - 1 ? ` -m statistic --mode random --probability ${probability(list.length - i)}` : "";
        natRules.push(`-A ${chain}${comment(q(`${spn} -> ${e.key}`))}${stat} -j ${e.chain}`);
      });
    };
    if (usesCluster) toEndpoints(sp.chains.svc, cluster);
    if (usesLocal) toEndpoints(sp.chains.svl, local);
    for (const e of reachable) {
      natChains.push(chainLine(e.chain));
      active.add(e.chain);
      const head = `-A ${e.chain}${comment(spn)}`;
      natRules.push(`${head} -s ${e.ip} -j KUBE-MARK-MASQ`);
      natRules.push(`${head}${sp.stickySeconds > 0 ? ` -m recent --name ${e.chain} --set` : ""} ${proto} -j DNAT --to-destination ${e.key}`);
    }
  }

  for (const c of input.existingNatChains ?? []) {
    if (active.has(c) || !SERVICE_CHAIN_PREFIXES.some((pfx) => c.startsWith(pfx))) continue;
    natChains.push(chainLine(c));
    natRules.push(`-X ${c}`);
  }
  const last = q("kubernetes service nodeports; NOTE: this must be the last rule in this chain");
  if (!cfg.nodePortAddresses || cfg.nodePortAddresses.length === 0) {
    natRules.push(`-A KUBE-SERVICES -m comment --comment ${last} -m addrtype --dst-type LOCAL${localhostNodePorts ? "" : " ! -d 127.0.0.0/8"} -j KUBE-NODEPORTS`);
  } else {
    for (const a of cfg.nodeAddresses ?? [{ ip: cfg.nodeIP }]) {
      if (!cfg.nodePortAddresses.some((c) => cidrContains(c, a.ip))) continue;
      if (a.loopback && !localhostNodePorts) continue;
      natRules.push(`-A KUBE-SERVICES -m comment --comment ${last} -d ${a.ip} -j KUBE-NODEPORTS`);
    }
  }
  if (!cfg.conntrackTcpLiberal) filterRules.push(`-A KUBE-FORWARD -m conntrack --ctstate INVALID${nfacct ? " -m nfacct --nfacct-name ct_state_invalid_dropped_pkts" : ""} -j DROP`);
  filterRules.push(`-A KUBE-FORWARD -m comment --comment ${q("kubernetes forwarding rules")} -m mark --mark ${mark}/${mark} -j ACCEPT`);
  filterRules.push(`-A KUBE-FORWARD -m comment --comment ${q("kubernetes forwarding conntrack rule")} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);

  const restore = ["*filter", ...filterChains, ...filterRules, "COMMIT", "*nat", ...natChains, ...natRules, "COMMIT", ""].join("\n");
  return { restore, jumps: JUMP_CHAINS, endpointCount };
}
