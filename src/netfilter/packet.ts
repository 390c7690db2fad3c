/**
 * @module netfilter/packet
 * What netfilter sees of a packet (the skb fields matches read) and the environment a walk runs
 * in: the hook, the conntrack view, address types, `recent` lists, ipsets and the source of
 * random decisions. Kept apart from the kernel's Skb so the engine can trace an offline dump.
 */
import type { Ipv4 } from "../net/addr.js";
import type { Cidr } from "../net/cidr.js";
import type { Tuple } from "../net/tuple.js";
import type { CtState, Hook } from "./model.js";

/** The packet fields matches test. */
export interface NfPacket {
  /** IP protocol number. */
  readonly proto: number;
  readonly src: Ipv4;
  readonly dst: Ipv4;
  /** Ports for TCP/UDP; 0 otherwise. */
  readonly sport: number;
  readonly dport: number;
  readonly icmpType?: number | undefined;
  readonly icmpCode?: number | undefined;
  readonly tcpFlags?: number | undefined;
  /** A non-first fragment (`-f`). */
  readonly fragment: boolean;
  /** Input and output interface names ("" when there is none at this hook). */
  readonly inIface: string;
  readonly outIface: string;
  /** Bridge ports, for `-m physdev` on bridged frames. */
  readonly physIn?: string | undefined;
  readonly physOut?: string | undefined;
  readonly bridged: boolean;
  readonly mark: number;
  /** `-m pkttype`: host (unicast to us), broadcast, multicast, otherhost. */
  readonly pktType: "host" | "broadcast" | "multicast" | "otherhost";
}

/** The conntrack entry as matches see it. */
export interface CtView {
  /** The state of this packet's connection: NEW, ESTABLISHED, RELATED, INVALID or UNTRACKED. */
  readonly state: CtState;
  readonly dnat: boolean;
  readonly snat: boolean;
  readonly status: ReadonlySet<string>;
  readonly orig: Tuple;
  readonly reply: Tuple;
  readonly mark: number;
  readonly dir: "ORIGINAL" | "REPLY";
  readonly expiresSec: number;
}

/** One `recent` list entry. */
export interface RecentEntry {
  readonly addr: Ipv4;
  readonly hits: readonly number[];
  readonly ttl: number;
}

/** Everything outside the packet that a walk reads or changes. */
export interface NfEnv {
  readonly hook: Hook;
  /** Route types of an address (`LOCAL`, `UNICAST`, `BROADCAST`, …), optionally limited to an interface. */
  addrTypes(a: Ipv4, iface?: string): readonly string[];
  readonly ct?: CtView | undefined;
  /** xt_recent lists by name; a walk may add to them (`--set`). */
  readonly recent: Map<string, RecentEntry[]>;
  /** ipset contents by set name (hash:ip / hash:net as prefixes). */
  readonly ipsets: ReadonlyMap<string, readonly Cidr[]>;
  /** Virtual time in milliseconds (recent --seconds, limit). */
  readonly nowMs: number;
  /**
   * The random decision of a `statistic --mode random` rule: true when the rule matches.
   * `probability` is the kernel's effective value (lround(p·2^31)/2^31); `site` names the rule.
   */
  chooseRandom(probability: number, site: string): boolean;
  /** Per-rule packet counters for `statistic --mode nth` (site → count seen). */
  readonly nth: Map<string, number>;
}

/** The IP protocol numbers matches compare against. */
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMP = 1;
