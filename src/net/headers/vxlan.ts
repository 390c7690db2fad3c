/**
 * @module net/headers/vxlan
 * VXLAN (RFC 7348 §5): an 8-byte header, flags `0x08` (the I bit: VNI valid), a 24-bit VNI, then
 * the inner Ethernet frame. On the wire the whole thing sits in UDP, so the overhead Linux
 * accounts for is 14 (outer Ethernet) + 20 (IPv4) + 8 (UDP) + 8 (VXLAN) = 50 bytes.
 *
 *   outer eth | outer IPv4 | UDP dport 8472 | flags(1) rsvd(3) VNI(3) rsvd(1) | inner eth | ...
 */
import { put32, u32 } from "../bytes.js";
import { decodeEthernet, encodeEthernet } from "./ethernet.js";
import type { Decoded, VxlanPacket } from "./types.js";
import { decodeFail } from "./types.js";

/** Bytes VXLAN adds in front of the inner frame on the underlay (outer eth + IP + UDP + VXLAN). */
export const VXLAN_OVERHEAD = 50;

/** Encodes the VXLAN header and inner frame. */
export function encodeVxlan(v: VxlanPacket): Uint8Array {
  const inner = encodeEthernet(v.inner);
  const out = new Uint8Array(8 + inner.length);
  out[0] = 0x08;
  put32(out, 4, (v.vni & 0xffffff) << 8);
  out.set(inner, 8);
  return out;
}

/** Decodes a VXLAN header and its inner frame. The I flag must be set. */
export function decodeVxlan(b: Uint8Array): Decoded<VxlanPacket> {
  if (b.length < 8) {
    return decodeFail("vxlan", "truncated", 0, `VXLAN header needs 8 bytes, got ${b.length}`);
  }
  if (((b[0] ?? 0) & 0x08) === 0) {
    return decodeFail("vxlan", "bad-field", 0, "VXLAN I flag is not set (VNI not valid)");
  }
  const inner = decodeEthernet(b.subarray(8));
  if (!inner.ok) {
    return inner;
  }
  return { ok: true, value: { kind: "vxlan", vni: u32(b, 4) >>> 8, inner: inner.value } };
}
