/**
 * @module net/headers/transport
 * Codecs for UDP, TCP and ICMP. TCP and UDP checksums cover the IPv4 pseudo-header
 * (RFC 768, RFC 9293 §3.1); a UDP checksum of zero means "none" and is accepted (RFC 768), and
 * an encoded UDP checksum that computes to zero is sent as 0xffff.
 */
import { inetChecksum, onesSum, put16, put32, u16, u32 } from "../bytes.js";
import { IPPROTO_TCP, IPPROTO_UDP } from "../tuple.js";
import type { Decoded, IcmpMessage, PseudoHeader, TcpSegment, UdpDatagram, VxlanPacket, RawPayload } from "./types.js";
import { decodeFail } from "./types.js";
import { decodeVxlan, encodeVxlan } from "./vxlan.js";

/** UDP destination ports decoded as VXLAN: IANA's 4789 and the Linux/flannel default 8472. */
export const VXLAN_PORTS: ReadonlySet<number> = new Set([4789, 8472]);

function pseudoSum(p: PseudoHeader, proto: number, length: number): number {
  const b = new Uint8Array(12);
  put32(b, 0, p.src);
  put32(b, 4, p.dst);
  b[9] = proto;
  put16(b, 10, length);
  return onesSum(b);
}

/** Options for `encodeUdp`. */
export interface UdpEncodeOptions {
  /** Send a zero checksum ("no checksum"), as vxlan devices with `noudpcsum` do. Default false. */
  readonly zeroChecksum?: boolean;
}

/** Encodes a UDP datagram, computing length and checksum. */
export function encodeUdp(d: UdpDatagram, pseudo: PseudoHeader, opts: UdpEncodeOptions = {}): Uint8Array {
  const body = d.payload.kind === "vxlan" ? encodeVxlan(d.payload) : d.payload.bytes;
  const out = new Uint8Array(8 + body.length);
  put16(out, 0, d.srcPort);
  put16(out, 2, d.dstPort);
  put16(out, 4, out.length);
  out.set(body, 8);
  if (!opts.zeroChecksum) {
    const c = inetChecksum(out, 0, out.length, pseudoSum(pseudo, IPPROTO_UDP, out.length));
    put16(out, 6, c === 0 ? 0xffff : c);
  }
  return out;
}

/** Decodes a UDP datagram; VXLAN ports decode their payload as VXLAN. */
export function decodeUdp(b: Uint8Array, pseudo: PseudoHeader): Decoded<UdpDatagram> {
  if (b.length < 8) {
    return decodeFail("udp", "truncated", 0, `UDP header needs 8 bytes, got ${b.length}`);
  }
  const len = u16(b, 4);
  if (len < 8 || len > b.length) {
    return decodeFail("udp", "bad-length", 4, `UDP length ${len} does not fit ${b.length} bytes`);
  }
  const view = b.subarray(0, len);
  if (u16(b, 6) !== 0 && inetChecksum(view, 0, len, pseudoSum(pseudo, IPPROTO_UDP, len)) !== 0) {
    return decodeFail("udp", "bad-checksum", 6, "UDP checksum does not match");
  }
  const srcPort = u16(b, 0);
  const dstPort = u16(b, 2);
  const body = view.slice(8);
  let payload: VxlanPacket | RawPayload = { kind: "raw", proto: 0, bytes: body };
  if (VXLAN_PORTS.has(dstPort)) {
    const v = decodeVxlan(body);
    if (!v.ok) {
      return v;
    }
    payload = v.value;
  }
  return { ok: true, value: { kind: "udp", srcPort, dstPort, payload } };
}

/** Encodes a TCP segment, computing data offset and checksum. */
export function encodeTcp(s: TcpSegment, pseudo: PseudoHeader): Uint8Array {
  const opt = s.options ?? new Uint8Array(0);
  const hlen = 20 + opt.length;
  const out = new Uint8Array(hlen + s.payload.length);
  put16(out, 0, s.srcPort);
  put16(out, 2, s.dstPort);
  put32(out, 4, s.seq);
  put32(out, 8, s.ack);
  out[12] = (hlen / 4) << 4;
  out[13] = s.flags & 0xff;
  put16(out, 14, s.window);
  put16(out, 18, s.urgent);
  out.set(opt, 20);
  out.set(s.payload, hlen);
  put16(out, 16, inetChecksum(out, 0, out.length, pseudoSum(pseudo, IPPROTO_TCP, out.length)));
  return out;
}

/** Decodes a TCP segment and checks its checksum. */
export function decodeTcp(b: Uint8Array, pseudo: PseudoHeader): Decoded<TcpSegment> {
  if (b.length < 20) {
    return decodeFail("tcp", "truncated", 0, `TCP header needs 20 bytes, got ${b.length}`);
  }
  const hlen = ((b[12] ?? 0) >>> 4) * 4;
  if (hlen < 20 || hlen > b.length) {
    return decodeFail("tcp", "bad-length", 12, `TCP data offset ${hlen} does not fit ${b.length} bytes`);
  }
  if (inetChecksum(b, 0, b.length, pseudoSum(pseudo, IPPROTO_TCP, b.length)) !== 0) {
    return decodeFail("tcp", "bad-checksum", 16, "TCP checksum does not match");
  }
  const seg: TcpSegment = {
    kind: "tcp",
    srcPort: u16(b, 0),
    dstPort: u16(b, 2),
    seq: u32(b, 4),
    ack: u32(b, 8),
    flags: b[13] ?? 0,
    window: u16(b, 14),
    urgent: u16(b, 18),
    ...(hlen > 20 ? { options: b.slice(20, hlen) } : {}),
    payload: b.slice(hlen),
  };
  return { ok: true, value: seg };
}

/** Encodes an ICMP message with its checksum. */
export function encodeIcmp(m: IcmpMessage): Uint8Array {
  const out = new Uint8Array(8 + m.payload.length);
  out[0] = m.type;
  out[1] = m.code;
  put16(out, 4, m.id);
  put16(out, 6, m.seq);
  out.set(m.payload, 8);
  put16(out, 2, inetChecksum(out));
  return out;
}

/** Decodes an ICMP message and checks its checksum. */
export function decodeIcmp(b: Uint8Array): Decoded<IcmpMessage> {
  if (b.length < 8) {
    return decodeFail("icmp", "truncated", 0, `ICMP header needs 8 bytes, got ${b.length}`);
  }
  if (inetChecksum(b) !== 0) {
    return decodeFail("icmp", "bad-checksum", 2, "ICMP checksum does not match");
  }
  return {
    ok: true,
    value: { kind: "icmp", type: b[0] ?? 0, code: b[1] ?? 0, id: u16(b, 4), seq: u16(b, 6), payload: b.slice(8) },
  };
}
