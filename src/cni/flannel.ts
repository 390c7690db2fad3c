/**
 * @module cni/flannel
 * flannel as the kube-subnet-manager runs it (dataplane.md §4): the node's lease is its podCIDR;
 * flanneld writes `/run/flannel/subnet.env`, its iptables rules (FLANNEL-POSTRTG with --ip-masq,
 * FLANNEL-FWD, both appended), and per backend:
 * - vxlan: `flannel.<VNI>` (nolearning, local = public IP, dev = the external interface, MTU =
 *   ext − 50, queue length 0, address `<subnet network>/32`), then per remote lease, in this
 *   order, the PERMANENT neighbour, the FDB entry and the onlink route;
 * - host-gw: per remote lease a route `<subnet> via <public IP> dev <ext>`.
 * The flannel CNI plugin reads subnet.env and delegates to the bridge plugin with the config of
 * §4.11 (stored per container for DEL).
 * @see flannel-io/flannel pkg/backend/vxlan, pkg/backend/hostgw, pkg/trafficmngr/iptables; flannel-io/cni-plugin
 */
import { formatIpv4, type Ipv4, type Mac } from "../net/addr.js";
import { cidrContains, formatCidr, type Cidr } from "../net/cidr.js";
import { neighKey, type NetNs } from "../kernel/netns.js";
import { bridgePlugin, type BridgeConf, type BridgeHost } from "./bridge.js";
import { CniError, type CniArgs, type CniPlugin, type CniResult } from "./contract.js";

/** `net-conf.json` as podwire resolves it. */
export interface FlannelConfig {
  /** `Network`. */
  readonly network: Cidr;
  readonly backend: "vxlan" | "host-gw";
  readonly vni: number;
  /** 0 = the kernel default (8472). */
  readonly port: number;
  /** `--ip-masq` (kube-flannel.yml sets it). */
  readonly ipMasq: boolean;
  /** Whether the iptables binary supports --random-fully. */
  readonly randomFully: boolean;
}

/** A node's lease, as flannel reads it from the Node object (podCIDR + annotations). */
export interface Lease {
  readonly node: string;
  readonly subnet: Cidr;
  readonly publicIp: Ipv4;
  /** From `flannel.alpha.coreos.com/backend-data` (vxlan). */
  readonly vtepMac?: Mac;
}

/** The node annotations flannel writes (§4.4). */
export const FLANNEL_ANNOTATIONS = {
  backendType: "flannel.alpha.coreos.com/backend-type",
  backendData: "flannel.alpha.coreos.com/backend-data",
  publicIp: "flannel.alpha.coreos.com/public-ip",
  kubeSubnetManager: "flannel.alpha.coreos.com/kube-subnet-manager",
} as const;

/** flannel.1's MTU and FLANNEL_MTU: the external MTU less 50 for vxlan, the same for host-gw. */
export function flannelMtu(cfg: FlannelConfig, extMtu: number): number {
  return cfg.backend === "vxlan" ? extMtu - 50 : extMtu;
}

/** `/run/flannel/subnet.env` (§4.5). */
export function subnetEnv(cfg: FlannelConfig, subnet: Cidr, extMtu: number): string {
  return `FLANNEL_NETWORK=${formatCidr(cfg.network)}\nFLANNEL_SUBNET=${formatIpv4((subnet.addr + 1) as Ipv4)}/${subnet.len}\nFLANNEL_MTU=${flannelMtu(cfg, extMtu)}\nFLANNEL_IPMASQ=${cfg.ipMasq}\n`;
}

/** flanneld's iptables rules for a node (§4.9), as iptables-restore --noflush input that appends them. */
export function flannelRules(cfg: FlannelConfig, subnet: Cidr): string {
  const net = formatCidr(cfg.network);
  const sub = formatCidr(subnet);
  const rf = cfg.randomFully ? " --random-fully" : "";
  const masq = `-m comment --comment "flanneld masq"`;
  const fwd = `-m comment --comment "flanneld forward"`;
  const lines = ["*nat"];
  if (cfg.ipMasq) {
    lines.push(
      ":FLANNEL-POSTRTG - [0:0]",
      `-A POSTROUTING ${masq} -j FLANNEL-POSTRTG`,
      `-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 ${masq} -j RETURN`,
      `-A FLANNEL-POSTRTG -s ${sub} -d ${net} ${masq} -j RETURN`,
      `-A FLANNEL-POSTRTG -s ${net} -d ${sub} ${masq} -j RETURN`,
      `-A FLANNEL-POSTRTG ! -s ${net} -d ${sub} ${masq} -j RETURN`,
      `-A FLANNEL-POSTRTG -s ${net} ! -d 224.0.0.0/4 ${masq} -j MASQUERADE${rf}`,
      `-A FLANNEL-POSTRTG ! -s ${net} -d ${net} ${masq} -j MASQUERADE${rf}`,
    );
  }
  lines.push("COMMIT", "*filter", ":FLANNEL-FWD - [0:0]", `-A FORWARD ${fwd} -j FLANNEL-FWD`, `-A FLANNEL-FWD -s ${net} ${fwd} -j ACCEPT`, `-A FLANNEL-FWD -d ${net} ${fwd} -j ACCEPT`, "COMMIT", "");
  return lines.join("\n");
}

/** The VXLAN device name. */
export function vxlanDevice(cfg: FlannelConfig): string {
  return `flannel.${cfg.vni}`;
}

/**
 * flanneld on one node: brings its backend and rules to the state the leases call for. Idempotent
 * (a later call with other leases adds and removes remote state as flannel's lease watch does).
 */
export function flanneldSync(host: NetNs, cfg: FlannelConfig, self: Lease, leases: readonly Lease[] | undefined, extDev: string, state: FlanneldState): void {
  if (!cidrContains(cfg.network, self.subnet.addr) || self.subnet.len < cfg.network.len) {
    throw new CniError(100, `subnet "${formatCidr(cfg.network)}" specified in the flannel net config doesn't contain "${formatCidr(self.subnet)}" PodCIDR of the "${self.node}" node`);
  }
  const ext = host.dev(extDev);
  const dev = vxlanDevice(cfg);
  if (cfg.backend === "vxlan" && !host.devices.has(dev)) {
    host.linkAdd({ kind: "vxlan", name: dev, vni: cfg.vni, local: self.publicIp, dev: extDev, ...(cfg.port ? { dstport: cfg.port } : {}), learning: false, ...(self.vtepMac ? { mac: self.vtepMac } : {}), mtu: ext.mtu - 50, txqlen: 0 });
    host.addrAdd(dev, { addr: self.subnet.addr, len: 32 });
    host.linkSetUp(dev);
  }
  if (!state.rulesInstalled) {
    host.iptablesRestore(flannelRules(cfg, self.subnet), { noflush: true, source: "flanneld" });
    state.rulesInstalled = true;
  }
  state.subnetEnv = subnetEnv(cfg, self.subnet, ext.mtu);
  // Without leases: only flanneld's start (its device, rules and subnet.env), as before its first lease watch.
  if (leases === undefined) return;
  const want = new Map(leases.filter((l) => l.node !== self.node && (cfg.backend === "host-gw" || l.vtepMac !== undefined)).map((l) => [l.node, l]));
  for (const [node, old] of state.remotes) {
    const now = want.get(node);
    if (now && now.subnet.addr === old.subnet.addr && now.subnet.len === old.subnet.len && now.publicIp === old.publicIp && now.vtepMac === old.vtepMac) continue;
    removeRemote(host, cfg, dev, old);
    state.remotes.delete(node);
  }
  for (const [node, l] of want) {
    if (state.remotes.has(node)) continue;
    if (cfg.backend === "vxlan") {
      const gw = l.subnet.addr;
      host.neighReplace(dev, gw, l.vtepMac as Mac, "PERMANENT");
      host.bridgeFdbReplace(l.vtepMac as Mac, dev, l.publicIp);
      host.routeReplace({ dst: l.subnet, via: gw, dev, onlink: true });
    } else {
      host.routeReplace({ dst: l.subnet, via: l.publicIp, dev: extDev });
    }
    state.remotes.set(node, l);
  }
}

function removeRemote(host: NetNs, cfg: FlannelConfig, dev: string, l: Lease): void {
  if (cfg.backend === "vxlan") {
    if (host.neigh.has(neighKey(dev, l.subnet.addr))) host.neighDel(dev, l.subnet.addr);
    if (l.vtepMac) host.bridgeFdbDel(l.vtepMac, dev);
  }
  try {
    host.routeDel(l.subnet);
  } catch {
    // already gone (the device went down)
  }
}

/** What one node's flanneld has done. */
export interface FlanneldState {
  rulesInstalled: boolean;
  /** The file, once written; the CNI plugin fails without it. */
  subnetEnv?: string;
  readonly remotes: Map<string, Lease>;
  /** /var/lib/cni/flannel/<containerID>: the delegate config used at ADD. */
  readonly delegates: Map<string, BridgeConf>;
}

/** A fresh flanneld state. */
export function flanneldState(): FlanneldState {
  return { rulesInstalled: false, remotes: new Map(), delegates: new Map() };
}

function parseSubnetEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** The conflist's delegate fields (`10-flannel.conflist`: hairpinMode and isDefaultGateway true). */
export interface FlannelDelegate {
  readonly hairpinMode?: boolean;
  readonly isDefaultGateway?: boolean;
}

/** The flannel CNI plugin (network `cbr0`), delegating to the bridge plugin. */
export function flannelPlugin(env: BridgeHost, state: FlanneldState): CniPlugin<{ readonly name: string; readonly cniVersion?: string; readonly delegate?: FlannelDelegate }> {
  const bridge = bridgePlugin(env);
  return {
    type: "flannel",
    add(args: CniArgs, conf): CniResult {
      if (state.subnetEnv === undefined) throw new CniError(100, "failed to load flannel 'subnet.env' file: open /run/flannel/subnet.env: no such file or directory. Check the flannel pod log for this node.");
      const env2 = parseSubnetEnv(state.subnetEnv);
      const [subAddr = "", len = ""] = (env2["FLANNEL_SUBNET"] ?? "").split("/");
      const a = subAddr.split(".").reduce((v, o) => v * 256 + Number(o), 0);
      const l = Number(len);
      const mask = l === 0 ? 0 : (0xffffffff << (32 - l)) >>> 0;
      const net = `${formatIpv4(((a & mask) >>> 0) as Ipv4)}/${l}`;
      const delegate: BridgeConf = {
        cniVersion: conf.cniVersion ?? "0.3.1",
        name: conf.name,
        hairpinMode: conf.delegate?.hairpinMode ?? false,
        ipMasq: env2["FLANNEL_IPMASQ"] !== "true",
        isDefaultGateway: conf.delegate?.isDefaultGateway ?? false,
        isGateway: true,
        mtu: Number(env2["FLANNEL_MTU"]),
        ipam: { type: "host-local", ranges: [[{ subnet: net }]], routes: [{ dst: env2["FLANNEL_NETWORK"] ?? "" }] },
      };
      state.delegates.set(args.containerId, delegate);
      try {
        return bridge.add(args, delegate);
      } catch (e) {
        state.delegates.delete(args.containerId);
        if (e instanceof CniError) throw new CniError(e.code, `failed to delegate add: ${e.message}`);
        throw e;
      }
    },
    del(args: CniArgs): void {
      const delegate = state.delegates.get(args.containerId);
      if (!delegate) return;
      bridge.del(args, delegate);
      state.delegates.delete(args.containerId);
    },
    check(args: CniArgs): void {
      const delegate = state.delegates.get(args.containerId);
      if (!delegate) throw new CniError(100, `failed to read delegate config for ${args.containerId}`);
      bridge.check(args, delegate);
    },
  };
}
