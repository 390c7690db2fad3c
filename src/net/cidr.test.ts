/**
 * Address and prefix values. Expected node subnets follow the node IPAM range allocator
 * (dataplane.md §6.1: 10.244.0.0/16 split into /24s in node order); the host-bits message follows
 * the CNI plugins' wording.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatIpv4, ipv4, isMulticastMac, parseIpv4, parseMac, randomMac } from "./addr.js";
import { cidr, cidrBroadcast, cidrContains, cidrOverlaps, cidrSize, formatCidr, maskOf, nthSubnet, parseCidr, parseCidrLoose } from "./cidr.js";

const arbCidr = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 })).map(([a, len]) => ({ addr: ipv4(a & maskOf(len)), len }));

describe("IPv4 and CIDR", () => {
  it("parseIpv4 ∘ formatIpv4 is the identity", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        const r = parseIpv4(formatIpv4(ipv4(n)));
        expect(r.ok && r.value).toBe(n >>> 0);
      }),
    );
  });

  it("parseCidr ∘ formatCidr is the identity", () => {
    fc.assert(
      fc.property(arbCidr, (c) => {
        expect(parseCidr(formatCidr(c))).toEqual({ ok: true, value: c });
      }),
    );
  });

  it.each(["10.0.0", "10.0.0.256", "10.0.0.1.2", "a.b.c.d", "10..0.1", ""])("refuses %j as an address", (s) => {
    expect(parseIpv4(s).ok).toBe(false);
  });

  it("refuses host bits and names the network address, as CNI does; the loose form clears them as iptables does", () => {
    expect(parseCidr("10.88.0.5/16")).toEqual({ ok: false, error: '"10.88.0.5/16" has host bits set; the network address is 10.88.0.0/16' });
    const loose = parseCidrLoose("10.88.0.5/16");
    expect(loose.ok && formatCidr(loose.value)).toBe("10.88.0.0/16");
    const dotted = parseCidrLoose("10.0.0.0/255.0.0.0");
    expect(dotted.ok && formatCidr(dotted.value)).toBe("10.0.0.0/8");
  });

  it("overlap agrees with a brute-force check on small prefixes", () => {
    const small = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 24, max: 32 })).map(([a, len]) => ({ addr: ipv4((0x0a000000 | a) & maskOf(len)), len }));
    fc.assert(
      fc.property(small, small, (a, b) => {
        let brute = false;
        for (let x = 0; x < 256 && !brute; x++) brute = cidrContains(a, ipv4(0x0a000000 | x)) && cidrContains(b, ipv4(0x0a000000 | x));
        expect(cidrOverlaps(a, b)).toBe(brute);
      }),
    );
  });

  it("broadcast and size", () => {
    expect(formatIpv4(cidrBroadcast(cidr("10.244.0.0/24")))).toBe("10.244.0.255");
    expect(cidrSize(cidr("10.96.0.0/12"))).toBe(1 << 20);
  });

  it("nthSubnet hands out node podCIDRs in order (node IPAM: 10.244.0.0/16 → /24s)", () => {
    const pod = cidr("10.244.0.0/16");
    expect([0, 1, 255].map((i) => formatCidr(nthSubnet(pod, 24, i) ?? cidr("0.0.0.0/0")))).toEqual(["10.244.0.0/24", "10.244.1.0/24", "10.244.255.0/24"]);
    expect(nthSubnet(pod, 24, 256)).toBeUndefined();
    expect(nthSubnet(pod, 8, 0)).toBeUndefined();
  });
});

describe("MAC", () => {
  it("canonicalises case and single digits", () => {
    expect(parseMac("2:42:AC:11:0:2")).toEqual({ ok: true, value: "02:42:ac:11:00:02" });
    expect(parseMac("02:42:ac:11:00").ok).toBe(false);
  });

  it("randomMac gives locally administered unicast addresses (eth_random_addr)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (x, y) => {
        const vals = [x, y];
        const m = randomMac(() => vals.shift() ?? 0);
        expect(isMulticastMac(m)).toBe(false);
        expect(parseInt(m.slice(0, 2), 16) & 2).toBe(2);
      }),
    );
  });
});
