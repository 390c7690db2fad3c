/**
 * @module kernel/events
 * Trace events: every step a packet takes through the emulated kernels is recorded as one of
 * these (STYLE 3.8). `packetId` stays the same through NAT and encapsulation, so one flow reads
 * as one story; packets the kernel makes in response (ARP, ICMP errors, RST, echo replies) get a
 * new id and name their `cause`.
 */
import type { EthernetFrame, Ipv4Packet } from "../net/headers/types.js";
import type { Tuple } from "../net/tuple.js";
import type { Hook, TableName } from "../netfilter/model.js";
import type { RuleHit } from "../netfilter/traverse.js";
import type { Route } from "./types.js";

/**
 * Why a packet was dropped — a closed union in the spirit of Linux `skb_drop_reason`.
 * `text` on the drop event says it in words.
 */
export type DropReason =
  | "dev-down"
  | "no-route"
  | "route-blackhole"
  | "route-unreachable"
  | "route-prohibit"
  | "forwarding-disabled"
  | "rp-filter"
  | "martian-source"
  | "martian-destination"
  | "ttl-exceeded"
  | "mtu"
  | "nf-drop"
  | "nf-reject"
  | "nf-error"
  | "neigh-failed"
  | "otherhost"
  | "bridge-hairpin"
  | "bridge-port-down"
  | "vxlan-no-fdb"
  | "vxlan-looped"
  | "no-socket"
  | "hop-limit"
  | "ct-invalid";

interface EventBase {
  /** Order of recording (0, 1, 2 …). */
  readonly seq: number;
  /** Virtual time in ms. */
  readonly t: number;
  readonly packetId: number;
  readonly ns: string;
}

/** What a trace records. */
export type KernelEvent =
  | (EventBase & { readonly kind: "dev.rx"; readonly dev: string; readonly frame: EthernetFrame })
  | (EventBase & { readonly kind: "dev.tx"; readonly dev: string; readonly frame: EthernetFrame })
  | (EventBase & { readonly kind: "bridge.fdb"; readonly bridge: string; readonly action: "learn" | "forward" | "flood" | "local"; readonly port?: string; readonly mac: string })
  | (EventBase & { readonly kind: "route.lookup"; readonly dst: string; readonly result: "local" | "forward" | "output" | "broadcast"; readonly route?: Route; readonly via?: string; readonly dev?: string; readonly src?: string })
  | (EventBase & { readonly kind: "neigh"; readonly dev: string; readonly ip: string; readonly result: "hit" | "miss" | "resolved" | "failed"; readonly mac?: string })
  | (EventBase & { readonly kind: "nf.table"; readonly hook: Hook; readonly table: TableName; readonly verdict: string; readonly hits: readonly RuleHit[]; readonly inIface: string; readonly outIface: string })
  | (EventBase & { readonly kind: "ct"; readonly state: string; readonly dir: "ORIGINAL" | "REPLY"; readonly tuple: Tuple })
  | (EventBase & { readonly kind: "nat"; readonly hook: Hook; readonly manip: "src" | "dst"; readonly before: Tuple; readonly after: Tuple; readonly reverse: boolean })
  | (EventBase & { readonly kind: "vxlan.encap"; readonly dev: string; readonly vni: number; readonly outer: Ipv4Packet })
  | (EventBase & { readonly kind: "vxlan.decap"; readonly dev: string; readonly vni: number })
  | (EventBase & { readonly kind: "ttl"; readonly from: number; readonly to: number })
  | (EventBase & { readonly kind: "deliver"; readonly to: "socket" | "kernel"; readonly socket?: string; readonly packet: Ipv4Packet })
  | (EventBase & { readonly kind: "emit"; readonly what: "arp-request" | "arp-reply" | "icmp-error" | "tcp-rst" | "tcp-synack" | "echo-reply" | "udp-reply"; readonly cause: number; readonly packet?: Ipv4Packet })
  | (EventBase & { readonly kind: "note"; readonly text: string })
  | (EventBase & { readonly kind: "drop"; readonly reason: DropReason; readonly text: string; readonly dev?: string });

/** The event without the fields the recorder fills in. */
export type KernelEventInput = KernelEvent extends infer E ? (E extends KernelEvent ? Omit<E, "seq" | "t"> : never) : never;
