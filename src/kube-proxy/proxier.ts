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
import { categorizeEndpoints, endpointsByServicePort, servicePorts, usesClusterEndpoints, usesLocalEndpoints, type EndpointInfo, type ServicePortInfo } from "./service-ports.js";

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
  /** The same input, line by line (the last one empty: the text ends with a newline). */
  readonly lines: readonly string[];
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

/** Options for `syncProxyRules`. */
export interface SyncOptions {
  /**
   * Reuse the lines of a service port's block written before (on this or another node) when its
   * inputs are the same (default true); false writes every line afresh. The text is the same.
   */
  readonly shared?: boolean;
}

/** Runs one full sync. */
export function syncProxyRules(input: ProxierInput, cfg: ProxierConfig, opts: SyncOptions = {}): ProxierOutput {
  const mark = cfg.masqueradeMark ?? goHex08(1 << (cfg.masqueradeBit ?? 14));
  const localhostNodePorts = cfg.localhostNodePorts ?? true;
  const nfacct = cfg.nfacct ?? true;
  const det = cfg.localDetector;
  // The parts of the text before and after the service ports' blocks.
  const filterChains: string[] = [];
  const filterRules: string[] = [];
  const filterRulesTail: string[] = [];
  const natChains: string[] = [];
  const natChainsTail: string[] = [];
  const natRules: string[] = [];

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
  for (const sp of ports) endpointCount += endpoints.get(sp.key)?.length ?? 0;
  const ctx: BlockContext = {
    mark,
    localhostNodePorts,
    nfacct,
    ...(det ? { det } : {}),
    masqueradeAll: cfg.masqueradeAll === true,
    large: endpointCount > LARGE_CLUSTER_ENDPOINTS,
    nodeIP: cfg.nodeIP,
    key: `${mark}|${localhostNodePorts}|${nfacct}|${det ? ifLocal(det) : ""}|${cfg.masqueradeAll === true}|${endpointCount > LARGE_CLUSTER_ENDPOINTS}`,
  };
  const shared = opts.shared ?? true;
  const portBlocks = ports.map((sp) => {
    const eps = endpoints.get(sp.key) ?? NO_ENDPOINTS;
    return shared ? sharedBlock(sp, eps, ctx) : servicePortBlock(sp, eps, ctx);
  });
  // Service chains that were there before and that no service port keeps are deleted, in the order they were listed.
  const stale = new Set<string>();
  for (const c of input.existingNatChains ?? []) if (SERVICE_CHAIN_PREFIXES.some((pfx) => c.startsWith(pfx))) stale.add(c);
  if (stale.size > 0) for (const blk of portBlocks) for (const c of blk.chains) stale.delete(c);
  const natRulesTail: string[] = [];
  for (const c of stale) {
    natChainsTail.push(chainLine(c));
    natRulesTail.push(`-X ${c}`);
  }
  const last = q("kubernetes service nodeports; NOTE: this must be the last rule in this chain");
  if (!cfg.nodePortAddresses || cfg.nodePortAddresses.length === 0) {
    natRulesTail.push(`-A KUBE-SERVICES -m comment --comment ${last} -m addrtype --dst-type LOCAL${localhostNodePorts ? "" : " ! -d 127.0.0.0/8"} -j KUBE-NODEPORTS`);
  } else {
    for (const a of cfg.nodeAddresses ?? [{ ip: cfg.nodeIP }]) {
      if (!cfg.nodePortAddresses.some((c) => cidrContains(c, a.ip))) continue;
      if (a.loopback && !localhostNodePorts) continue;
      natRulesTail.push(`-A KUBE-SERVICES -m comment --comment ${last} -d ${a.ip} -j KUBE-NODEPORTS`);
    }
  }
  if (!cfg.conntrackTcpLiberal) filterRulesTail.push(`-A KUBE-FORWARD -m conntrack --ctstate INVALID${nfacct ? " -m nfacct --nfacct-name ct_state_invalid_dropped_pkts" : ""} -j DROP`);
  filterRulesTail.push(`-A KUBE-FORWARD -m comment --comment ${q("kubernetes forwarding rules")} -m mark --mark ${mark}/${mark} -j ACCEPT`);
  filterRulesTail.push(`-A KUBE-FORWARD -m comment --comment ${q("kubernetes forwarding conntrack rule")} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);

  const lines: string[] = ["*filter", ...filterChains, ...filterRules];
  for (const blk of portBlocks) for (const l of blk.filterRules) lines.push(l);
  lines.push(...filterRulesTail, "COMMIT", "*nat", ...natChains);
  for (const blk of portBlocks) for (const l of blk.natChains) lines.push(l);
  lines.push(...natChainsTail, ...natRules);
  for (const blk of portBlocks) for (const l of blk.natRules) lines.push(l);
  lines.push(...natRulesTail, "COMMIT", "");
  let restore: string | undefined;
  return {
    lines,
    get restore(): string {
      restore ??= lines.join("\n");
      return restore;
    },
    jumps: JUMP_CHAINS,
    endpointCount,
  };
}

/** What a service port's lines depend on besides the port and its endpoints: the proxier's settings. */
interface BlockContext {
  readonly mark: string;
  readonly localhostNodePorts: boolean;
  readonly nfacct: boolean;
  readonly det?: LocalDetector;
  readonly masqueradeAll: boolean;
  /** Above `LARGE_CLUSTER_ENDPOINTS`: no comments on the endpoint rules. */
  readonly large: boolean;
  /** Read only by a firewall chain's source ranges (allowFromNode). */
  readonly nodeIP: string;
  /** All of the above but `nodeIP`, as one string. */
  readonly key: string;
}

/** The lines one service port adds to each part of the text, and the chains it keeps. */
interface Block {
  readonly filterRules: readonly string[];
  readonly natChains: readonly string[];
  readonly natRules: readonly string[];
  readonly chains: readonly string[];
}

const NO_ENDPOINTS: readonly EndpointInfo[] = [];
const chainLine = (c: string): string => `:${c} - [0:0]`;

/**
 * Blocks written before, per service port (the port objects are made once per Service object,
 * service-ports.ts): every node's proxier writes the same lines for a service port whose
 * endpoints read the same there, so a node's sync reuses them (the same string objects, which
 * the restore parser then finds in its own cache without reading them again). A few per port:
 * nodes that hold a Local port's endpoints each see their own.
 */
const blocks = new WeakMap<ServicePortInfo, { readonly eps: readonly EndpointInfo[]; readonly key: string; readonly block: Block }[]>();
const BLOCKS_PER_PORT = 4;

function sharedBlock(sp: ServicePortInfo, eps: readonly EndpointInfo[], ctx: BlockContext): Block {
  const key = sp.loadBalancerSourceRanges.length > 0 ? `${ctx.key}|${ctx.nodeIP}` : ctx.key;
  const local = usesLocalEndpoints(sp);
  let list = blocks.get(sp);
  const hit = list?.find((m) => m.key === key && sameEndpoints(m.eps, eps, local));
  if (hit) return hit.block;
  const block = servicePortBlock(sp, eps, ctx);
  if (!list) {
    list = [];
    blocks.set(sp, list);
  }
  if (list.length >= BLOCKS_PER_PORT) list.shift();
  list.push({ eps, key, block });
  return block;
}

// Whether two endpoint lists write the same lines: each endpoint's IP:port (which names its chain
// too) and conditions, and whether it is local where the port's policy reads that.
function sameEndpoints(a: readonly EndpointInfo[], b: readonly EndpointInfo[], local: boolean): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i] as EndpointInfo;
    const y = b[i] as EndpointInfo;
    if (x === y) continue;
    if (x.key !== y.key || x.ready !== y.ready || x.serving !== y.serving || x.terminating !== y.terminating || (local && x.local !== y.local)) return false;
  }
  return true;
}

/** One service port's lines (writeServiceToEndpointRules and the rules around it in syncProxyRules). */
function servicePortBlock(sp: ServicePortInfo, eps: readonly EndpointInfo[], ctx: BlockContext): Block {
  const { localhostNodePorts, nfacct, det } = ctx;
  const filterRules: string[] = [];
  const natChains: string[] = [];
  const natRules: string[] = [];
  const active: string[] = [];
  const comment = (text: string): string => (ctx.large ? "" : ` -m comment --comment ${text}`);
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
    if (ctx.masqueradeAll) natRules.push(`-A ${internalChain} ${args} -j KUBE-MARK-MASQ`);
    else if (det) natRules.push(`-A ${internalChain} ${args} ${ifNotLocal(det)} -j KUBE-MARK-MASQ`);
  }
  if (usesExt) {
    const ext = sp.chains.ext;
    natChains.push(chainLine(ext));
    active.push(ext);
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
    active.push(fw);
    const head = `-A ${fw} -m comment --comment ${q(`${spn} loadbalancer IP`)}`;
    let allowFromNode = false;
    for (const r of sp.loadBalancerSourceRanges) {
      natRules.push(`${head} -s ${r} -j ${sp.chains.ext}`);
      if (cidrContains(r, ctx.nodeIP)) allowFromNode = true;
    }
    if (allowFromNode) for (const ip of sp.loadBalancerVIPs) natRules.push(`${head} -s ${ip} -j ${sp.chains.ext}`);
    natRules.push(`-A ${fw} -m comment --comment ${q(`other traffic to ${spn} will be dropped by KUBE-PROXY-FIREWALL`)}`);
  }
  const toEndpoints = (chain: string, list: readonly EndpointInfo[]): void => {
    natChains.push(chainLine(chain));
    active.push(chain);
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
    active.push(e.chain);
    const head = `-A ${e.chain}${comment(spn)}`;
    natRules.push(`${head} -s ${e.ip} -j KUBE-MARK-MASQ`);
    natRules.push(`${head}${sp.stickySeconds > 0 ? ` -m recent --name ${e.chain} --set` : ""} ${proto} -j DNAT --to-destination ${e.key}`);
  }
  return { filterRules, natChains, natRules, chains: active };
}
