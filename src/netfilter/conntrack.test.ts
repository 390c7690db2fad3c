/**
 * Conntrack and NAT bindings: the first packet decides, the entry's REPLY tuple is the inverse
 * of the translated tuple, replies are found by it, and entries expire on the virtual clock
 * (timeouts: kernel defaults, dataplane.md §7.2).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ip, ipv4 } from "../net/addr.js";
import { replyOf, type Tuple } from "../net/tuple.js";
import { Conntrack, formatConntrackLine } from "./conntrack.js";
import { applyNat } from "./nat.js";
import type { NatDecision } from "./traverse.js";
import { NO_BASE_TESTS } from "./model.js";

const arbTuple: fc.Arbitrary<Tuple> = fc.record({
  proto: fc.constantFrom("tcp" as const, "udp" as const, "icmp" as const),
  src: fc.integer({ min: 0, max: 0xffffffff }).map(ipv4),
  sport: fc.integer({ min: 0, max: 65535 }),
  dst: fc.integer({ min: 0, max: 0xffffffff }).map(ipv4),
  dport: fc.integer({ min: 0, max: 65535 }),
});

const hit = { table: "nat" as const, chain: "X", index: 1, rule: { base: NO_BASE_TESTS, matches: [], target: undefined, line: 1 }, verdict: "DNAT" };
const dnat = (to: string, port: number): NatDecision => ({
  target: { kind: "DNAT", ranges: [{ from: ip(to), to: ip(to), ports: { lo: port, hi: port } }], random: false, randomFully: false, persistent: false },
  hit,
});
const masq = (randomFully: boolean): NatDecision => ({ target: { kind: "MASQUERADE", random: false, randomFully }, hit });

describe("conntrack", () => {
  it("replyOf is an involution", () => {
    fc.assert(
      fc.property(arbTuple, (t) => {
        expect(replyOf(replyOf(t))).toEqual(t);
      }),
    );
  });

  it("a DNATed connection's reply is found by the translated tuple and maps back to the Service address", () => {
    const ct = new Conntrack();
    const orig: Tuple = { proto: "tcp", src: ip("10.244.0.5"), sport: 40000, dst: ip("10.96.0.10"), dport: 80 };
    const e = ct.create(orig, 0);
    const r = applyNat(orig, dnat("10.244.1.2", 8080), { inUse: (t) => ct.inUse(t), random: () => 0 });
    if (!r.ok) throw new Error(r.reason);
    e.reply = replyOf(r.tuple);
    ct.confirm(e);
    const reply: Tuple = { proto: "tcp", src: ip("10.244.1.2"), sport: 8080, dst: ip("10.244.0.5"), dport: 40000 };
    const found = ct.lookup(reply, 1000);
    expect(found?.dir).toBe("REPLY");
    // un-DNAT: the reply's source becomes the original destination
    expect(found?.entry.orig.dst).toBe(ip("10.96.0.10"));
    expect(ct.lookup(orig, 1000)?.dir).toBe("ORIGINAL");
  });

  it("MASQUERADE keeps the source port when free and takes another when the tuple is in use", () => {
    const ct = new Conntrack();
    const mk = (src: string): Tuple => ({ proto: "udp", src: ip(src), sport: 40000, dst: ip("1.1.1.1"), dport: 53 });
    const env = { masqueradeAddr: ip("192.168.1.10"), inUse: (t: Tuple) => ct.inUse(t), random: () => 0.5 };
    const a = mk("10.244.0.5");
    const ra = applyNat(a, masq(false), env);
    if (!ra.ok) throw new Error(ra.reason);
    expect(ra.tuple.sport).toBe(40000);
    const ea = ct.create(a, 0);
    ea.reply = replyOf(ra.tuple);
    ct.confirm(ea);
    const rb = applyNat(mk("10.244.0.6"), masq(false), env);
    if (!rb.ok) throw new Error(rb.reason);
    expect(rb.tuple.src).toBe(ip("192.168.1.10"));
    expect(rb.tuple.sport).not.toBe(40000);
    expect(rb.tuple.sport).toBeGreaterThanOrEqual(1024);
  });

  it("--random-fully draws the port from 1024–65535 even when the original is free", () => {
    const r = applyNat({ proto: "tcp", src: ip("10.244.0.5"), sport: 40000, dst: ip("1.1.1.1"), dport: 443 }, masq(true), { masqueradeAddr: ip("192.168.1.10"), inUse: () => false, random: () => 0 });
    expect(r.ok && r.tuple.sport).toBe(1024);
  });

  const dns: Tuple = { proto: "udp", src: ip("10.0.0.1"), sport: 1, dst: ip("10.0.0.2"), dport: 53 };

  it("entries expire on the virtual clock (UDP unreplied: 30 s)", () => {
    const ct = new Conntrack();
    const t = dns;
    ct.confirm(ct.create(t, 0));
    expect(ct.lookup(t, 29_999)).toBeDefined();
    expect(ct.lookup(t, 30_000)).toBeUndefined();
  });

  it("a clone is independent of the original table", () => {
    const ct = new Conntrack();
    const copy = ct.clone();
    copy.confirm(copy.create(dns, 0));
    expect(ct.lookup(dns, 0)).toBeUndefined();
    expect(copy.lookup(dns, 0)).toBeDefined();
  });

  it("prints a conntrack -L line", () => {
    const ct = new Conntrack();
    const t: Tuple = { proto: "udp", src: ip("10.244.0.5"), sport: 40000, dst: ip("10.96.0.10"), dport: 53 };
    const e = ct.create(t, 0);
    e.reply = { proto: "udp", src: ip("10.244.0.3"), sport: 53, dst: ip("10.244.0.5"), dport: 40000 };
    // Same format as conntrack-tools prints (checked against the real tool in test/oracle/conntrack-format.test.ts).
    expect(formatConntrackLine(e, 1000)).toBe("udp      17 29 src=10.244.0.5 dst=10.96.0.10 sport=40000 dport=53 [UNREPLIED] src=10.244.0.3 dst=10.244.0.5 sport=53 dport=40000 mark=0 use=1");
  });
});
