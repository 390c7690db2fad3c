/**
 * @module net/bytes
 * Big-endian helpers over DataView for the codecs, and the Internet checksum (RFC 1071).
 */

/** Reads a big-endian uint16. */
export function u16(b: Uint8Array, off: number): number {
  return ((b[off] ?? 0) << 8) | (b[off + 1] ?? 0);
}

/** Reads a big-endian uint32. */
export function u32(b: Uint8Array, off: number): number {
  return (((b[off] ?? 0) << 24) | ((b[off + 1] ?? 0) << 16) | ((b[off + 2] ?? 0) << 8) | (b[off + 3] ?? 0)) >>> 0;
}

/** Writes a big-endian uint16. */
export function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 255;
  b[off + 1] = v & 255;
}

/** Writes a big-endian uint32. */
export function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 255;
  b[off + 1] = (v >>> 16) & 255;
  b[off + 2] = (v >>> 8) & 255;
  b[off + 3] = v & 255;
}

/** Concatenates byte arrays. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * The one's-complement sum of 16-bit words, folded (RFC 1071 §4.1), before the final complement.
 * Pass a previous partial sum to continue over more data (pseudo-header, then segment).
 */
export function onesSum(b: Uint8Array, start = 0, end = b.length, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) {
    sum += ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
  }
  if (i < end) {
    sum += (b[i] ?? 0) << 8;
  }
  while (sum > 0xffff) {
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return sum;
}

/** The Internet checksum of a byte range: the complement of the one's-complement sum. */
export function inetChecksum(b: Uint8Array, start = 0, end = b.length, initial = 0): number {
  return ~onesSum(b, start, end, initial) & 0xffff;
}

/** Lowercase hex of bytes (for fixtures and error messages). */
export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Bytes from hex, ignoring whitespace. */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length >>> 1);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  }
  return out;
}
