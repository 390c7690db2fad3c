/**
 * @module net/addr
 * IPv4 addresses and MAC addresses as primitive-backed values, usable as Map keys.
 *
 * An `Ipv4` is a branded uint32 (network byte order read as a big-endian integer), so the hot
 * paths (netfilter matching, route lookup) compare integers. A `Mac` is the canonical lowercase
 * colon form `aa:bb:cc:dd:ee:ff`. Parsing is strict dotted-quad: four decimal octets 0–255, as
 * `ip` and `iptables` accept them (iptables also takes shorter forms like `10.1`; podwire does not,
 * and says so in the error).
 */

/** An IPv4 address as an unsigned 32-bit integer. */
export type Ipv4 = number & { readonly __brand: "Ipv4" };
/** A MAC address in canonical lowercase colon form. */
export type Mac = string & { readonly __brand: "Mac" };

/** Result of parsing text: the value or a message that says what is wrong. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** Wraps a uint32 as an `Ipv4` (no check beyond truncation to 32 bits). */
export function ipv4(n: number): Ipv4 {
  return (n >>> 0) as Ipv4;
}

/**
 * Parses a dotted-quad IPv4 address.
 * @example parseIpv4("10.96.0.10") → { ok: true, value: 174063626 }
 */
export function parseIpv4(text: string): Parsed<Ipv4> {
  let value = 0;
  let octets = 0;
  let cur = -1;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46; /* '.' terminates the last octet */
    if (c >= 48 && c <= 57) {
      cur = (cur < 0 ? 0 : cur) * 10 + (c - 48);
      digits++;
      if (digits > 3 || cur > 255) {
        return { ok: false, error: `"${text}" is not an IPv4 address: octet ${octets + 1} is above 255` };
      }
    } else if (c === 46) {
      if (cur < 0) {
        return { ok: false, error: `"${text}" is not an IPv4 address: expected four decimal octets like 10.0.0.1` };
      }
      value = value * 256 + cur;
      octets++;
      cur = -1;
      digits = 0;
    } else {
      return { ok: false, error: `"${text}" is not an IPv4 address: unexpected character "${text[i] ?? ""}"` };
    }
  }
  if (octets !== 4) {
    return { ok: false, error: `"${text}" is not an IPv4 address: expected four decimal octets like 10.0.0.1` };
  }
  return { ok: true, value: ipv4(value) };
}

/** Parses an address that the caller knows is valid; throws on bad input (tests, constants). */
export function ip(text: string): Ipv4 {
  const r = parseIpv4(text);
  if (!r.ok) {
    throw new TypeError(r.error);
  }
  return r.value;
}

/** Formats an address as dotted quad. */
export function formatIpv4(a: Ipv4): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** The four octets of an address, most significant first. */
export function ipv4Octets(a: Ipv4): [number, number, number, number] {
  return [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255];
}

const MAC_RE = /^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$/;

/** Parses a MAC address (`aa:bb:cc:dd:ee:ff`, case-insensitive, single hex digits allowed). */
export function parseMac(text: string): Parsed<Mac> {
  if (!MAC_RE.test(text)) {
    return { ok: false, error: `"${text}" is not a MAC address: expected six hex bytes like 02:42:ac:11:00:02` };
  }
  const canon = text
    .split(":")
    .map((b) => b.toLowerCase().padStart(2, "0"))
    .join(":");
  return { ok: true, value: canon as Mac };
}

/** Parses a MAC address the caller knows is valid; throws on bad input. */
export function mac(text: string): Mac {
  const r = parseMac(text);
  if (!r.ok) {
    throw new TypeError(r.error);
  }
  return r.value;
}

/** The broadcast MAC address. */
export const MAC_BROADCAST = "ff:ff:ff:ff:ff:ff" as Mac;
/** The all-zeros MAC address (also the VXLAN default FDB destination). */
export const MAC_ZERO = "00:00:00:00:00:00" as Mac;

/** The six bytes of a MAC address. */
export function macBytes(m: Mac): Uint8Array {
  return Uint8Array.from(m.split(":").map((b) => parseInt(b, 16)));
}

/** A MAC address from six bytes. */
export function macFromBytes(b: Uint8Array, offset = 0): Mac {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) {
    parts.push((b[offset + i] ?? 0).toString(16).padStart(2, "0"));
  }
  return parts.join(":") as Mac;
}

/** True for group (multicast or broadcast) addresses: the I/G bit of the first byte is set. */
export function isMulticastMac(m: Mac): boolean {
  return (parseInt(m.slice(0, 2), 16) & 1) === 1;
}

/**
 * A random locally administered unicast MAC (first byte: bit 1 set, bit 0 clear), as the kernel's
 * `eth_random_addr()` makes for veth, bridge and vxlan devices.
 */
export function randomMac(next32: () => number): Mac {
  const b = new Uint8Array(6);
  const x = next32();
  const y = next32();
  b[0] = ((x >>> 24) & 0xfe) | 0x02;
  b[1] = (x >>> 16) & 255;
  b[2] = (x >>> 8) & 255;
  b[3] = x & 255;
  b[4] = (y >>> 8) & 255;
  b[5] = y & 255;
  return macFromBytes(b);
}
