/**
 * @module kernel/netns
 * One network namespace: its devices, addresses, routing tables, neighbours, bridge FDBs,
 * sysctls, netfilter ruleset, conntrack table and listening sockets — and the mutations that
 * change them, each named after the `ip` / `bridge` / `sysctl` / `iptables-restore` command it
 * stands for (STYLE 3.5). These are what CNI plugins and the topology builder call.
 *
 * Mutations follow the kernel's side effects: adding an address adds its `local` (and, on an up
 * device, `broadcast` and prefix) routes (`fib_add_ifaddr`); taking a device down removes every
 * route through it, static ones included (`fib_sync_down_dev`), and bringing it up re-adds the
 * address routes; enslaving a port to a bridge adds its local FDB entry and, unless the bridge's
 * MAC was set explicitly, moves the bridge MAC to the lowest port MAC (`br_stp_recalculate_bridge_id`).
 * Errors carry iproute2's words (`RTNETLINK answers: File exists`).
 */
import { formatIpv4, type Ipv4, type Mac, MAC_ZERO } from "../net/addr.js";
import { cidrBroadcast, maskOf, parseIfAddr, type Cidr } from "../net/cidr.js";
import type { Proto } from "../net/tuple.js";
import { Conntrack } from "../netfilter/conntrack.js";
import { usesConntrack } from "../netfilter/conntrack-users.js";
import { parseRestore } from "../netfilter/iptables-restore.js";
import type { Ruleset } from "../netfilter/model.js";
import type { RecentEntry } from "../netfilter/packet.js";
import { Fdb } from "./devices/fdb.js";
import { KernelError } from "./errors.js";
import { arpConfKey, effectiveConf, freshSysctls, setSysctl } from "./sysctl.js";
import { gatewayDevice, internRoute, kernelRoute, RouteTable, selectAddr } from "./route.js";
import { ownVxlanFdb, shareVxlanFdb, vxlanFdbFirst, vxlanFdbPush, vxlanFdbRemove } from "./devices/vxlan-fdb.js";
import { DeviceTable } from "./device-table.js";
import type { Bridge, Device, IfAddr, IfConf, Neighbour, NudState, Route, RouteType, Socket, Sysctls, Vxlan } from "./types.js";
import { CopyOnRead } from "./copy-on-read.js";

export { KernelError };

const NO_IPSETS: ReadonlyMap<string, readonly Cidr[]> = new Map();


/** What a namespace needs from the network it lives in. */
export interface NsHost {
  /** Another namespace by name (veth peers). */
  peer(ns: string): NetNs | undefined;
  /** Allocates a random MAC (seeded). */
  randomMac(): Mac;
  now(): number;
  /** Called after a change that can alter who answers an ARP request (addresses, links, local routes, forwarding/proxy_arp). */
  touched?(): void;
}

/** `ip link add` specifications. */
export type LinkSpec =
  | {
      readonly kind: "veth";
      readonly name: string;
      readonly peer: string;
      readonly peerNs?: string;
      readonly mac?: Mac;
      readonly peerMac?: Mac;
      /** The peer's ifindex, taken earlier from its namespace with `reserveIfindex` (default: the next). */
      readonly peerIfindex?: number;
      readonly mtu?: number;
      readonly txqlen?: number;
    }
  | { readonly kind: "bridge"; readonly name: string; readonly mac?: Mac; readonly mtu?: number; readonly txqlen?: number }
  | { readonly kind: "vxlan"; readonly name: string; readonly vni: number; readonly local?: Ipv4; readonly dev?: string; readonly dstport?: number; readonly learning?: boolean; readonly mac?: Mac; readonly mtu?: number; readonly txqlen?: number }
  | { readonly kind: "nic"; readonly name: string; readonly segment: string; readonly mac?: Mac; readonly mtu?: number; readonly txqlen?: number };

/** `ip route add` specification. */
export interface RouteSpec {
  readonly dst: Cidr;
  readonly type?: RouteType;
  readonly via?: Ipv4;
  readonly dev?: string;
  readonly src?: Ipv4;
  readonly metric?: number;
  readonly scope?: Route["scope"];
  readonly onlink?: boolean;
  readonly proto?: Route["proto"];
  readonly table?: "main" | "local";
}


/** One iptables-restore a namespace took. */
export interface JournalEntry {
  readonly text: string;
  readonly noflush: boolean;
  readonly source?: string;
}

/** One emulated network namespace. */
export class NetNs {
  /** The devices by name (read only: changes go through the `ip`-named methods). */
  get devices(): ReadonlyMap<string, Device> {
    return this.devTable.current;
  }
  private readonly devTable: DeviceTable;
  readonly addrs: IfAddr[] = [];
  readonly local: RouteTable;
  readonly main: RouteTable;
  /** A copy's table copies an entry when it first reads it (a node knows every other node). */
  readonly neigh: Map<string, Neighbour>;
  readonly fdbs: Map<string, Fdb>;
  readonly sysctls: Sysctls;
  readonly conntrack: Conntrack;
  readonly sockets: Socket[] = [];
  // Maps most namespaces (a pod's) never use are made on first use: a cluster has one per pod.
  private icmpPeersMap?: Map<number, { tokens: number; last: number }>;
  private connectionsSet?: Set<string>;
  private nsidsMap?: Map<string, number>;
  /** The nsid map is a copy's and its source's too (a node has one nsid per pod): copy before adding. */
  private nsidsShared = false;
  private recentMap?: Map<string, RecentEntry[]>;
  private nthMap?: Map<string, number>;
  /** ICMP rate-limit state per destination (`inet_peer` rate_tokens/rate_last, ms). */
  get icmpPeers(): Map<number, { tokens: number; last: number }> {
    return (this.icmpPeersMap ??= new Map());
  }
  /** Connections local sockets opened, by the tuple their replies carry. */
  get connections(): Set<string> {
    return (this.connectionsSet ??= new Set());
  }
  /** Peer namespace name → nsid, allocated when a link first refers to it (`ip netns list-id`). */
  get nsids(): ReadonlyMap<string, number> {
    return this.nsidsMap ?? NO_NSIDS;
  }
  ruleset: Ruleset;
  /** xt_recent lists, statistic nth counters and ipsets, per namespace as in the kernel. */
  get recent(): Map<string, RecentEntry[]> {
    return (this.recentMap ??= new Map());
  }
  get nth(): Map<string, number> {
    return (this.nthMap ??= new Map());
  }
  ipsets: ReadonlyMap<string, readonly Cidr[]> = NO_IPSETS;
  /**
   * A machine's initial namespace (a node, an external host), not a named one under /run/netns:
   * from a pod, iproute2 shows a link into it as `link-netnsid N`, not `link-netns NAME`.
   */
  anonymous = false;
  /**
   * Every iptables-restore this namespace took, in order (materialize and the oracle replay it).
   * A restore appends to a new array, so a trace's copy shares the list as it stood.
   */
  get iptablesJournal(): readonly JournalEntry[] {
    return this.journal;
  }
  private journal: readonly JournalEntry[] = [];
  private nextIfindex = 1;
  private ipId = 0;

  constructor(
    readonly name: string,
    private readonly host: NsHost,
    copyOf?: NetNs,
  ) {
    if (copyOf) {
      // cloneInto: made here, so a copy builds no empty tables only to replace them (a trace makes 2-4 copies).
      const src = copyOf;
      // Shared until either side changes them: the devices (device-table.ts), a VXLAN device's
      // remotes (one per other node under flannel), the route tables, the nsids (one per pod), the journal, the ruleset
      // (immutable). Copied entry by entry when first read: neighbours, per-interface sysctls.
      this.devTable = src.devTable.copy();
      for (const d of src.devices.values()) if (d.kind === "vxlan") shareVxlanFdb(d);
      this.local = src.local.clone();
      this.main = src.main.clone();
      this.neigh = new CopyOnRead(src.neigh, (n) => ({ ...n }));
      this.fdbs = new Map();
      for (const [k, f] of src.fdbs) this.fdbs.set(k, f.clone());
      const sc = src.sysctls;
      // Per-interface confs are copied when first read (a trace reads two or three of a node's many).
      this.sysctls = { all: { ...sc.all }, default: { ...sc.default }, perIf: new CopyOnRead(sc.perIf, (v) => ({ ...v })), bridgeNfCallIptables: sc.bridgeNfCallIptables, defaultTtl: sc.defaultTtl, icmpEchoIgnoreAll: sc.icmpEchoIgnoreAll };
      this.conntrack = src.conntrack.clone();
      this.ruleset = src.ruleset;
      this.journal = src.journal;
      this.ipsets = src.ipsets;
      this.anonymous = src.anonymous;
      this.addrs.push(...src.addrs);
      this.sockets.push(...src.sockets);
      for (const x of src.connectionsSet ?? []) this.connections.add(x);
      if (src.nsidsMap) {
        this.nsidsMap = src.nsidsMap;
        this.nsidsShared = src.nsidsShared = true;
      }
      for (const [k, v] of src.recentMap ?? []) this.recent.set(k, v.map((e) => ({ ...e, hits: [...e.hits] })));
      for (const [k, v] of src.nthMap ?? []) this.nth.set(k, v);
      this.nextIfindex = src.nextIfindex;
      this.ipId = src.ipId;
      return;
    }
    this.devTable = new DeviceTable();
    this.local = new RouteTable();
    this.main = new RouteTable();
    this.neigh = new Map();
    this.fdbs = new Map();
    this.sysctls = freshSysctls();
    this.conntrack = new Conntrack();
    this.ruleset = { tables: new Map() };
    this.register({ kind: "loopback", name: "lo", ifindex: 0, mac: MAC_ZERO, mtu: 65536, txqlen: 1000, up: false, master: undefined, hairpin: false, learning: true, portNo: undefined });
  }

  // ---- links ------------------------------------------------------------------------------

  /** A device by name, or throws `Cannot find device "X"` as iproute2 does. */
  dev(name: string): Device {
    const d = this.devices.get(name);
    if (!d) throw new KernelError(`Cannot find device "${name}"`);
    return d;
  }

  /** A device about to change (a device a copy still shares with its source is copied first). */
  devMut(name: string): Device {
    return this.devTable.mutable(this.dev(name));
  }

  /**
   * The ifindex the next device made here would get (`dev_new_index`), taken now for a device
   * made later (`peerIfindex`): the caller makes no other device here before that one.
   */
  reserveIfindex(): number {
    return this.nextIfindex++;
  }

  /** A random MAC from the network's seeded source, as `linkAdd` draws one for a device given none. */
  randomMac(): Mac {
    return this.host.randomMac();
  }

  /** Device names in ifindex order. */
  devOrder(): string[] {
    return [...this.devices.keys()];
  }

  // Takes ownership of `d` (a fresh literal from linkAdd) and numbers it: no copy per device.
  private register(d: Device, ifindex?: number): Device {
    if (this.devices.has(d.name)) throw new KernelError(`RTNETLINK answers: File exists (device ${d.name} in netns ${this.name})`);
    (d as { ifindex: number }).ifindex = ifindex ?? this.nextIfindex++;
    this.devTable.add(d);
    this.sysctls.perIf.set(d.name, { ...this.sysctls.default });
    return d;
  }

  /** `ip link add NAME type veth|bridge|vxlan …` (a `nic` joins an underlay segment). */
  linkAdd(spec: LinkSpec): Device {
    this.host.touched?.();
    // `ip link add` leaves the kernel's default queue length (1000); netlink callers may set 0.
    // Every device is one whole literal with the common fields first, in one order, and `master`
    // and `portNo` present: a kind's devices share one object shape (a spread of a shared base,
    // or a field added on enslaving, made a shape per path, and the hops' reads megamorphic).
    const txqlen = spec.txqlen ?? 1000;
    switch (spec.kind) {
      case "veth": {
        const peerNs = spec.peerNs === undefined ? this : this.host.peer(spec.peerNs);
        if (!peerNs) throw new KernelError(`Cannot find netns "${spec.peerNs ?? ""}"`);
        if (this.devices.has(spec.name)) throw new KernelError(`RTNETLINK answers: File exists`);
        // veth_newlink registers the peer first.
        // Whole literals: a spread of `base` plus new properties costs far more, once per pod.
        const mtu = spec.mtu ?? 1500;
        peerNs.register({ kind: "veth", name: spec.peer, ifindex: 0, mac: spec.peerMac ?? this.host.randomMac(), mtu, txqlen, up: false, master: undefined, hairpin: false, learning: true, portNo: undefined, peerNs: this.name, peer: spec.name }, spec.peerIfindex);
        if (peerNs !== this) {
          this.allocNsid(peerNs.name);
          peerNs.allocNsid(this.name);
        }
        return this.register({ kind: "veth", name: spec.name, ifindex: 0, mac: spec.mac ?? this.host.randomMac(), mtu, txqlen, up: false, master: undefined, hairpin: false, learning: true, portNo: undefined, peerNs: peerNs.name, peer: spec.peer });
      }
      case "bridge": {
        const d = this.register({ kind: "bridge", name: spec.name, ifindex: 0, mac: spec.mac ?? this.host.randomMac(), mtu: spec.mtu ?? 1500, txqlen, up: false, master: undefined, hairpin: false, learning: true, portNo: undefined, ageingTime: 30000, macPinned: spec.mac !== undefined });
        const fdb = new Fdb();
        this.fdbs.set(spec.name, fdb);
        return d;
      }
      case "vxlan": {
        if (spec.dev !== undefined) this.dev(spec.dev);
        const vx: Vxlan = {
          kind: "vxlan",
          name: spec.name,
          ifindex: 0,
          mac: spec.mac ?? this.host.randomMac(),
          mtu: spec.mtu ?? (spec.dev !== undefined ? this.dev(spec.dev).mtu - 50 : 1450),
          txqlen,
          up: false,
          master: undefined,
          hairpin: false,
          learning: true,
          portNo: undefined,
          vni: spec.vni,
          local: spec.local,
          dev: spec.dev,
          dstport: spec.dstport ?? 8472,
          fdbLearning: spec.learning ?? true,
          fdb: [],
        };
        return this.register(vx);
      }
      case "nic":
        return this.register({ kind: "nic", name: spec.name, ifindex: 0, mac: spec.mac ?? this.host.randomMac(), mtu: spec.mtu ?? 1500, txqlen, up: false, master: undefined, hairpin: false, learning: true, portNo: undefined, segment: spec.segment });
    }
  }

  /** `ip link del NAME` (a veth takes its peer with it). */
  linkDel(name: string): void {
    this.host.touched?.();
    const d = this.dev(name);
    if (d.master !== undefined) this.linkSetNomaster(name);
    this.linkSetDown(name);
    this.devTable.remove(name);
    this.addrs.splice(0, this.addrs.length, ...this.addrs.filter((a) => a.dev !== name));
    for (const [k, n] of this.neigh) if (n.dev === name) this.neigh.delete(k);
    if (d.kind === "bridge") {
      for (const p of [...this.devices.values()]) if (p.master === name) this.devMut(p.name).master = undefined;
      this.fdbs.delete(name);
    }
    if (d.kind === "veth") {
      const peer = this.host.peer(d.peerNs);
      if (peer?.devices.has(d.peer)) peer.linkDelOne(d.peer);
    }
  }

  private linkDelOne(name: string): void {
    const d = this.dev(name);
    if (d.master !== undefined) this.linkSetNomaster(name);
    this.linkSetDown(name);
    this.devTable.remove(name);
    this.addrs.splice(0, this.addrs.length, ...this.addrs.filter((a) => a.dev !== name));
  }

  /** `ip link set NAME up` — re-adds the routes of its addresses (`fib_add_ifaddr`). */
  linkSetUp(name: string): void {
    this.host.touched?.();
    const d = this.dev(name);
    if (d.up) return;
    this.devMut(name).up = true;
    if (d.kind === "loopback" && !this.addrs.some((a) => a.dev === "lo")) {
      this.addrAdd("lo", { addr: 0x7f000001 as Ipv4, len: 8 }, { scope: "host" });
      return;
    }
    for (const a of this.addrs) if (a.dev === name) this.addAddrRoutes(a, true);
  }

  /** `ip link set NAME down` — every route through it goes, static ones too (`fib_sync_down_dev`). */
  linkSetDown(name: string): void {
    this.host.touched?.();
    const d = this.dev(name);
    if (!d.up) return;
    this.devMut(name).up = false;
    this.main.remove((r) => r.dev === name);
    this.local.remove((r) => r.dev === name && r.type !== "local");
    for (const [k, n] of this.neigh) if (n.dev === name && n.state !== "PERMANENT") this.neigh.delete(k);
  }

  /** `ip link set NAME address MAC`. */
  linkSetAddress(name: string, mac: Mac): void {
    const d = this.devMut(name);
    const old = d.mac;
    d.mac = mac;
    if (d.kind === "bridge") {
      d.macPinned = true;
      const fdb = this.fdbs.get(name) as Fdb;
      fdb.removeLocal(old, undefined);
      this.addBridgeSelfEntry(d);
    } else if (d.master !== undefined) {
      const fdb = this.fdbs.get(d.master) as Fdb;
      fdb.removeLocal(old, name);
      fdb.addLocal(mac, name, this.host.now());
      this.recalcBridge(d.master);
    }
  }

  /** `ip link set NAME mtu N`. */
  linkSetMtu(name: string, mtu: number): void {
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new KernelError(`Error: mtu ${mtu} out of range for ${name} (68-65535)`);
    this.devMut(name).mtu = mtu;
  }

  /** `ip link set PORT master BRIDGE`. */
  linkSetMaster(port: string, bridge: string): void {
    this.host.touched?.();
    const p = this.devMut(port);
    const b = this.dev(bridge);
    if (b.kind !== "bridge") throw new KernelError(`Error: ${bridge} is not a bridge`);
    if (p.kind === "bridge" || p.kind === "loopback") throw new KernelError(`Error: Device ${port} can not be enslaved to a bridge`);
    if (p.master !== undefined) this.linkSetNomaster(port);
    p.master = bridge;
    const used = new Set([...this.devices.values()].filter((d) => d.master === bridge && d !== p).map((d) => d.portNo));
    let n = 1;
    while (used.has(n)) n++;
    p.portNo = n;
    (this.fdbs.get(bridge) as Fdb).addLocal(p.mac, port, this.host.now());
    this.recalcBridge(bridge);
  }

  /** `ip link set PORT nomaster`. */
  linkSetNomaster(port: string): void {
    this.host.touched?.();
    const b = this.dev(port).master;
    if (b === undefined) return;
    const p = this.devMut(port);
    (this.fdbs.get(b) as Fdb).flushPort(port);
    // Cleared, not deleted: a delete puts the object in dictionary mode, and every device read slows.
    p.master = undefined;
    p.portNo = undefined;
    this.recalcBridge(b);
  }

  /** `bridge link set dev PORT hairpin on|off learning on|off`. */
  bridgeLinkSet(port: string, opts: { readonly hairpin?: boolean; readonly learning?: boolean }): void {
    const p = this.devMut(port);
    if (p.master === undefined) throw new KernelError(`Error: ${port} is not a bridge port`);
    if (opts.hairpin !== undefined) p.hairpin = opts.hairpin;
    if (opts.learning !== undefined) p.learning = opts.learning;
  }

  /** The bridge's MAC follows the lowest port MAC unless pinned; its MTU follows the lowest port MTU. */
  private recalcBridge(name: string): void {
    const b = this.devMut(name) as Bridge;
    const ports = [...this.devices.values()].filter((d) => d.master === name);
    if (ports.length > 0) b.mtu = Math.min(...ports.map((p) => p.mtu));
    const fdb = this.fdbs.get(name) as Fdb;
    if (!b.macPinned && ports.length > 0) {
      const lowest = ports.map((p) => p.mac).sort()[0] as Mac;
      if (lowest !== b.mac) {
        fdb.removeLocal(b.mac, undefined);
        b.mac = lowest;
      }
    }
    this.addBridgeSelfEntry(b);
  }

  // fdb_insert skips the bridge's own entry when a port's local entry already has that MAC.
  private addBridgeSelfEntry(b: Bridge): void {
    (this.fdbs.get(b.name) as Fdb).addLocal(b.mac, undefined, this.host.now());
  }

  /** How iproute2 names a veth's peer namespace: `link-netns NAME`, or `link-netnsid N` for an unnamed one. */
  peerNetnsLabel(d: Extract<Device, { kind: "veth" }>): string {
    if (this.host.peer(d.peerNs)?.anonymous) return `link-netnsid ${this.nsids.get(d.peerNs) ?? 0}`;
    return `link-netns ${d.peerNs}`;
  }

  /** The ifindex of a veth's peer (in its own namespace), as `@ifN` shows it. */
  peerIfindex(d: Extract<Device, { kind: "veth" }>): number {
    return this.host.peer(d.peerNs)?.devices.get(d.peer)?.ifindex ?? 0;
  }

  /** Virtual time now (ms). */
  now(): number {
    return this.host.now();
  }

  private allocNsid(peer: string): void {
    if (this.nsids.has(peer)) return;
    if (!this.nsidsMap || this.nsidsShared) {
      this.nsidsMap = new Map(this.nsidsMap);
      this.nsidsShared = false;
    }
    this.nsidsMap.set(peer, this.nsidsMap.size);
  }

  /** True when the device has carrier (`LOWER_UP`): a veth needs its peer up, a bridge an up port. */
  carrier(d: Device): boolean {
    if (!d.up) return false;
    switch (d.kind) {
      case "veth": {
        const p = this.host.peer(d.peerNs)?.devices.get(d.peer);
        return p?.up ?? false;
      }
      case "bridge":
        return [...this.devices.values()].some((p) => p.master === d.name && this.carrier(p));
      default:
        return true;
    }
  }

  // ---- addresses --------------------------------------------------------------------------

  /** `ip addr add A/LEN [brd B] [scope S] dev DEV`. */
  addrAdd(dev: string, addr: Cidr | string, opts: { readonly brd?: Ipv4 | "+"; readonly scope?: IfAddr["scope"] } = {}): void {
    this.host.touched?.();
    const d = this.dev(dev);
    const c = typeof addr === "string" ? parsedAddr(addr) : addr;
    if (this.addrs.some((a) => a.dev === dev && a.addr === c.addr && a.len === c.len)) throw new KernelError(`RTNETLINK answers: File exists`);
    const mask = maskOf(c.len);
    const secondary = this.addrs.some((a) => a.dev === dev && a.len === c.len && ((a.addr ^ c.addr) & mask) >>> 0 === 0);
    const brd = opts.brd === "+" ? (c.len < 31 ? cidrBroadcast(c) : undefined) : opts.brd;
    const scope = opts.scope ?? ((c.addr >>> 24) === 127 ? "host" : "global");
    const a: IfAddr = { dev, addr: c.addr, len: c.len, ...(brd !== undefined ? { brd } : {}), scope, secondary };
    this.addrs.push(a);
    this.addAddrRoutes(a, d.up);
  }

  /** `ip addr del A/LEN dev DEV`. */
  addrDel(dev: string, addr: Cidr | string): void {
    this.host.touched?.();
    const c = typeof addr === "string" ? parsedAddr(addr) : addr;
    const i = this.addrs.findIndex((a) => a.dev === dev && a.addr === c.addr && a.len === c.len);
    if (i < 0) throw new KernelError(`RTNETLINK answers: Cannot assign requested address`);
    this.addrs.splice(i, 1);
    this.local.remove((r) => r.dev === dev && r.proto === "kernel" && (r.src === c.addr || r.dst.addr === c.addr));
    this.main.remove((r) => r.dev === dev && r.proto === "kernel" && r.src === c.addr);
  }

  // fib_add_ifaddr: the local route always; broadcast and prefix routes only while the device is up.
  private addAddrRoutes(a: IfAddr, up: boolean): void {
    const isLo = this.dev(a.dev).kind === "loopback";
    // A secondary address's routes carry the primary's address as their source (fib_add_ifaddr).
    const prim = a.secondary ? (this.addrs.find((x) => x.dev === a.dev && !x.secondary && x.len === a.len && ((x.addr ^ a.addr) & maskOf(a.len)) >>> 0 === 0)?.addr ?? a.addr) : a.addr;
    const kernel = (table: "local" | "main", type: "local" | "broadcast" | "unicast", addr: Ipv4, len: number, scope: "host" | "link"): Route => kernelRoute(a.dev, prim, table, type, addr, len, scope);
    this.local.add(kernel("local", "local", a.addr, 32, "host"));
    if (!up) return;
    if (a.brd !== undefined && a.brd !== 0xffffffff) this.local.add(kernel("local", "broadcast", a.brd, 32, "link"));
    const prefix = ((a.addr & maskOf(a.len)) >>> 0) as Ipv4;
    if (prefix !== 0 && !a.secondary && (prefix !== a.addr || a.len < 32)) {
      if (isLo) this.local.add(kernel("local", "local", prefix, a.len, "host"));
      else this.main.add(kernel("main", "unicast", prefix, a.len, "link"));
      if (a.len < 31) {
        const bc = ((prefix | ~maskOf(a.len)) >>> 0) as Ipv4;
        this.local.add(kernel("local", "broadcast", bc, 32, "link"));
      }
    }
  }

  /** The namespace's own addresses (`inet_addr_type == RTN_LOCAL`). */
  isLocal(a: Ipv4): boolean {
    const r = this.local.lookup(a);
    return r?.type === "local";
  }

  /** `inet_select_addr(dev, dst, scope)` (route.ts). */
  selectAddr(dev: string, dst: Ipv4 | 0, scope: IfAddr["scope"] = "global"): Ipv4 | undefined {
    return selectAddr(this.addrs, this.devOrder(), dev, dst, scope);
  }

  // ---- routes -----------------------------------------------------------------------------

  /** `ip route add [TYPE] DST [via GW] [dev DEV] [src SRC] [metric N] [scope S] [onlink]`. */
  routeAdd(spec: RouteSpec): void {
    // Who answers an ARP request reads local routes; a main-table route matters only to proxy_arp.
    if (spec.table === "local") this.host.touched?.();
    const type = spec.type ?? "unicast";
    const table = spec.table ?? "main";
    if (((spec.dst.addr & ~maskOf(spec.dst.len)) >>> 0) !== 0) throw new KernelError(`Error: Invalid prefix for given prefix length (${formatIpv4(spec.dst.addr)}/${spec.dst.len}).`);
    let dev = spec.dev;
    if (type === "unicast") {
      // `via 0.0.0.0` is no gateway: a route on the device (its scope still a gateway's, global).
      if (spec.via !== undefined && (spec.via !== 0 || spec.onlink)) dev = gatewayDevice(spec.via, dev, spec, this.local, this.main, (d) => this.dev(d).up);
      if (dev === undefined) throw new KernelError(`Error: Device for nexthop is not up.`);
      const d = this.dev(dev);
      if (!d.up) throw new KernelError(`Error: Device for nexthop is not up.`);
    } else if (dev !== undefined) {
      this.dev(dev);
    }
    const scope = spec.scope ?? (type === "unicast" ? (spec.via !== undefined ? "global" : "link") : type === "local" ? "host" : "global");
    const r = internRoute({
      table,
      type,
      dst: spec.dst,
      ...(dev !== undefined ? { dev } : {}),
      ...(spec.via !== undefined && spec.via !== 0 ? { via: spec.via } : {}),
      ...(spec.src !== undefined ? { src: spec.src } : {}),
      metric: spec.metric ?? 0,
      scope,
      ...(spec.proto !== undefined ? { proto: spec.proto } : {}),
      onlink: spec.onlink ?? false,
    });
    const ok = (table === "main" ? this.main : this.local).add(r);
    if (!ok) throw new KernelError(`RTNETLINK answers: File exists`);
  }

  /** `ip route replace …`: the route with the same destination and metric is replaced (or added). */
  routeReplace(spec: RouteSpec): void {
    const table = spec.table === "local" ? this.local : this.main;
    const metric = spec.metric ?? 0;
    const old = table.exact(spec.dst.addr, spec.dst.len).filter((r) => r.metric === metric);
    table.removeExact(spec.dst.addr, spec.dst.len, old);
    try {
      this.routeAdd(spec);
    } catch (e) {
      for (const r of old) table.add(r);
      throw e;
    }
  }

  /** `ip route del DST [via GW] [dev DEV]`. */
  routeDel(dst: Cidr, match: { readonly via?: Ipv4; readonly dev?: string } = {}): void {
    const n = this.main.remove((r) => r.dst.addr === dst.addr && r.dst.len === dst.len && (match.via === undefined || r.via === match.via) && (match.dev === undefined || r.dev === match.dev));
    if (n === 0) throw new KernelError(`RTNETLINK answers: No such process`);
  }

  // ---- neighbours -------------------------------------------------------------------------

  /** `ip neigh replace IP lladdr MAC dev DEV nud permanent|reachable|stale`. */
  neighReplace(dev: string, ip: Ipv4, mac: Mac, state: NudState = "PERMANENT"): void {
    this.dev(dev);
    this.neigh.set(neighKey(dev, ip), { dev, ip, mac, state, updatedAt: this.host.now() });
  }

  /** `ip neigh del IP dev DEV`. */
  neighDel(dev: string, ip: Ipv4): void {
    if (!this.neigh.delete(neighKey(dev, ip))) throw new KernelError(`RTNETLINK answers: No such file or directory`);
  }

  // ---- FDB --------------------------------------------------------------------------------

  /**
   * `bridge fdb append MAC dev VXLAN dst IP` (a VXLAN remote; the all-zeros MAC is the default
   * destination and may be appended several times), or `bridge fdb add MAC dev PORT master static`.
   */
  bridgeFdbAppend(mac: Mac, dev: string, dst?: Ipv4): void {
    const d = this.dev(dev);
    if (d.kind === "vxlan") {
      if (dst === undefined) throw new KernelError(`Error: vxlan fdb entries need a dst`);
      // The all-zeros MAC may repeat, with another dst; any other MAC once.
      if (mac === MAC_ZERO ? d.fdb.some((e) => e.mac === mac && e.dst === dst) : vxlanFdbFirst(d.fdb, mac) >= 0) throw new KernelError(`RTNETLINK answers: File exists`);
      vxlanFdbPush(ownVxlanFdb(this.devMut(dev) as Vxlan), { mac, dst, learned: false, updatedAt: this.host.now() });
      return;
    }
    if (d.master === undefined) throw new KernelError(`Error: ${dev} is not a bridge port`);
    (this.fdbs.get(d.master) as Fdb).addStatic(mac, dev, this.host.now());
  }

  /** `bridge fdb replace MAC dev VXLAN dst IP self permanent` (flanneld's per-remote entry). */
  bridgeFdbReplace(mac: Mac, dev: string, dst: Ipv4): void {
    const d = this.dev(dev);
    if (d.kind !== "vxlan") throw new KernelError(`Error: ${dev} is not a vxlan device`);
    const fdb = ownVxlanFdb(this.devMut(dev) as Vxlan);
    const i = vxlanFdbFirst(fdb, mac);
    const entry = { mac, dst, learned: false, updatedAt: this.host.now() };
    if (i >= 0) fdb[i] = entry;
    else vxlanFdbPush(fdb, entry);
  }

  /** `bridge fdb del MAC dev VXLAN`. */
  bridgeFdbDel(mac: Mac, dev: string): void {
    const d = this.dev(dev);
    if (d.kind !== "vxlan") throw new KernelError(`Error: ${dev} is not a vxlan device`);
    const fdb = ownVxlanFdb(this.devMut(dev) as Vxlan);
    const i = vxlanFdbFirst(fdb, mac);
    if (i < 0) throw new KernelError(`RTNETLINK answers: No such file or directory`);
    vxlanFdbRemove(fdb, i);
  }

  // ---- sysctls ----------------------------------------------------------------------------

  /** `sysctl -w KEY=VALUE` for the keys this model honours (sysctl.ts); any other key is refused by name. */
  sysctlSet(key: string, value: string | number | boolean): void {
    // Only forwarding and proxy_arp decide who answers an ARP request; agents re-pin sysctls often.
    const arpRelevant = /forward|proxy_arp/.test(key);
    const before = arpRelevant ? arpConfKey(this.sysctls) : "";
    setSysctl(this.sysctls, key, value);
    if (arpRelevant && arpConfKey(this.sysctls) !== before) this.host.touched?.();
  }

  /** The effective conf of an interface: rp_filter = max(all, IF); route_localnet and proxy_arp = all || IF. */
  conf(dev: string): IfConf {
    return effectiveConf(this.sysctls, dev);
  }

  // ---- netfilter and sockets -------------------------------------------------------------

  /**
   * `iptables-restore [--noflush] < text`: parses the text (the contract between rule writers and
   * the kernel, DESIGN decision 1) and installs it. Throws with the line on a parse error. The
   * text may come as its lines, as a writer's line buffer holds them (kube-proxy's).
   */
  iptablesRestore(text: string | readonly string[], opts: { readonly noflush?: boolean; readonly source?: string; readonly replay?: () => string } = {}): void {
    const r = parseRestore(text, { ...(opts.noflush ? { base: this.ruleset, noflush: true } : {}), intern: true });
    if (!r.ok) throw new KernelError(`iptables-restore: line ${r.issue.line} failed${opts.source ? ` (${opts.source})` : ""}: ${r.issue.message}`);
    this.ruleset = r.ruleset;
    const meta = { noflush: opts.noflush === true, ...(opts.source !== undefined ? { source: opts.source } : {}) };
    // A writer that can produce the same text again (kube-proxy, from the inputs of that sync)
    // passes `replay`, so a large text is not kept for the journal's readers.
    const replay = opts.replay;
    this.journal = [...this.journal, replay ? (Object.defineProperty(meta, "text", { get: replay, enumerable: true }) as typeof meta & { readonly text: string }) : { text: typeof text === "string" ? text : text.join("\n"), ...meta }];
  }

  /**
   * Is connection tracking running in this namespace? Only when its rules need it
   * (`usesConntrack`, netfilter/conntrack-users.ts): a bare namespace (a pod) tracks nothing.
   */
  conntrackActive(): boolean {
    return usesConntrack(this.ruleset);
  }

  /** Installs an already-parsed ruleset (shared between nodes with identical rules, DESIGN decision 5). */
  iptablesInstall(rs: Ruleset): void {
    this.ruleset = rs;
  }

  /** A listening socket (`nc -l`, a server): delivery, RST and port unreachable follow from it. */
  listen(proto: Proto, addr: Ipv4, port: number, opts: { readonly reply?: Socket["reply"]; readonly label?: string } = {}): void {
    if (this.sockets.some((s) => s.proto === proto && s.port === port && (s.addr === addr || s.addr === 0 || addr === 0))) {
      throw new KernelError(`bind: Address already in use (${proto} ${formatIpv4(addr)}:${port} in netns ${this.name})`);
    }
    this.sockets.push({ proto, addr, port, reply: opts.reply ?? "none", ...(opts.label !== undefined ? { label: opts.label } : {}) });
  }

  /** The socket that receives a packet to `addr:port`, the specific address before the wildcard. */
  socketFor(proto: Proto, addr: Ipv4, port: number): Socket | undefined {
    return this.sockets.find((s) => s.proto === proto && s.port === port && s.addr === addr) ?? this.sockets.find((s) => s.proto === proto && s.port === port && s.addr === 0);
  }

  /**
   * A copy living in `host` that behaves as a deep copy: what is large and rarely changed is
   * shared until either side changes it (the constructor's copy path says what).
   */
  cloneInto(host: NsHost): NetNs {
    return new NetNs(this.name, host, this);
  }

  /**
   * Takes `cost` ms of tokens from the peer's bucket (refilled at 1 ms per ms, capped at `cap`),
   * as `inet_peer_xrlim_allow` and `ip_error` do; a new peer starts full. False: rate-limited.
   */
  icmpAllow(peer: Ipv4, now: number, cap: number, cost = 1000): boolean {
    const st = this.icmpPeers.get(peer) ?? { tokens: 60_000, last: now };
    st.tokens = Math.min(cap, st.tokens + (now - st.last));
    st.last = now;
    this.icmpPeers.set(peer, st);
    if (st.tokens < cost) return false;
    st.tokens -= cost;
    return true;
  }

  /** The next IP ID (the per-namespace generator, simplified to a counter). */
  nextIpId(): number {
    this.ipId = (this.ipId + 1) & 0xffff;
    return this.ipId;
  }
}

function parsedAddr(text: string): Cidr {
  const r = parseIfAddr(text);
  if (!r.ok) throw new KernelError(`Error: inet prefix is expected rather than "${text}" (${r.error}).`);
  return r.value;
}

const NO_NSIDS: ReadonlyMap<string, number> = new Map();

/**
 * The neighbour table key, `DEV|IP`: one string per pair, shared by every namespace (flannel gives
 * every node the same entry for each other node's gateway, 5,000 a node at 5,000 nodes; made per
 * call, each node kept strings of its own, and every lookup made one). Bounded: past NEIGH_KEYS
 * pairs the memo starts again; a key made anew equals the old one.
 */
export function neighKey(dev: string, ip: Ipv4): string {
  let byIp = neighKeys.get(dev);
  let k = byIp?.get(ip);
  if (k !== undefined) return k;
  if (neighKeyCount >= NEIGH_KEYS) {
    neighKeys.clear();
    neighKeyCount = 0;
    byIp = undefined;
  }
  if (!byIp) neighKeys.set(dev, (byIp = new Map()));
  k = `${dev}|${ip}`;
  byIp.set(ip, k);
  neighKeyCount += 1;
  return k;
}
const NEIGH_KEYS = 500_000;
const neighKeys = new Map<string, Map<number, string>>();
let neighKeyCount = 0;
