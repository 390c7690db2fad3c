/**
 * @module net/headers/ethernet
 * Ethernet II and ARP codecs. Frames are carried without FCS, as pcap and the kernel's
 * `dev_queue_xmit` see them.
 */
import { formatIpv4, macBytes, macFromBytes, ipv4 } from "../addr.js";
import { put16, u16, u32, put32 } from "../bytes.js";
import { decodeIpv4, encodeIpv4 } from "./ipv4.js";
import type { ArpPacket, Decoded, EthernetFrame } from "./types.js";
import { decodeFail } from "./types.js";

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;

/** Encodes an Ethernet frame and its payload. */
export function encodeEthernet(f: EthernetFrame): Uint8Array {
  const p = f.payload;
  const body = p.kind === "ipv4" ? encodeIpv4(p) : p.kind === "arp" ? encodeArp(p) : p.bytes;
  const type = p.kind === "ipv4" ? ETHERTYPE_IPV4 : p.kind === "arp" ? ETHERTYPE_ARP : p.proto;
  const out = new Uint8Array(14 + body.length);
  out.set(macBytes(f.dst), 0);
  out.set(macBytes(f.src), 6);
  put16(out, 12, type);
  out.set(body, 14);
  return out;
}

/** Decodes an Ethernet frame; IPv4 and ARP payloads are decoded, others kept raw. */
export function decodeEthernet(b: Uint8Array): Decoded<EthernetFrame> {
  if (b.length < 14) {
    return decodeFail("eth", "truncated", 0, `Ethernet header needs 14 bytes, got ${b.length}`);
  }
  const dst = macFromBytes(b, 0);
  const src = macFromBytes(b, 6);
  const type = u16(b, 12);
  const body = b.subarray(14);
  if (type === ETHERTYPE_IPV4) {
    const ip = decodeIpv4(body);
    return ip.ok ? { ok: true, value: { kind: "eth", dst, src, payload: ip.value } } : ip;
  }
  if (type === ETHERTYPE_ARP) {
    const arp = decodeArp(body);
    return arp.ok ? { ok: true, value: { kind: "eth", dst, src, payload: arp.value } } : arp;
  }
  return { ok: true, value: { kind: "eth", dst, src, payload: { kind: "raw", proto: type, bytes: body.slice() } } };
}

/** Encodes an ARP packet (Ethernet/IPv4, 28 bytes). */
export function encodeArp(a: ArpPacket): Uint8Array {
  const out = new Uint8Array(28);
  put16(out, 0, 1); // htype Ethernet
  put16(out, 2, ETHERTYPE_IPV4);
  out[4] = 6;
  out[5] = 4;
  put16(out, 6, a.op);
  out.set(macBytes(a.senderMac), 8);
  put32(out, 14, a.senderIp);
  out.set(macBytes(a.targetMac), 18);
  put32(out, 24, a.targetIp);
  return out;
}

/** Decodes an ARP packet; only Ethernet/IPv4 requests and replies are accepted. */
export function decodeArp(b: Uint8Array): Decoded<ArpPacket> {
  if (b.length < 28) {
    return decodeFail("arp", "truncated", 0, `ARP needs 28 bytes, got ${b.length}`);
  }
  if (u16(b, 0) !== 1 || u16(b, 2) !== ETHERTYPE_IPV4 || b[4] !== 6 || b[5] !== 4) {
    return decodeFail("arp", "bad-field", 0, "ARP is not Ethernet/IPv4");
  }
  const op = u16(b, 6);
  if (op !== 1 && op !== 2) {
    return decodeFail("arp", "bad-field", 6, `ARP operation ${op} is neither request (1) nor reply (2)`);
  }
  return {
    ok: true,
    value: {
      kind: "arp",
      op,
      senderMac: macFromBytes(b, 8),
      senderIp: ipv4(u32(b, 14)),
      targetMac: macFromBytes(b, 18),
      targetIp: ipv4(u32(b, 24)),
    },
  };
}

/** tcpdump's wording for ARP. */
export function summarizeArp(a: ArpPacket): string {
  return a.op === 1
    ? `ARP, Request who-has ${formatIpv4(a.targetIp)} tell ${formatIpv4(a.senderIp)}, length 28`
    : `ARP, Reply ${formatIpv4(a.senderIp)} is-at ${a.senderMac}, length 28`;
}
