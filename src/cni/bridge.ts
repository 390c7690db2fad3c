/**
 * @module cni/bridge
 * The CNI `bridge` plugin (containernetworking/plugins, plugins/main/bridge) with host-local IPAM,
 * doing its ADD in the real order (dataplane.md §2.2): ensure the bridge (random MAC, up), create
 * the veth from the pod's namespace (`eth0` there, `veth` + 8 hex digits on the host, both with
 * the configured MTU and queue length 0), enslave and set hairpin, run IPAM, compute the gateway
 * (and the default route for isDefaultGateway), configure the pod side (address with broadcast,
 * up, routes in IPAM order, a route without `gw` taking the gateway), give the bridge the gateway
 * address and pin its MAC to the one read at the start of the ADD, turn ip_forward on, and install
 * the ipMasq chain when asked. DEL releases the address, deletes the veth and the ipMasq rules; the
 * bridge and its address stay (T12). A host may let the ADD make the sandbox's devices later
 * (`DeferredDevices`): the ADD then runs IPAM before them, which they do not touch.
 */
import { createHash } from "node:crypto";
import { formatIpv4, parseIpv4, type Ipv4, type Mac } from "../net/addr.js";
import { formatCidr, ifAddr, maskOf, parseCidr, type Cidr } from "../net/cidr.js";
import type { Rng } from "../sim/rng.js";
import type { NetNs } from "../kernel/netns.js";
import { CniError, type CniArgs, type CniPlugin, type CniResult } from "./contract.js";
import { hostLocal, type HostLocalStore, type RangeConf } from "./host-local.js";

/** The network configuration keys the plugin reads (§2.1). */
export interface BridgeConf {
  readonly cniVersion?: string;
  /** The network name (`cbr0` under flannel). */
  readonly name: string;
  readonly bridge?: string;
  readonly isGateway?: boolean;
  readonly isDefaultGateway?: boolean;
  readonly forceAddress?: boolean;
  readonly ipMasq?: boolean;
  readonly mtu?: number;
  readonly hairpinMode?: boolean;
  readonly promiscMode?: boolean;
  readonly ipam: { readonly type: "host-local"; readonly ranges: readonly (readonly RangeConf[])[]; readonly routes?: readonly { readonly dst: string; readonly gw?: string }[] };
}

/** What the plugin runs against on one host. */
export interface BridgeHost {
  /** The host (node) namespace. */
  readonly host: NetNs;
  /** A pod sandbox's namespace by name (the runtime created it). */
  readonly sandbox: (netns: string) => NetNs;
  readonly ipam: HostLocalStore;
  /** The source of veth names. */
  readonly rng: Rng;
  /** Set: the ADD's devices may be made later (see `DeferredDevices`). */
  readonly deferred?: DeferredDevices;
}

/**
 * Where a host lets an ADD make its devices later (node/dataplane.ts: when the node is first
 * read, DESIGN decision 5). What the ADD answers and every error it can return are decided at
 * once, with the same draws (veth name, MACs, ifindex) in the same order, and so are the
 * bridge's address, its pinned MAC, ip_forward and the ipMasq rules; the deferred part — the
 * sandbox's namespace, the veth pair, enslaving, hairpin, the pod side — runs later in ADD order,
 * and before anything reads or changes the host. Its end state is the one the ADD would have left
 * (test/node/lazy-sandboxes.test.ts compares every namespace).
 */
export interface DeferredDevices {
  /** Queues `op` after the host's other deferred ops. */
  defer(op: () => void): void;
  /** Runs every queued op now. */
  flush(): void;
  /** Whether a queued op will make a device of this name on the host. */
  pending(name: string): boolean;
  /** Records that a queued op will make `name` on the host. */
  claim(name: string): void;
}

/** `utils.FormatChainName(name, id)`: `CNI-` + the SHA-512 hex of name+id, 28 characters in all. */
export function ipMasqChain(network: string, containerId: string): string {
  return `CNI-${createHash("sha512").update(network + containerId).digest("hex").slice(0, 24)}`;
}

/** `utils.FormatComment(name, id)`, escaped for iptables-restore. */
export function ipMasqComment(network: string, containerId: string): string {
  return `"name: \\"${network}\\" id: \\"${containerId}\\""`;
}

function hostVethName(host: NetNs, rng: Rng, deferred: DeferredDevices | undefined): string {
  for (let i = 0; i < 10; i += 1) {
    const name = `veth${rng.uint32().toString(16).padStart(8, "0")}`;
    if (!host.devices.has(name) && deferred?.pending(name) !== true) return name;
  }
  throw new CniError(100, "failed to find a unique veth name");
}

/**
 * Whether the pod side's routes cannot fail in a new namespace whose only other device is lo:
 * each destination valid and met once, none the address's own subnet (the kernel's prefix route
 * is there), each gateway on that subnet and not its broadcast address (test/oracle/
 * route-gateway.test.ts). A gateway that is the pod's own address is accepted by the kernel but
 * sent through the ADD as it runs at once, as is anything else this does not vouch for.
 */
export function podRoutesSafe(routes: readonly { readonly dst: Cidr | undefined; readonly via: Ipv4 | undefined }[], addr: Cidr): boolean {
  const mask = maskOf(addr.len);
  const subnet = (addr.addr & mask) >>> 0;
  const seen = new Set<string>();
  for (const r of routes) {
    if (!r.dst) return false;
    const key = `${r.dst.addr}/${r.dst.len}`;
    if (seen.has(key) || (r.dst.len === addr.len && r.dst.addr === subnet)) return false;
    seen.add(key);
    if (r.via !== undefined && (r.via === addr.addr || r.via === (subnet | ~mask) >>> 0 || ((r.via & mask) >>> 0) !== subnet)) return false;
  }
  return true;
}

/** How the pod's veth is made. */
interface VethLink {
  readonly ifName: string;
  readonly mtu: number;
  readonly bridge: string;
  readonly hairpin: boolean;
}

/** A pod route as the plugin adds it (`dst` undefined: not a CIDR, which the ADD reports). */
interface PodRoute {
  readonly text: string;
  readonly dst: Cidr | undefined;
  readonly via: Ipv4 | undefined;
}

// Steps 2-3: the veth created from the pod's namespace (the host end registered first, with the
// draws made ahead when `ids` is given), its host end up, enslaved, hairpin. Returns the host end.
function vethUp(host: NetNs, pod: NetNs, l: VethLink, ids: VethIds | string): string {
  const made = typeof ids === "string" ? undefined : ids;
  const hostVeth = typeof ids === "string" ? ids : ids.name;
  pod.linkAdd({ kind: "veth", name: l.ifName, peer: hostVeth, peerNs: host.name, mtu: l.mtu, txqlen: 0, ...(made ? { mac: made.mac, peerMac: made.peerMac, peerIfindex: made.peerIfindex } : {}) });
  host.linkSetUp(hostVeth);
  host.linkSetMaster(hostVeth, l.bridge);
  host.bridgeLinkSet(hostVeth, { hairpin: l.hairpin });
  return hostVeth;
}

// Step 6: the pod side — address with broadcast, up, routes in IPAM order.
function podSideUp(p: NetNs, ifName: string, addr: Cidr, routes: readonly PodRoute[]): void {
  p.addrAdd(ifName, addr, { brd: "+" });
  // arp_notify=1 makes the kernel send a gratuitous ARP at NETDEV_UP, but it leaves before
  // linkwatch has activated the qdisc and is dropped: the bridge learns nothing from it (seen
  // on the real kernel with IPv6 off, test/oracle/cni-bridge.test.ts), so podwire sends none.
  p.linkSetUp(ifName);
  for (const r of routes) {
    if (!r.dst) throw new CniError(100, `invalid route ${r.text}`);
    try {
      p.routeAdd({ dst: r.dst, dev: ifName, ...(r.via !== undefined ? { via: r.via } : {}) });
    } catch (e) {
      throw new CniError(100, `failed to add route '{${r.text} ${r.via !== undefined ? formatIpv4(r.via) : "<nil>"}}': ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** A deferred ADD's devices. */
interface DeferredPod {
  readonly netns: string;
  readonly link: VethLink;
  readonly ids: VethIds;
  readonly addr: Cidr;
  readonly routes: readonly PodRoute[];
}

function makeDeferredPod(host: NetNs, sandbox: (netns: string) => NetNs, p: DeferredPod): () => void {
  return () => {
    const pod = sandbox(p.netns);
    vethUp(host, pod, p.link, p.ids);
    podSideUp(pod, p.link.ifName, p.addr, p.routes);
  };
}

/** The draws `linkAdd` of the veth would make (host end first, as veth_newlink registers it), made ahead. */
interface VethIds {
  readonly name: string;
  readonly peerMac: Mac;
  readonly mac: Mac;
  readonly peerIfindex: number;
}

/** The plugin over one host. */
export function bridgePlugin(env: BridgeHost): CniPlugin<BridgeConf> {
  const ipam = hostLocal(env.ipam);
  return {
    type: "bridge",
    add(args: CniArgs, conf: BridgeConf): CniResult {
      if (conf.hairpinMode && conf.promiscMode) throw new CniError(100, "cannot set hairpin mode and promiscuous mode at the same time");
      const host = env.host;
      const brName = conf.bridge ?? "cni0";
      const isGateway = conf.isGateway === true || conf.isDefaultGateway === true;
      const mtu = conf.mtu !== undefined && conf.mtu > 0 ? conf.mtu : 1500;
      // 1. Ensure the bridge.
      if (!host.devices.has(brName)) {
        host.linkAdd({ kind: "bridge", name: brName, mtu, txqlen: 1000 });
      } else if (host.dev(brName).kind !== "bridge") {
        throw new CniError(100, `${brName} already exists but is not a bridge`);
      }
      host.linkSetUp(brName);
      const brMacAtStart = host.dev(brName).mac;
      // 2-3. The veth, created from the pod's namespace (the host end is registered first), enslaved, hairpin.
      const veth = (pod: NetNs, ids?: VethIds): string => vethUp(host, pod, { ifName: args.ifName, mtu, bridge: brName, hairpin: conf.hairpinMode === true }, ids ?? hostVethName(host, env.rng, env.deferred));
      const deferred = env.deferred;
      let pod: NetNs | undefined;
      let hostVeth: string | undefined;
      if (!deferred) {
        pod = env.sandbox(args.netns);
        if (pod.devices.has(args.ifName)) throw new CniError(100, `container veth name provided (${args.ifName}) already exists`);
        hostVeth = veth(pod);
      } else if (args.ifName === "lo") {
        // The sandbox is new: lo is its only device.
        throw new CniError(100, `container veth name provided (${args.ifName}) already exists`);
      }
      // 4. IPAM (deferred: before the veth, which it does not touch; on failure the veth is made
      // and removed now, as the plugin does, so the draws and ifindexes are the same).
      let res: CniResult;
      try {
        res = ipam.add(args, { name: conf.name, ranges: conf.ipam.ranges, ...(conf.ipam.routes ? { routes: conf.ipam.routes } : {}) });
      } catch (e) {
        if (deferred) {
          deferred.flush();
          hostVeth = veth(env.sandbox(args.netns));
        }
        host.linkDel(hostVeth as string);
        throw e;
      }
      const ip = res.ips[0];
      if (!ip) throw new CniError(100, "IPAM plugin returned missing IP config");
      const addr = ifAddr(ip.address);
      const network: Cidr = { addr: ((addr.addr & maskOf(addr.len)) >>> 0) as Ipv4, len: addr.len };
      // 5. The gateway.
      let gw = ip.gateway !== undefined ? parseIpv4(ip.gateway) : undefined;
      if ((!gw || !gw.ok) && isGateway) gw = { ok: true, value: ((network.addr + 1) >>> 0) as Ipv4 };
      const gateway = gw?.ok ? gw.value : undefined;
      const routes = [...(res.routes ?? [])];
      if (conf.isDefaultGateway && gateway !== undefined && !routes.some((r) => r.dst === "0.0.0.0/0" && r.gw !== undefined)) routes.push({ dst: "0.0.0.0/0", gw: formatIpv4(gateway) });
      const podRoutes = routes.map((r) => {
        const dst = parseCidr(r.dst);
        const via = r.gw !== undefined ? parseIpv4(r.gw) : undefined;
        const v = via?.ok ? via.value : gateway;
        return { text: r.dst, dst: dst.ok ? dst.value : undefined, via: v };
      });
      // 6. The pod side.
      const podSide = (p: NetNs): void => podSideUp(p, args.ifName, addr, podRoutes);
      // 7. The bridge's gateway address, its MAC pinned to the one read at the start of the ADD, ip_forward on.
      const want = gateway !== undefined ? `${formatIpv4(gateway)}/${addr.len}` : "";
      const have = host.addrs.filter((a) => a.dev === brName);
      const setAddr = isGateway && gateway !== undefined && !have.some((a) => a.addr === gateway && a.len === addr.len);
      const addrError = setAddr && have.length > 0 && !conf.forceAddress;
      const gatewayAddr = (): void => {
        if (!isGateway || gateway === undefined) return;
        if (addrError) throw new CniError(100, `failed to set bridge addr: "${brName}" already has an IP address different from ${want}`);
        if (setAddr) {
          for (const a of have) host.addrDel(brName, { addr: a.addr, len: a.len });
          host.addrAdd(brName, { addr: gateway, len: addr.len }, { brd: "+" });
          host.linkSetAddress(brName, brMacAtStart);
        }
        if (!host.sysctls.all.forwarding) host.sysctlSet("net.ipv4.ip_forward", 1);
      };
      // 8. ipMasq.
      const ipMasq = (): void => {
        if (!conf.ipMasq) return;
        const chain = ipMasqChain(conf.name, args.containerId);
        const c = ipMasqComment(conf.name, args.containerId);
        host.iptablesRestore(
          ["*nat", `:${chain} - [0:0]`, `-A ${chain} -d ${formatCidr(network)} -m comment --comment ${c} -j ACCEPT`, `-A ${chain} ! -d 224.0.0.0/4 -m comment --comment ${c} -j MASQUERADE`, `-A POSTROUTING -s ${formatIpv4(addr.addr)}/32 -m comment --comment ${c} -j ${chain}`, "COMMIT", ""].join("\n"),
          { noflush: true, source: "CNI bridge ipMasq" },
        );
      };
      const br0 = host.dev(brName);
      let ids: VethIds | undefined;
      // Deferred only when nothing later in the ADD can fail and the bridge's MAC is pinned
      // (an unpinned bridge takes its lowest port's MAC, which the answer names).
      if (deferred && !addrError && (setAddr || (br0.kind === "bridge" && br0.macPinned)) && podRoutesSafe(podRoutes, addr)) {
        // The draws the veth's creation makes, now; the devices when the host is next read. The
        // bridge's address and MAC change before its new port is enslaved: a pinned bridge keeps
        // its MAC, and each port's own FDB entry is the same either way.
        const name = hostVethName(host, env.rng, deferred);
        const peerMac = host.randomMac();
        ids = { name, peerMac, mac: host.randomMac(), peerIfindex: host.reserveIfindex() };
        hostVeth = name;
        // The rest of the ADD runs now (ipMasq touches rules, not devices), and only then is the
        // op queued: a queued op is one whose ADD succeeded.
        gatewayAddr();
        ipMasq();
        deferred.claim(name);
        // What the op needs, and nothing of the ADD's scope: a node's waiting pods each keep one.
        const plan: DeferredPod = { netns: args.netns, link: { ifName: args.ifName, mtu, bridge: brName, hairpin: conf.hairpinMode === true }, ids, addr, routes: podRoutes };
        deferred.defer(makeDeferredPod(host, env.sandbox, plan));
      } else {
        if (deferred) {
          deferred.flush();
          pod = env.sandbox(args.netns);
          hostVeth = veth(pod);
        }
        podSide(pod as NetNs);
        gatewayAddr();
        ipMasq();
      }
      return {
        cniVersion: conf.cniVersion ?? "1.0.0",
        interfaces: [
          { name: brName, mac: host.dev(brName).mac },
          { name: hostVeth as string, mac: ids ? ids.peerMac : host.dev(hostVeth as string).mac },
          { name: args.ifName, mac: ids ? ids.mac : (pod as NetNs).dev(args.ifName).mac, sandbox: args.netns },
        ],
        ips: [{ address: ip.address, ...(gateway !== undefined ? { gateway: formatIpv4(gateway) } : {}), interface: 2 }],
        routes: routes.map((r) => ({ dst: r.dst, ...(r.gw !== undefined ? { gw: r.gw } : {}) })),
        dns: {},
      };
    },
    del(args: CniArgs, conf: BridgeConf): void {
      const host = env.host;
      const addrs = [...env.ipam.dir(conf.name)].filter(([, content]) => content === `${args.containerId}\r\n${args.ifName}`).map(([a]) => a);
      ipam.del(args, { name: conf.name, ranges: conf.ipam.ranges });
      let pod: NetNs | undefined;
      try {
        pod = env.sandbox(args.netns);
      } catch {
        pod = undefined;
      }
      if (pod?.devices.has(args.ifName)) pod.linkDel(args.ifName);
      if (conf.ipMasq) {
        const chain = ipMasqChain(conf.name, args.containerId);
        const nat = host.ruleset.tables.get("nat");
        const lines = ["*nat"];
        for (const a of addrs) {
          const rule = `-s ${formatIpv4(a as Ipv4)}/32 -m comment --comment ${ipMasqComment(conf.name, args.containerId)} -j ${chain}`;
          if (nat?.chains.get("POSTROUTING")?.rules.some((r) => r.target?.kind === "JUMP" && r.target.chain === chain)) lines.push(`-D POSTROUTING ${rule}`);
        }
        if (nat?.chains.has(chain)) lines.push(`-F ${chain}`, `-X ${chain}`);
        if (lines.length > 1) host.iptablesRestore([...lines, "COMMIT", ""].join("\n"), { noflush: true, source: "CNI bridge ipMasq teardown" });
      }
    },
    check(args: CniArgs, conf: BridgeConf): void {
      ipam.check(args, { name: conf.name, ranges: conf.ipam.ranges });
      const pod = env.sandbox(args.netns);
      if (!pod.devices.has(args.ifName)) throw new CniError(100, `failed to find container interface ${args.ifName}`);
    },
  };
}
