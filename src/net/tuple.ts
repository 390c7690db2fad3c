/**
 * @module net/tuple
 * The 5-tuple that identifies a flow, with key functions for Maps. Conntrack stores an original
 * and a reply tuple per connection; `replyOf` swaps the ends (gVisor `tupleID.reply`).
 * For ICMP echo the "ports" are the echo id on both sides, as conntrack does.
 */
import { formatIpv4, type Ipv4 } from "./addr.js";

/** Transport protocols podwire models. */
export type Proto = "tcp" | "udp" | "icmp";

/** IANA protocol numbers. */
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** The protocol number of a protocol name. */
export function protoNumber(p: Proto): number {
  return p === "tcp" ? IPPROTO_TCP : p === "udp" ? IPPROTO_UDP : IPPROTO_ICMP;
}

/** A flow's identity: protocol, source and destination address and port. */
export interface Tuple {
  readonly proto: Proto;
  readonly src: Ipv4;
  readonly sport: number;
  readonly dst: Ipv4;
  readonly dport: number;
}

/** A stable string key, e.g. `"tcp 10.0.0.1:41000>10.96.0.10:80"`. */
export function tupleKey(t: Tuple): string {
  return `${t.proto} ${formatIpv4(t.src)}:${t.sport}>${formatIpv4(t.dst)}:${t.dport}`;
}

/** The tuple of the reverse direction. `replyOf(replyOf(t))` equals `t`. */
export function replyOf(t: Tuple): Tuple {
  return { proto: t.proto, src: t.dst, sport: t.dport, dst: t.src, dport: t.sport };
}

/** `ip:port` text. */
export function formatEndpoint(a: Ipv4, port: number): string {
  return `${formatIpv4(a)}:${port}`;
}
