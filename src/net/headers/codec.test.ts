/**
 * Codec tests: deconstruct / construct / parse / emit against frames captured from the real
 * kernel (test/fixtures/README.md), edge cases, and fast-check round trips.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadCapture } from "../../../test/support/fixtures.js";
import { formatIpv4, ip, ipv4, mac, type Ipv4 } from "../addr.js";
import { inetChecksum, toHex } from "../bytes.js";
import { ethernetLength, ipv4Length } from "../packet.js";
import { summarizeFrame } from "../summary.js";
import { decodeEthernet, encodeEthernet } from "./ethernet.js";
import { decodeIpv4, encodeIpv4 } from "./ipv4.js";
import { decodeUdp, encodeUdp } from "./transport.js";
import type { EthernetFrame, Ipv4Packet, TcpSegment, UdpDatagram } from "./types.js";

const cap = loadCapture();
const frame = (name: string): Uint8Array => {
  const f = cap.get(name);
  if (!f) {
    throw new Error(`fixture ${name} missing`);
  }
  return f.bytes;
};

describe("real captures", () => {
  it.each([...cap.values()].map((c) => ({ name: c.name, c })))("$name decodes and re-encodes byte for byte", ({ c }) => {
    const d = decodeEthernet(c.bytes);
    expect(d.ok).toBe(true);
    if (d.ok) {
      expect(toHex(encodeEthernet(d.value))).toBe(toHex(c.bytes));
    }
  });

  it("deconstructs the kernel's TCP RST to a closed port", () => {
    const d = decodeEthernet(frame("tcp-rst"));
    expect(d.ok && d.value.payload.kind === "ipv4").toBe(true);
    if (!d.ok || d.value.payload.kind !== "ipv4") return;
    const p = d.value.payload;
    expect(formatIpv4(p.header.src)).toBe("10.99.0.2");
    expect(p.header.ttl).toBe(64);
    expect(p.header.df).toBe(true);
    const t = p.payload as TcpSegment;
    expect(t.kind).toBe("tcp");
    const syn = decodeEthernet(frame("tcp-syn"));
    if (!syn.ok || syn.value.payload.kind !== "ipv4") throw new Error("syn");
    const synSeq = (syn.value.payload.payload as TcpSegment).seq;
    // tcpdump: Flags [R.], seq 0, ack <SYN's seq + 1>, win 0 (RFC 9293 §3.10.7.1: RST for a closed port)
    expect([t.srcPort, t.dstPort, t.seq, t.ack, t.flags, t.window]).toEqual([80, 41000, 0, synSeq + 1, 0x14, 0]);
  });

  it("deconstructs VXLAN: outer UDP to 8472, VNI 1, inner ICMP echo between the vxlan MACs", () => {
    const d = decodeEthernet(frame("vxlan-echo-request"));
    if (!d.ok || d.value.payload.kind !== "ipv4") throw new Error("not ipv4");
    const outer = d.value.payload;
    expect(formatIpv4(outer.header.dst)).toBe("192.168.77.2");
    expect(outer.header.df).toBe(false); // the kernel's vxlan outer header leaves DF clear
    const udp = outer.payload as UdpDatagram;
    expect(udp.dstPort).toBe(8472);
    expect(udp.payload.kind).toBe("vxlan");
    if (udp.payload.kind !== "vxlan") return;
    expect(udp.payload.vni).toBe(1);
    expect(udp.payload.inner.src).toBe(mac("02:00:00:00:02:01"));
    // 50 bytes of overhead: the outer frame is the inner frame plus 50.
    expect(frame("vxlan-echo-request").length - encodeEthernet(udp.payload.inner).length).toBe(50);
  });

  it("constructs an ICMP echo request identical to ping's", () => {
    const d = decodeEthernet(frame("icmp-echo-request"));
    if (!d.ok || d.value.payload.kind !== "ipv4" || d.value.payload.payload.kind !== "icmp") throw new Error("bad");
    const id = d.value.payload.header.id;
    const orig = d.value.payload.payload;
    const built: EthernetFrame = {
      kind: "eth",
      dst: mac("02:00:00:00:00:0b"),
      src: mac("02:00:00:00:00:0a"),
      payload: {
        kind: "ipv4",
        header: { src: ip("10.99.0.1"), dst: ip("10.99.0.2"), ttl: 64, id, dscp: 0, ecn: 0, df: true, mf: false, fragOffset: 0 },
        payload: { kind: "icmp", type: 8, code: 0, id: orig.id, seq: 1, payload: orig.payload },
      },
    };
    expect(toHex(encodeEthernet(built))).toBe(toHex(frame("icmp-echo-request")));
  });

  const summarised = ["arp-request", "arp-reply", "icmp-echo-request", "icmp-echo-reply", "icmp-port-unreachable", "tcp-rst"];
  it.each(summarised)("summarises %s exactly as tcpdump -nn -e printed it", (name) => {
    const c = cap.get(name);
    const d = decodeEthernet(c?.bytes ?? new Uint8Array());
    expect(d.ok).toBe(true);
    if (d.ok) expect(summarizeFrame(d.value)).toBe(c?.tcpdump);
  });
});

describe("bad bytes never throw", () => {
  it.each([
    { name: "empty frame", bytes: new Uint8Array(0), code: "truncated", layer: "eth" },
    { name: "truncated IPv4 header", bytes: frame("udp-dns").slice(0, 24), code: "truncated", layer: "ipv4" },
    { name: "IPv4 total length past the end", bytes: frame("udp-dns").slice(0, 40), code: "bad-length", layer: "ipv4" },
  ])("$name → $code in $layer", ({ bytes, code, layer }) => {
    const d = decodeEthernet(bytes);
    expect(d.ok).toBe(false);
    if (!d.ok) expect([d.error.code, d.error.layer]).toEqual([code, layer]);
  });

  it.each([
    { name: "IPv4 header", offset: 14 + 10, layer: "ipv4" },
    { name: "UDP", offset: 14 + 20 + 6, layer: "udp" },
    { name: "ICMP", offset: 14 + 20 + 2, layer: "icmp" },
  ])("a flipped $name checksum byte is reported as bad-checksum", ({ offset, layer }) => {
    const src = layer === "icmp" ? frame("icmp-echo-request") : frame("udp-dns");
    const b = src.slice();
    b[offset] = (b[offset] ?? 0) ^ 0xff;
    const d = decodeEthernet(b);
    expect(d.ok).toBe(false);
    if (!d.ok) expect([d.error.code, d.error.layer]).toEqual(["bad-checksum", layer]);
  });

  it("accepts a zero UDP checksum (RFC 768: no checksum) and can emit one", () => {
    const pseudo = { src: ip("10.0.0.1"), dst: ip("10.0.0.2") };
    const d: UdpDatagram = { kind: "udp", srcPort: 1, dstPort: 2, payload: { kind: "raw", proto: 0, bytes: new Uint8Array([1, 2, 3]) } };
    const bytes = encodeUdp(d, pseudo, { zeroChecksum: true });
    expect(bytes[6]).toBe(0);
    expect(bytes[7]).toBe(0);
    expect(decodeUdp(bytes, pseudo).ok).toBe(true);
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        decodeEthernet(b);
        decodeIpv4(b);
      }),
    );
  });

  it("never throws on mutated real frames", () => {
    const base = frame("vxlan-echo-request");
    fc.assert(
      fc.property(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 }), (i, v) => {
        const b = base.slice();
        b[i] = v;
        decodeEthernet(b);
      }),
    );
  });
});

const arbIp = fc.integer({ min: 0, max: 0xffffffff }).map((n) => ipv4(n) as Ipv4);
const arbMac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => mac(Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":")));
const arbHeader = fc.record({
  src: arbIp,
  dst: arbIp,
  ttl: fc.integer({ min: 0, max: 255 }),
  id: fc.integer({ min: 0, max: 0xffff }),
  dscp: fc.integer({ min: 0, max: 63 }),
  ecn: fc.integer({ min: 0, max: 3 }),
  df: fc.boolean(),
  mf: fc.constant(false),
  fragOffset: fc.constant(0),
});
const port = fc.integer({ min: 0, max: 0xffff });
const bytes = fc.uint8Array({ maxLength: 64 });
const arbTransport = fc.oneof(
  fc.record({
    kind: fc.constant("tcp" as const),
    srcPort: port,
    dstPort: port,
    seq: fc.integer({ min: 0, max: 0xffffffff }),
    ack: fc.integer({ min: 0, max: 0xffffffff }),
    flags: fc.integer({ min: 0, max: 255 }),
    window: port,
    urgent: port,
    payload: bytes,
  }),
  fc.record({
    kind: fc.constant("icmp" as const),
    type: fc.integer({ min: 0, max: 255 }),
    code: fc.integer({ min: 0, max: 255 }),
    id: port,
    seq: port,
    payload: bytes,
  }),
  fc.record({
    kind: fc.constant("udp" as const),
    srcPort: port,
    dstPort: port.filter((p) => p !== 4789 && p !== 8472),
    payload: bytes.map((b) => ({ kind: "raw" as const, proto: 0, bytes: b })),
  }),
);
const arbPacket: fc.Arbitrary<Ipv4Packet> = fc.record({ kind: fc.constant("ipv4" as const), header: arbHeader, payload: arbTransport });

describe("round trips (fast-check)", () => {
  it("decode(encode(p)) equals p for arbitrary IPv4 packets", () => {
    fc.assert(
      fc.property(arbPacket, (p) => {
        const d = decodeIpv4(encodeIpv4(p));
        expect(d.ok).toBe(true);
        if (d.ok) expect(d.value).toEqual(p);
      }),
    );
  });

  it("decode(encode(f)) equals f for VXLAN-in-UDP-in-IPv4-in-Ethernet", () => {
    fc.assert(
      fc.property(arbMac, arbMac, arbHeader, arbPacket, fc.integer({ min: 0, max: 0xffffff }), (a, b, outer, inner, vni) => {
        const f: EthernetFrame = {
          kind: "eth",
          dst: a,
          src: b,
          payload: {
            kind: "ipv4",
            header: outer,
            payload: { kind: "udp", srcPort: 40000, dstPort: 8472, payload: { kind: "vxlan", vni, inner: { kind: "eth", dst: b, src: a, payload: inner } } },
          },
        };
        const d = decodeEthernet(encodeEthernet(f));
        expect(d.ok).toBe(true);
        if (d.ok) expect(d.value).toEqual(f);
      }),
    );
  });

  it("the computed lengths (MTU checks, tcpdump's `length`) equal the encoders' byte counts", () => {
    fc.assert(
      fc.property(arbMac, arbMac, arbHeader, arbPacket, fc.boolean(), (a, b, outer, inner, wrap) => {
        expect(ipv4Length(inner)).toBe(encodeIpv4(inner).length);
        const f: EthernetFrame = wrap
          ? { kind: "eth", dst: a, src: b, payload: { kind: "ipv4", header: outer, payload: { kind: "udp", srcPort: 40000, dstPort: 8472, payload: { kind: "vxlan", vni: 1, inner: { kind: "eth", dst: b, src: a, payload: inner } } } } }
          : { kind: "eth", dst: a, src: b, payload: inner };
        expect(ethernetLength(f)).toBe(encodeEthernet(f).length);
      }),
    );
    const arp: EthernetFrame = { kind: "eth", dst: mac("ff:ff:ff:ff:ff:ff"), src: mac("02:00:00:00:00:01"), payload: { kind: "arp", op: 1, senderMac: mac("02:00:00:00:00:01"), senderIp: ip("10.0.0.1"), targetMac: mac("00:00:00:00:00:00"), targetIp: ip("10.0.0.2") } };
    expect(ethernetLength(arp)).toBe(encodeEthernet(arp).length);
  });

  it("every encoded IPv4 header checksums to zero", () => {
    fc.assert(
      fc.property(arbPacket, (p) => {
        expect(inetChecksum(encodeIpv4(p), 0, 20)).toBe(0);
      }),
    );
  });
});
