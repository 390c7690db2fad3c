/**
 * @module kernel/icmp
 * ICMP errors as the kernel builds them (`icmp_send`): the quoted original packet (as much of it
 * as fits in 576 bytes, RFC 1812 §4.3.2.3), reading the flow out of a quote (conntrack's RELATED
 * lookup) and rewriting a quote when NAT translates an error (`nf_nat_icmp_reply_translation`),
 * with the quoted IPv4 header checksum recomputed and the quoted UDP/TCP checksum adjusted
 * incrementally (RFC 1624) where the quote includes it.
 */
import type { Ipv4 } from "../net/addr.js";
import { encodeIpv4 } from "../net/headers/ipv4.js";
import type { IcmpMessage, Ipv4Packet } from "../net/headers/types.js";
import type { Proto } from "../net/tuple.js";

/** icmp_send quotes at most 576 − 20 − 8 bytes of the offending packet. */
export const ICMP_QUOTE_MAX = 548;

/** The quote of `p` for an ICMP error. */
export function quote(p: Ipv4Packet): Uint8Array {
  const b = encodeIpv4(p);
  return b.subarray(0, Math.min(b.length, ICMP_QUOTE_MAX)).slice();
}

/** The flow a quote describes (as the quoted packet travelled). */
export interface QuotedFlow {
  readonly proto: Proto | "other";
  readonly src: Ipv4;
  readonly dst: Ipv4;
  readonly sport: number;
  readonly dport: number;
}

/** Reads the quoted header; undefined when the quote is too short. */
export function readQuote(q: Uint8Array): QuotedFlow | undefined {
  if (q.length < 28) return undefined;
  const ihl = ((q[0] as number) & 0x0f) * 4;
  if (q.length < ihl + 8) return undefined;
  const v = new DataView(q.buffer, q.byteOffset, q.byteLength);
  const protoNum = q[9] as number;
  const proto: QuotedFlow["proto"] = protoNum === 6 ? "tcp" : protoNum === 17 ? "udp" : protoNum === 1 ? "icmp" : "other";
  const src = v.getUint32(12) as Ipv4;
  const dst = v.getUint32(16) as Ipv4;
  if (proto === "icmp") {
    const id = v.getUint16(ihl + 4);
    return { proto, src, dst, sport: id, dport: id };
  }
  return { proto, src, dst, sport: v.getUint16(ihl), dport: v.getUint16(ihl + 2) };
}

function csumAdjust(csum: number, oldWords: readonly number[], newWords: readonly number[]): number {
  let s = ~csum & 0xffff;
  for (const w of oldWords) s += ~w & 0xffff;
  for (const w of newWords) s += w;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** A copy of the quote with new addresses/ports; checksums kept valid. */
export function rewriteQuote(q: Uint8Array, to: Partial<Omit<QuotedFlow, "proto">>): Uint8Array {
  const out = q.slice();
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const ihl = ((out[0] as number) & 0x0f) * 4;
  const protoNum = out[9] as number;
  const oldW: number[] = [];
  const newW: number[] = [];
  const setAddr = (off: number, a: Ipv4 | undefined): void => {
    if (a === undefined) return;
    oldW.push(v.getUint16(off), v.getUint16(off + 2));
    v.setUint32(off, a);
    newW.push(v.getUint16(off), v.getUint16(off + 2));
  };
  setAddr(12, to.src);
  setAddr(16, to.dst);
  const l4Old = [...oldW];
  const l4New = [...newW];
  if (protoNum === 6 || protoNum === 17) {
    for (const [off, port] of [
      [ihl, to.sport],
      [ihl + 2, to.dport],
    ] as const) {
      if (port === undefined) continue;
      l4Old.push(v.getUint16(off));
      v.setUint16(off, port);
      l4New.push(port);
    }
    const csumOff = ihl + (protoNum === 17 ? 6 : 16);
    if (out.length >= csumOff + 2) {
      const c = v.getUint16(csumOff);
      // A zero UDP checksum means "none" and stays zero.
      if (!(protoNum === 17 && c === 0)) v.setUint16(csumOff, csumAdjust(c, l4Old, l4New));
    }
  } else if (protoNum === 1 && to.sport !== undefined) {
    const old = v.getUint16(ihl + 4);
    v.setUint16(ihl + 4, to.sport);
    if (out.length >= ihl + 4) v.setUint16(ihl + 2, csumAdjust(v.getUint16(ihl + 2), [old], [to.sport]));
  }
  // Recompute the quoted IPv4 header checksum.
  v.setUint16(10, 0);
  let s = 0;
  for (let i = 0; i < ihl; i += 2) s += v.getUint16(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  v.setUint16(10, ~s & 0xffff);
  return out;
}

/** True for ICMP error types (destination unreachable, time exceeded, parameter problem…). */
export function isIcmpError(m: IcmpMessage): boolean {
  return m.type === 3 || m.type === 11 || m.type === 12 || m.type === 4 || m.type === 5;
}
