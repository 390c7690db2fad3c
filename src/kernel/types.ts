/**
 * @module kernel/types
 * The state one emulated Linux network namespace owns, as plain records: devices (a closed union,
 * STYLE 3.5), IPv4 addresses, routes, neighbours, listening sockets and sysctls. Behaviour lives
 * in the modules that act on them (`route.ts`, `devices/*.ts`, `ip-pipeline.ts`).
 */
import type { Ipv4, Mac } from "../net/addr.js";
import type { Cidr } from "../net/cidr.js";
import type { Proto } from "../net/tuple.js";

/** Fields every device has (`struct net_device`). */
interface DeviceBase {
  readonly name: string;
  readonly ifindex: number;
  mac: Mac;
  mtu: number;
  /** `txqueuelen`; 0 prints no `qlen` (devices netlink creates with TxQLen 0: CNI veths, flannel.1). */
  readonly txqlen: number;
  /** Administrative state (`ip link set … up`, IFF_UP). */
  up: boolean;
  /** The bridge this device is a port of (`ip link set … master`); always present (undefined: none), see Skb. */
  master: string | undefined;
  /** Bridge-port flags (`bridge link set … hairpin on|learning off`), meaningful when `master` is set. */
  hairpin: boolean;
  learning: boolean;
  /** Bridge port number (`port_no`), assigned when enslaved. */
  portNo: number | undefined;
}

/** The loopback device `lo` every namespace starts with. */
export interface Loopback extends DeviceBase {
  readonly kind: "loopback";
}

/** One end of a veth pair; the peer may live in another namespace. */
export interface Veth extends DeviceBase {
  readonly kind: "veth";
  readonly peerNs: string;
  readonly peer: string;
}

/** A Linux bridge (vlan_filtering 0, STP off). Its FDB lives in `Fdb` (devices/fdb.ts). */
export interface Bridge extends DeviceBase {
  readonly kind: "bridge";
  /** `ageing_time` in centiseconds as iproute2 prints it (30000 = 300 s). */
  ageingTime: number;
  /** True once the MAC was set explicitly; otherwise it follows the lowest port MAC. */
  macPinned: boolean;
}

/** A static remote for a VXLAN device (`bridge fdb add|append MAC dev vxlan0 dst IP`). */
export interface VxlanFdbEntry {
  readonly mac: Mac;
  readonly dst: Ipv4;
  /** Learned (from the outer source) rather than configured; ages out. */
  readonly learned: boolean;
  updatedAt: number;
}

/** A VXLAN device (`ip link add NAME type vxlan id VNI local IP dev DEV dstport PORT [nolearning]`). */
export interface Vxlan extends DeviceBase {
  readonly kind: "vxlan";
  readonly vni: number;
  readonly local: Ipv4 | undefined;
  /** The underlay device (`dev`), if given. */
  readonly dev: string | undefined;
  readonly dstport: number;
  /** Learn remotes from the outer source (`learning`; flannel sets `nolearning`). */
  readonly fdbLearning: boolean;
  readonly fdb: VxlanFdbEntry[];
}

/** A NIC attached to an underlay segment (the L2 network between nodes and external hosts). */
export interface Nic extends DeviceBase {
  readonly kind: "nic";
  readonly segment: string;
}

/** A network device. */
export type Device = Loopback | Veth | Bridge | Vxlan | Nic;

/** An IPv4 address on a device (`ip addr add A/LEN [brd B] dev D`). */
export interface IfAddr {
  readonly dev: string;
  readonly addr: Ipv4;
  readonly len: number;
  /** The broadcast address, when one was given (`brd`), as `ip addr` prints it. */
  readonly brd?: Ipv4;
  readonly scope: "global" | "link" | "host";
  /** A second address in a subnet the device already has (IFA_F_SECONDARY). */
  readonly secondary: boolean;
}

/** Route types (`ip route add TYPE …`). */
export type RouteType = "unicast" | "local" | "broadcast" | "blackhole" | "unreachable" | "prohibit";

/** A route in table `local` or `main`. */
export interface Route {
  readonly table: "local" | "main";
  readonly type: RouteType;
  readonly dst: Cidr;
  readonly dev?: string;
  readonly via?: Ipv4;
  readonly src?: Ipv4;
  readonly metric: number;
  readonly scope: "global" | "link" | "host";
  /** `proto kernel` for routes the kernel adds with an address; undefined prints nothing. */
  readonly proto?: "kernel" | "static" | "boot";
  readonly onlink: boolean;
}

/** Neighbour states (`ip neigh`), NUD_*. */
export type NudState = "PERMANENT" | "REACHABLE" | "STALE" | "DELAY" | "INCOMPLETE" | "FAILED";

/** A neighbour (ARP) entry. */
export interface Neighbour {
  readonly dev: string;
  readonly ip: Ipv4;
  mac?: Mac;
  state: NudState;
  updatedAt: number;
}

/** A listening socket (`ss -l`): what the namespace answers on. */
export interface Socket {
  readonly proto: Proto;
  /** 0.0.0.0 for the wildcard address. */
  readonly addr: Ipv4;
  readonly port: number;
  /** What the application does with a datagram or connection: UDP "echo" replies with the same payload. */
  readonly reply: "none" | "echo";
  /** A label for traces (`nginx`, `coredns`, …). */
  readonly label?: string;
}

/** rp_filter: 0 off, 1 strict, 2 loose. */
export type RpFilter = 0 | 1 | 2;

/** Per-interface IPv4 settings (`net.ipv4.conf.IF.*`). */
export interface IfConf {
  forwarding: boolean;
  rpFilter: RpFilter;
  routeLocalnet: boolean;
  proxyArp: boolean;
}

/** The sysctls this model honours, named as in /proc/sys. */
export interface Sysctls {
  /** `net.ipv4.conf.all.*` (ip_forward mirrors `all.forwarding`). */
  readonly all: IfConf;
  /** `net.ipv4.conf.default.*`, copied to each new interface. */
  readonly default: IfConf;
  /** `net.ipv4.conf.IF.*` */
  readonly perIf: Map<string, IfConf>;
  /** `net.bridge.bridge-nf-call-iptables` (br_netfilter loaded → default 1). */
  bridgeNfCallIptables: boolean;
  /** `net.ipv4.ip_default_ttl` */
  defaultTtl: number;
  /** `net.ipv4.icmp_echo_ignore_all` */
  icmpEchoIgnoreAll: boolean;
}
