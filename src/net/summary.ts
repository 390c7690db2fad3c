/**
 * @module net/summary
 * One-line, tcpdump-like summaries of frames and packets, for traces and the CLI
 * (`tcpdump -n -e` wording: `IP 10.0.0.1.41000 > 10.0.0.2.80: Flags [S], ...`). An encapsulated
 * frame prints its outer layers, then `|`, then the inner frame.
 */
import { formatIpv4, ipv4 } from "./addr.js";
import { u16, u32 } from "./bytes.js";
import { ethernetLength } from "./packet.js";
import { summarizeArp } from "./headers/ethernet.js";
import type { EthernetFrame, IcmpMessage, Ipv4Packet, TcpSegment } from "./headers/types.js";
import { ICMP_DEST_UNREACH, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_TIME_EXCEEDED, TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from "./headers/types.js";

/** tcpdump's flag letters, in its order. */
export function formatTcpFlags(flags: number): string {
  let s = "";
  if (flags & TCP_FIN) s += "F";
  if (flags & TCP_SYN) s += "S";
  if (flags & TCP_RST) s += "R";
  if (flags & TCP_PSH) s += "P";
  if (flags & TCP_URG) s += "U";
  if (flags & TCP_ECE) s += "E";
  if (flags & TCP_CWR) s += "W";
  if (flags & TCP_ACK) s += ".";
  return s === "" ? "none" : s;
}

function tcpSummary(t: TcpSegment): string {
  const ack = t.flags & TCP_ACK ? `, ack ${t.ack}` : "";
  return `Flags [${formatTcpFlags(t.flags)}], seq ${t.seq}${ack}, win ${t.window}, length ${t.payload.length}`;
}

function icmpSummary(pl: IcmpMessage): string {
  const len = 8 + pl.payload.length;
  if (pl.type === ICMP_ECHO_REQUEST || pl.type === ICMP_ECHO_REPLY) {
    const what = pl.type === ICMP_ECHO_REQUEST ? "echo request" : "echo reply";
    return `ICMP ${what}, id ${pl.id}, seq ${pl.seq}, length ${len}`;
  }
  if (pl.type === ICMP_TIME_EXCEEDED) {
    return `ICMP time exceeded in-transit, length ${len}`;
  }
  if (pl.type === ICMP_DEST_UNREACH) {
    // The quoted header tells which address and port were unreachable (tcpdump print-icmp.c).
    const q = pl.payload;
    const dst = q.length >= 20 ? formatIpv4(ipv4(u32(q, 16))) : "?";
    const proto = q[9];
    const ihl = ((q[0] ?? 0) & 15) * 4;
    switch (pl.code) {
      case 0:
        return `ICMP net ${dst} unreachable, length ${len}`;
      case 1:
        return `ICMP host ${dst} unreachable, length ${len}`;
      case 3: {
        const pname = proto === 6 ? "tcp" : proto === 17 ? "udp" : `proto ${proto ?? "?"}`;
        return `ICMP ${dst} ${pname} port ${u16(q, ihl + 2)} unreachable, length ${len}`;
      }
      case 4:
        return `ICMP ${dst} unreachable - need to frag (mtu ${pl.seq}), length ${len}`;
      case 13:
        return `ICMP host ${dst} unreachable - admin prohibited filter, length ${len}`;
      default:
        return `ICMP ${dst} unreachable code ${pl.code}, length ${len}`;
    }
  }
  return `ICMP type-#${pl.type}, length ${len}`;
}

/** The part of tcpdump's line after the link layer, for an IPv4 packet (`10.0.0.1.80 > …`). */
function ipv4Core(p: Ipv4Packet): string {
  const h = p.header;
  const s = formatIpv4(h.src);
  const d = formatIpv4(h.dst);
  const pl = p.payload;
  switch (pl.kind) {
    case "tcp":
      return `${s}.${pl.srcPort} > ${d}.${pl.dstPort}: ${tcpSummary(pl)}`;
    case "udp":
      if (pl.payload.kind === "vxlan") {
        const v = pl.payload;
        return `${s}.${pl.srcPort} > ${d}.${pl.dstPort}: VXLAN, flags [I] (0x08), vni ${v.vni} | ${summarizeFrame(v.inner)}`;
      }
      return `${s}.${pl.srcPort} > ${d}.${pl.dstPort}: UDP, length ${pl.payload.bytes.length}`;
    case "icmp":
      return `${s} > ${d}: ${icmpSummary(pl)}`;
    case "raw":
      return `${s} > ${d}: ip-proto-${pl.proto} ${pl.bytes.length}`;
  }
}

/** Summarises an IPv4 packet as `tcpdump -nn` does (`IP 10.0.0.1.41000 > 10.0.0.2.80: Flags [S], …`). */
export function summarizeIpv4(p: Ipv4Packet): string {
  return `IP ${ipv4Core(p)}`;
}

/**
 * Summarises an Ethernet frame as `tcpdump -nn -e` does, without the timestamp:
 * `02:00:00:00:00:0a > 02:00:00:00:00:0b, ethertype IPv4 (0x0800), length 98: 10.99.0.1 > …`.
 */
export function summarizeFrame(f: EthernetFrame): string {
  const p = f.payload;
  const len = ethernetLength(f);
  const l2 = `${f.src} > ${f.dst}`;
  switch (p.kind) {
    case "ipv4":
      return `${l2}, ethertype IPv4 (0x0800), length ${len}: ${ipv4Core(p)}`;
    case "arp":
      return `${l2}, ethertype ARP (0x0806), length ${len}: ${summarizeArp(p).replace(/^ARP, /, "")}`;
    case "raw":
      return `${l2}, ethertype Unknown (0x${p.proto.toString(16).padStart(4, "0")}), length ${len}`;
  }
}
