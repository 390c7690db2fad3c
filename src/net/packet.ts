/**
 * @module net/packet
 * Builders and immutable rewrites for packets: NAT, TTL decrement and MAC rewrites return new
 * values (STYLE 3.4). A `Skb` analogue lives in the kernel layer; these helpers only touch headers.
 */
import type { Ipv4 } from "./addr.js";
import type { EthernetFrame, Ipv4Header, Ipv4Packet } from "./headers/types.js";
import { IPPROTO_ICMP, type Proto, type Tuple } from "./tuple.js";

/** Default header values for locally generated packets (Linux: TTL 64, DF set for TCP/UDP/ICMP). */
export function ipv4Header(src: Ipv4, dst: Ipv4, over: Partial<Ipv4Header> = {}): Ipv4Header {
  return { src, dst, ttl: 64, id: 0, dscp: 0, ecn: 0, df: true, mf: false, fragOffset: 0, ...over };
}

/**
 * The first packet of a flow for a tuple: a TCP SYN, a UDP datagram, or an ICMP echo request
 * (whose id is the tuple's source port).
 */
export function firstPacket(t: Tuple, payloadBytes = 0, over: Partial<Ipv4Header> = {}): Ipv4Packet {
  const header = ipv4Header(t.src, t.dst, over);
  const payload = new Uint8Array(payloadBytes);
  switch (t.proto) {
    case "tcp":
      return {
        kind: "ipv4",
        header,
        payload: { kind: "tcp", srcPort: t.sport, dstPort: t.dport, seq: 0, ack: 0, flags: 0x02, window: 64240, urgent: 0, payload },
      };
    case "udp":
      return { kind: "ipv4", header, payload: { kind: "udp", srcPort: t.sport, dstPort: t.dport, payload: { kind: "raw", proto: 0, bytes: payload } } };
    case "icmp":
      return { kind: "ipv4", header, payload: { kind: "icmp", type: 8, code: 0, id: t.sport, seq: 1, payload } };
  }
}

/** The flow tuple of a packet, or undefined for protocols without ports (other than ICMP echo). */
export function tupleOf(p: Ipv4Packet): Tuple | undefined {
  const { src, dst } = p.header;
  const pl = p.payload;
  if (pl.kind === "tcp" || pl.kind === "udp") {
    return { proto: pl.kind, src, sport: pl.srcPort, dst, dport: pl.dstPort };
  }
  if (pl.kind === "icmp" && (pl.type === 8 || pl.type === 0)) {
    return { proto: "icmp", src, sport: pl.id, dst, dport: pl.id };
  }
  return undefined;
}

/** The transport protocol name of a packet, or undefined for others. */
export function protoOf(p: Ipv4Packet): Proto | undefined {
  const k = p.payload.kind;
  return k === "tcp" || k === "udp" || k === "icmp" ? k : undefined;
}

/** The IP protocol number carried (1, 6, 17 …). */
export function protoNumberOf(p: Ipv4Packet): number {
  const pl = p.payload;
  return pl.kind === "tcp" ? 6 : pl.kind === "udp" ? 17 : pl.kind === "icmp" ? IPPROTO_ICMP : pl.proto;
}

/** A copy with a new source address and (for TCP/UDP) source port. */
export function withSource(p: Ipv4Packet, addr: Ipv4, port?: number): Ipv4Packet {
  return { ...p, header: { ...p.header, src: addr }, payload: withPort(p, "src", port) };
}

/** A copy with a new destination address and (for TCP/UDP) destination port. */
export function withDestination(p: Ipv4Packet, addr: Ipv4, port?: number): Ipv4Packet {
  return { ...p, header: { ...p.header, dst: addr }, payload: withPort(p, "dst", port) };
}

function withPort(p: Ipv4Packet, which: "src" | "dst", port: number | undefined): Ipv4Packet["payload"] {
  const pl = p.payload;
  if (port === undefined) {
    return pl;
  }
  if (pl.kind === "tcp" || pl.kind === "udp") {
    return which === "src" ? { ...pl, srcPort: port } : { ...pl, dstPort: port };
  }
  if (pl.kind === "icmp" && (pl.type === 8 || pl.type === 0)) {
    return { ...pl, id: port };
  }
  return pl;
}

/** A copy with a new TTL. */
export function withTtl(p: Ipv4Packet, ttl: number): Ipv4Packet {
  return { ...p, header: { ...p.header, ttl } };
}

/** The on-wire length of an IPv4 packet (header + payload), computed without encoding. */
export function ipv4Length(p: Ipv4Packet): number {
  const h = 20 + (p.header.options?.length ?? 0);
  const pl = p.payload;
  switch (pl.kind) {
    case "tcp":
      return h + 20 + (pl.options?.length ?? 0) + pl.payload.length;
    case "udp":
      return h + 8 + (pl.payload.kind === "vxlan" ? 8 + ethernetLength(pl.payload.inner) : pl.payload.bytes.length);
    case "icmp":
      return h + 8 + pl.payload.length;
    case "raw":
      return h + pl.bytes.length;
  }
}

/** The on-wire length of an Ethernet frame (no FCS), as `encodeEthernet` would make it, without encoding. */
export function ethernetLength(f: EthernetFrame): number {
  const pl = f.payload;
  return 14 + (pl.kind === "arp" ? 28 : pl.kind === "ipv4" ? ipv4Length(pl) : pl.bytes.length);
}
