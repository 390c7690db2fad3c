/**
 * @module net/cidr
 * IPv4 prefixes. A `Cidr` holds the network address (host bits cleared) and the prefix length;
 * `parseCidr` refuses host bits unless asked to normalise, the way CNI does ("host bits set; the
 * network address is 192.0.2.0"), while `parseCidrLoose` normalises them as iptables does
 * (`-s 10.88.0.5/16` is stored and printed as `10.88.0.0/16`).
 *
 * Range arithmetic for allocators goes through ip-num at this edge only (STYLE 3.3).
 */
import { IPv4CidrRange } from "ip-num";
import { formatIpv4, ipv4, parseIpv4, type Ipv4, type Parsed } from "./addr.js";

/** An IPv4 prefix: network address and length 0–32. */
export interface Cidr {
  readonly addr: Ipv4;
  readonly len: number;
}

/** The netmask of a prefix length as a uint32 (`/24` → 0xffffff00). */
export function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

function parseParts(text: string): Parsed<{ addr: Ipv4; len: number; given: boolean }> {
  const slash = text.indexOf("/");
  const a = parseIpv4(slash < 0 ? text : text.slice(0, slash));
  if (!a.ok) {
    return a;
  }
  if (slash < 0) {
    return { ok: true, value: { addr: a.value, len: 32, given: false } };
  }
  const lenText = text.slice(slash + 1);
  if (/^\d{1,2}$/.test(lenText) && Number(lenText) <= 32) {
    return { ok: true, value: { addr: a.value, len: Number(lenText), given: true } };
  }
  const m = parseIpv4(lenText);
  if (m.ok) {
    // A dotted netmask, as iptables accepts (`-s 10.0.0.0/255.0.0.0`); it must be contiguous.
    const inv = ~m.value >>> 0;
    if ((inv & (inv + 1)) === 0) {
      const len = 32 - Math.log2(inv + 1);
      return { ok: true, value: { addr: a.value, len, given: true } };
    }
  }
  return { ok: false, error: `"${text}" is not a CIDR: the prefix length must be 0–32` };
}

/**
 * Parses `a.b.c.d/len` strictly: host bits must be clear. A bare address means `/32`.
 * @example parseCidr("10.244.0.0/16")
 */
export function parseCidr(text: string): Parsed<Cidr> {
  const p = parseParts(text);
  if (!p.ok) {
    return p;
  }
  const net = ipv4(p.value.addr & maskOf(p.value.len));
  if (net !== p.value.addr) {
    return {
      ok: false,
      error: `"${text}" has host bits set; the network address is ${formatIpv4(net)}/${p.value.len}`,
    };
  }
  return { ok: true, value: { addr: net, len: p.value.len } };
}

/** Parses a prefix and clears any host bits, as iptables does with `-s`/`-d`. */
export function parseCidrLoose(text: string): Parsed<Cidr> {
  const p = parseParts(text);
  if (!p.ok) {
    return p;
  }
  return { ok: true, value: { addr: ipv4(p.value.addr & maskOf(p.value.len)), len: p.value.len } };
}

/** Parses an interface address `a.b.c.d/len` (host bits kept, as `ip addr add` takes it). */
export function parseIfAddr(text: string): Parsed<Cidr> {
  return parseParts(text);
}

/** Parses an interface address the caller knows is valid; throws on bad input. */
export function ifAddr(text: string): Cidr {
  const r = parseParts(text);
  if (!r.ok) {
    throw new TypeError(r.error);
  }
  return r.value;
}

/** Parses a prefix the caller knows is valid; throws on bad input (tests, constants). */
export function cidr(text: string): Cidr {
  const r = parseCidr(text);
  if (!r.ok) {
    throw new TypeError(r.error);
  }
  return r.value;
}

/** Formats as `a.b.c.d/len`. */
export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.addr)}/${c.len}`;
}

/** True when `a` lies inside `c`. */
export function cidrContains(c: Cidr, a: Ipv4): boolean {
  return ((a & maskOf(c.len)) >>> 0) === c.addr;
}

/** True when two prefixes share any address. */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  const len = Math.min(a.len, b.len);
  const m = maskOf(len);
  return ((a.addr & m) >>> 0) === ((b.addr & m) >>> 0);
}

/** The broadcast (last) address of a prefix. */
export function cidrBroadcast(c: Cidr): Ipv4 {
  return ipv4(c.addr | (~maskOf(c.len) >>> 0));
}

/** Number of addresses in the prefix (2^(32-len)). */
export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.len);
}

/**
 * Splits `parent` into consecutive subnets of length `len` and returns the `index`-th one (node
 * IPAM hands out node podCIDRs this way). Uses ip-num's range arithmetic.
 */
export function nthSubnet(parent: Cidr, len: number, index: number): Cidr | undefined {
  if (len < parent.len || len > 32 || index < 0 || index >= 2 ** (len - parent.len)) {
    return undefined;
  }
  const range = IPv4CidrRange.fromCidr(formatCidr(parent));
  const first = Number(range.getFirst().getValue());
  return { addr: ipv4(first + index * 2 ** (32 - len)), len };
}
