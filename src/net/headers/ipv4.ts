/**
 * @module net/headers/ipv4
 * The IPv4 codec (RFC 791 §3.1). The header checksum is computed on encode and checked on decode;
 * the total length and IHL are derived. The protocol number follows from the payload's kind.
 */
import { ipv4 } from "../addr.js";
import { inetChecksum, put16, put32, u16, u32 } from "../bytes.js";
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from "../tuple.js";
import { decodeIcmp, decodeTcp, decodeUdp, encodeIcmp, encodeTcp, encodeUdp, type UdpEncodeOptions } from "./transport.js";
import type { Decoded, Ipv4Header, Ipv4Packet } from "./types.js";
import { decodeFail } from "./types.js";

/** The protocol number an IPv4 packet carries. */
export function ipProtocol(p: Ipv4Packet): number {
  switch (p.payload.kind) {
    case "tcp":
      return IPPROTO_TCP;
    case "udp":
      return IPPROTO_UDP;
    case "icmp":
      return IPPROTO_ICMP;
    case "raw":
      return p.payload.proto;
  }
}

/** Encodes an IPv4 packet and its payload. */
export function encodeIpv4(p: Ipv4Packet, opts: UdpEncodeOptions = {}): Uint8Array {
  const h = p.header;
  const pseudo = { src: h.src, dst: h.dst };
  const pl = p.payload;
  const body =
    pl.kind === "tcp"
      ? encodeTcp(pl, pseudo)
      : pl.kind === "udp"
        ? encodeUdp(pl, pseudo, opts)
        : pl.kind === "icmp"
          ? encodeIcmp(pl)
          : pl.bytes;
  const opt = h.options ?? new Uint8Array(0);
  const hlen = 20 + opt.length;
  const out = new Uint8Array(hlen + body.length);
  out[0] = 0x40 | (hlen / 4);
  out[1] = ((h.dscp & 63) << 2) | (h.ecn & 3);
  put16(out, 2, out.length);
  put16(out, 4, h.id);
  put16(out, 6, (h.df ? 0x4000 : 0) | (h.mf ? 0x2000 : 0) | (h.fragOffset & 0x1fff));
  out[8] = h.ttl;
  out[9] = ipProtocol(p);
  put32(out, 12, h.src);
  put32(out, 16, h.dst);
  out.set(opt, 20);
  put16(out, 10, inetChecksum(out, 0, hlen));
  out.set(body, hlen);
  return out;
}

/** Decodes an IPv4 packet, checks its header checksum, and decodes TCP/UDP/ICMP payloads. */
export function decodeIpv4(b: Uint8Array): Decoded<Ipv4Packet> {
  if (b.length < 20) {
    return decodeFail("ipv4", "truncated", 0, `IPv4 header needs 20 bytes, got ${b.length}`);
  }
  const ver = (b[0] ?? 0) >>> 4;
  if (ver !== 4) {
    return decodeFail("ipv4", "bad-version", 0, `IP version ${ver} is not 4`);
  }
  const hlen = ((b[0] ?? 0) & 15) * 4;
  const total = u16(b, 2);
  if (hlen < 20 || total < hlen || total > b.length) {
    return decodeFail("ipv4", "bad-length", 2, `IPv4 lengths (IHL ${hlen}, total ${total}) do not fit ${b.length} bytes`);
  }
  if (inetChecksum(b, 0, hlen) !== 0) {
    return decodeFail("ipv4", "bad-checksum", 10, "IPv4 header checksum does not match");
  }
  const frag = u16(b, 6);
  const header: Ipv4Header = {
    src: ipv4(u32(b, 12)),
    dst: ipv4(u32(b, 16)),
    ttl: b[8] ?? 0,
    id: u16(b, 4),
    dscp: (b[1] ?? 0) >>> 2,
    ecn: (b[1] ?? 0) & 3,
    df: (frag & 0x4000) !== 0,
    mf: (frag & 0x2000) !== 0,
    fragOffset: frag & 0x1fff,
    ...(hlen > 20 ? { options: b.slice(20, hlen) } : {}),
  };
  const body = b.subarray(hlen, total);
  const proto = b[9] ?? 0;
  const pseudo = { src: header.src, dst: header.dst };
  // Only the first fragment carries the transport header.
  if (header.fragOffset === 0 && !header.mf) {
    const pl =
      proto === IPPROTO_TCP
        ? decodeTcp(body, pseudo)
        : proto === IPPROTO_UDP
          ? decodeUdp(body, pseudo)
          : proto === IPPROTO_ICMP
            ? decodeIcmp(body)
            : undefined;
    if (pl) {
      return pl.ok ? { ok: true, value: { kind: "ipv4", header, payload: pl.value } } : pl;
    }
  }
  return { ok: true, value: { kind: "ipv4", header, payload: { kind: "raw", proto, bytes: body.slice() } } };
}
