/**
 * @module net/headers/types
 * Immutable header records (smoltcp's `Repr`): semantic fields only. Lengths, IHL and checksums
 * are not stored: `encode*` computes them and `decode*` checks them. Layering is structural, so an
 * encapsulated frame stays visible: `EthernetFrame → Ipv4Packet → UdpDatagram → VxlanPacket →
 * EthernetFrame → …`. Every union member has a literal `kind`.
 */
import type { Ipv4, Mac } from "../addr.js";

/** Bytes podwire does not interpret. `proto` is the EtherType inside Ethernet, the IP protocol
 * number inside IPv4, and 0 elsewhere. */
export interface RawPayload {
  readonly kind: "raw";
  readonly proto: number;
  readonly bytes: Uint8Array;
}

/** An Ethernet II frame (no FCS, no VLAN tag). @see IEEE 802.3 */
export interface EthernetFrame {
  readonly kind: "eth";
  readonly dst: Mac;
  readonly src: Mac;
  readonly payload: ArpPacket | Ipv4Packet | RawPayload;
}

/** ARP for IPv4 over Ethernet. @see RFC 826 */
export interface ArpPacket {
  readonly kind: "arp";
  /** 1 = request, 2 = reply. */
  readonly op: 1 | 2;
  readonly senderMac: Mac;
  readonly senderIp: Ipv4;
  readonly targetMac: Mac;
  readonly targetIp: Ipv4;
}

/** The IPv4 header's semantic fields. @see RFC 791 §3.1 */
export interface Ipv4Header {
  readonly src: Ipv4;
  readonly dst: Ipv4;
  readonly ttl: number;
  readonly id: number;
  readonly dscp: number;
  readonly ecn: number;
  /** Don't Fragment. */
  readonly df: boolean;
  /** More Fragments. */
  readonly mf: boolean;
  /** Fragment offset in 8-byte units. */
  readonly fragOffset: number;
  /** Options bytes (a multiple of 4), present only when the header carries options. */
  readonly options?: Uint8Array;
}

/** An IPv4 packet. The protocol field follows from the payload's kind. */
export interface Ipv4Packet {
  readonly kind: "ipv4";
  readonly header: Ipv4Header;
  readonly payload: TcpSegment | UdpDatagram | IcmpMessage | RawPayload;
}

/** TCP flag bits. @see RFC 9293 §3.1 */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/** A TCP segment. @see RFC 9293 §3.1 */
export interface TcpSegment {
  readonly kind: "tcp";
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** Flag bits (TCP_SYN | TCP_ACK …). */
  readonly flags: number;
  readonly window: number;
  readonly urgent: number;
  /** Options bytes (a multiple of 4), present only when the segment carries options. */
  readonly options?: Uint8Array;
  readonly payload: Uint8Array;
}

/** A UDP datagram. @see RFC 768 */
export interface UdpDatagram {
  readonly kind: "udp";
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: VxlanPacket | RawPayload;
}

/** ICMP types podwire names. @see RFC 792 */
export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;

/**
 * An ICMP message. `id` and `seq` are the two 16-bit halves of the word after the checksum: the
 * echo identifier and sequence for echo, and for "fragmentation needed" (type 3 code 4) `seq`
 * holds the next-hop MTU (RFC 1191 §4). The payload of an error is the quoted original header and
 * its first 8 bytes.
 */
export interface IcmpMessage {
  readonly kind: "icmp";
  readonly type: number;
  readonly code: number;
  readonly id: number;
  readonly seq: number;
  readonly payload: Uint8Array;
}

/** A VXLAN packet (carried in UDP). @see RFC 7348 §5 */
export interface VxlanPacket {
  readonly kind: "vxlan";
  readonly vni: number;
  readonly inner: EthernetFrame;
}

/** Why bytes did not decode. Decoding never throws; it returns one of these. */
export interface DecodeIssue {
  readonly code: "truncated" | "bad-checksum" | "bad-version" | "bad-length" | "bad-field";
  readonly layer: "eth" | "arp" | "ipv4" | "tcp" | "udp" | "icmp" | "vxlan";
  readonly offset: number;
  readonly message: string;
}

/** The result of a decode. */
export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: DecodeIssue };

/** Builds a failed decode result. */
export function decodeFail<T>(layer: DecodeIssue["layer"], code: DecodeIssue["code"], offset: number, message: string): Decoded<T> {
  return { ok: false, error: { layer, code, offset, message } };
}

/** The source and destination that TCP and UDP checksums cover (the pseudo-header). */
export interface PseudoHeader {
  readonly src: Ipv4;
  readonly dst: Ipv4;
}
