/**
 * @module kernel/skb
 * The kernel's per-packet metadata (`struct sk_buff`): the IPv4 packet as an immutable record
 * plus what travels with it inside one namespace — mark, conntrack attachment, the input
 * device, br_netfilter state, the route's next hop. Crossing into another namespace scrubs it
 * (`skb_scrub_packet`: mark and conntrack are dropped), except over loopback.
 */
import type { Ipv4 } from "../net/addr.js";
import type { Ipv4Packet } from "../net/headers/types.js";
import type { CtDir, CtEntry } from "../netfilter/conntrack.js";

/** How a packet is attached to conntrack. */
export interface SkbCt {
  readonly entry: CtEntry;
  readonly dir: CtDir;
  /** An ICMP error about this connection (IP_CT_RELATED). */
  readonly related: boolean;
  /** NAT manipulations already decided for an unconfirmed entry ("null binding" included). */
  readonly natDone: Set<"src" | "dst">;
}

/**
 * A packet inside one namespace. Mutable metadata, immutable packet. Every skb has every field
 * (absent ones undefined) and is made by `newSkb`: one object shape, so the stages that read it
 * stay monomorphic (fields added later made a shape per path, and each read a megamorphic load).
 */
export interface Skb {
  /** The packetId the trace follows (kept through NAT and encapsulation). */
  readonly id: number;
  pkt: Ipv4Packet;
  mark: number;
  ct: SkbCt | "untracked" | "invalid" | undefined;
  /** Device the packet arrived on (IP layer: the bridge, not the port). */
  inDev: string | undefined;
  /** Bridge port it entered by (`-m physdev --physdev-in`). */
  physIn: string | undefined;
  /** br_netfilter already ran PREROUTING for it. */
  preroutingDone: boolean;
  /** Next hop chosen by routing, for MASQUERADE and neighbour resolution. */
  nexthop: Ipv4 | undefined;
  /** Link-layer class of the arriving frame. */
  pktType: "host" | "broadcast" | "multicast" | "otherhost";
  /** Locally generated (OUTPUT path). */
  readonly local: boolean;
}

/** A new skb: no conntrack attachment, no route yet. */
export function newSkb(id: number, pkt: Ipv4Packet, mark: number, pktType: Skb["pktType"], local: boolean, physIn?: string, inDev?: string): Skb {
  return { id, pkt, mark, ct: undefined, inDev, physIn, preroutingDone: false, nexthop: undefined, pktType, local };
}

export { ipv4Length } from "../net/packet.js";
