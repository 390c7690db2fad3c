/**
 * @module kernel/ip-pipeline
 * The IPv4 path, written once as a short list of named stages (STYLE 3.5), each standing for the
 * kernel function named in its doc line. gVisor's hook diagram, with Linux's names:
 *
 *                 netifReceive ─► ipRcv ─► PREROUTING ─► routeInput ─┬─► ipLocalDeliver ─► INPUT ─► socket
 *                                                                    │
 *                                                                    └─► ipForward ─► FORWARD ─┐
 *                                                                                              ▼
 *   socket ─► ipLocalOut ─► route ─► OUTPUT ─► (re-route) ────────────────────────► ipOutput ─► POSTROUTING ─► neighOutput ─► devXmit
 *
 * `arpRcv` and `neighOutput` (ARP, neighbour states) live in `neigh.ts`. Bridge ports hand frames
 * to `devices/bridge.ts` instead of `ipRcv`; with br_netfilter the
 * bridge runs PREROUTING itself and marks the skb so `ipRcv` does not run it twice (§7.3).
 * Packets the kernel makes itself — ARP, ICMP errors, TCP RST, echo replies, SYN-ACKs — leave
 * through `ipLocalOut` like any other locally generated packet, so OUTPUT/POSTROUTING and
 * conntrack see them.
 */
import { formatIpv4, isMulticastMac, MAC_BROADCAST, type Ipv4 } from "../net/addr.js";
import type { EthernetFrame, IcmpMessage, Ipv4Packet } from "../net/headers/types.js";
import { ipv4Header, tupleOf } from "../net/packet.js";
import { replyOf, tupleKey, type Tuple } from "../net/tuple.js";
import type { DropReason } from "./events.js";
import { brDevXmit, brHandleFrame } from "./devices/bridge.js";
import { vxlanRcv, vxlanXmit } from "./devices/vxlan.js";
import { quote, readQuote } from "./icmp.js";
import type { Network } from "./network.js";
import type { NetNs } from "./netns.js";
import { arpRcv, neighOutput } from "./neigh.js";
import { hookIo, natAddrs, nfHook, type HookCtx, type HookResult } from "./nf-hooks.js";
import { ipv4Length, newSkb, type Skb } from "./skb.js";
import type { Device, Route } from "./types.js";

/** The running context every stage receives. */
export interface Kx extends HookCtx {
  readonly net: Network;
}

/** Options for a locally generated packet. */
export interface SendOptions {
  readonly payloadBytes?: number;
  readonly df?: boolean;
  readonly ttl?: number;
  readonly mark?: number;
  /** Bind to a device (`SO_BINDTODEVICE` / `ping -I dev`). */
  readonly dev?: string;
  /** The packet opens a connection from a socket: replies and errors for it are delivered to that socket. */
  readonly connect?: boolean;
}

/** Records a drop. */
export function drop(k: Kx, ns: NetNs, skbOrId: Skb | number, reason: DropReason, text: string, dev?: string): void {
  const packetId = typeof skbOrId === "number" ? skbOrId : skbOrId.id;
  k.record({ kind: "drop", packetId, ns: ns.name, reason, text, ...(dev !== undefined ? { dev } : {}) });
}

// ---- devices --------------------------------------------------------------------------------

/** `dev_queue_xmit`: a device sends a frame. */
export function devXmit(k: Kx, ns: NetNs, dev: Device, frame: EthernetFrame, packetId: number, skb?: Skb): void {
  if (!dev.up) {
    drop(k, ns, packetId, "dev-down", `${dev.name} is down`, dev.name);
    return;
  }
  k.record({ kind: "dev.tx", packetId, ns: ns.name, dev: dev.name, frame });
  switch (dev.kind) {
    case "loopback":
      k.net.enqueue({ ns: ns.name, dev: dev.name, frame, packetId, skb });
      return;
    case "veth": {
      // Read, not copied: the receive decides whether the peer namespace is needed (Network.drain).
      const peerNs = k.net.peekNs(dev.peerNs);
      const peer = peerNs?.devices.get(dev.peer);
      if (!peerNs || !peer?.up) {
        drop(k, ns, packetId, "dev-down", `veth peer ${dev.peer} is down (tx_dropped on ${dev.name})`, dev.name);
        return;
      }
      k.net.enqueue({ ns: dev.peerNs, dev: dev.peer, frame, packetId, skb: undefined });
      return;
    }
    case "bridge":
      brDevXmit(k, ns, dev, frame, packetId);
      return;
    case "vxlan":
      vxlanXmit(k, ns, dev, frame, packetId);
      return;
    case "nic":
      k.net.segmentXmit({ ns: ns.name, dev: dev.name }, dev.segment, frame, packetId);
      return;
  }
}

/** `__netif_receive_skb`: a frame arrives on a device. */
export function netifReceive(k: Kx, ns: NetNs, dev: Device, frame: EthernetFrame, packetId: number, skb?: Skb): void {
  k.record({ kind: "dev.rx", packetId, ns: ns.name, dev: dev.name, frame });
  if (!dev.up) {
    drop(k, ns, packetId, "dev-down", `${dev.name} is down`, dev.name);
    return;
  }
  // veth_xmit → is_skb_forwardable: a frame longer than the receiver's MTU (+ link header) is dropped.
  if (frame.payload.kind === "ipv4" && dev.kind !== "loopback" && ipv4Length(frame.payload) > dev.mtu) {
    drop(k, ns, packetId, "mtu", `${ipv4Length(frame.payload)}-byte packet exceeds ${dev.name} MTU ${dev.mtu} (rx_dropped)`, dev.name);
    return;
  }
  if (dev.master !== undefined) {
    brHandleFrame(k, ns, dev, frame, packetId);
    return;
  }
  l3Receive(k, ns, dev, frame, packetId, skb);
}

/** Hands a frame to the protocol layer (ARP or IPv4) of `dev`. */
export function l3Receive(k: Kx, ns: NetNs, dev: Device, frame: EthernetFrame, packetId: number, skb?: Skb): void {
  const pktType = frame.dst === dev.mac || dev.kind === "loopback" ? "host" : frame.dst === MAC_BROADCAST ? "broadcast" : isMulticastMac(frame.dst) ? "multicast" : "otherhost";
  const pl = frame.payload;
  if (pl.kind === "arp") {
    arpRcv(k, ns, dev, frame, pl, packetId);
    return;
  }
  if (pl.kind !== "ipv4") return;
  if (pktType === "otherhost") {
    // ip_rcv_core drops PACKET_OTHERHOST: the frame was not addressed to this device.
    drop(k, ns, packetId, "otherhost", `frame to ${frame.dst} is not for ${dev.name} (${dev.mac})`, dev.name);
    return;
  }
  const s: Skb = skb ?? newSkb(packetId, pl, 0, pktType, false);
  s.pkt = pl;
  s.inDev = dev.name;
  ipRcv(k, ns, dev, s);
}

// ---- receive --------------------------------------------------------------------------------

/** `ip_rcv`: PREROUTING (unless the bridge already ran it), then routing. */
function ipRcv(k: Kx, ns: NetNs, dev: Device, skb: Skb): void {
  if (!skb.preroutingDone) {
    const r = nfHook(k, ns, "PREROUTING", skb, hookIo(dev.name, "", skb.physIn), natAddrs(undefined, ns.addrs.find((a) => a.dev === dev.name)?.addr ?? (0 as Ipv4)));
    if (!r.ok) return nfStopped(k, ns, skb, r, "PREROUTING");
  }
  routeInput(k, ns, dev, skb);
}

/** rp_filter (`fib_validate_source`): does the best route back to `src` leave by `dev`? */
export function rpCheck(ns: NetNs, src: Ipv4, dev: string): "ok" | "fail" {
  const mode = ns.conf(dev).rpFilter;
  if (mode === 0) return "ok";
  const r = ns.local.lookup(src) ?? ns.main.lookup(src);
  const back = r && r.type !== "local" && r.type !== "broadcast" ? r : ns.main.lookup(src);
  if (!back || back.type === "unreachable" || back.type === "prohibit" || back.type === "blackhole") return "fail";
  if (mode === 2) return "ok";
  return back.dev === dev ? "ok" : "fail";
}

/** A route lookup (`fib_lookup`): table local, then main. */
export function fibLookup(ns: NetNs, dst: Ipv4, oif?: string): Route | undefined {
  return ns.local.lookup(dst, (r) => oif === undefined || r.dev === oif || r.type === "local") ?? ns.main.lookup(dst, (r) => oif === undefined || r.dev === oif || r.dev === undefined);
}

const isLoopbackAddr = (a: Ipv4): boolean => a >>> 24 === 127;
const isMulticast = (a: Ipv4): boolean => a >>> 28 === 14;

/** `ip_route_input_slow`: martians, local delivery, forwarding, or an error route. */
function routeInput(k: Kx, ns: NetNs, dev: Device, skb: Skb): void {
  const { src, dst } = skb.pkt.header;
  const conf = ns.conf(dev.name);
  const notLo = dev.kind !== "loopback";
  if (isMulticast(src) || src === 0xffffffff || (src === 0 && dst !== 0xffffffff) || (notLo && isLoopbackAddr(src) && !conf.routeLocalnet)) {
    return drop(k, ns, skb, "martian-source", `martian source ${formatIpv4(src)} from ${dev.name}`, dev.name);
  }
  if (dst === 0 || (notLo && isLoopbackAddr(dst) && !conf.routeLocalnet)) {
    return drop(k, ns, skb, "martian-destination", `martian destination ${formatIpv4(dst)} from ${formatIpv4(src)}, dev ${dev.name}`, dev.name);
  }
  if (dst === 0xffffffff) return ipLocalDeliver(k, ns, dev, skb);
  const r = fibLookup(ns, dst);
  const err = (why: DropReason, code: number | undefined, text: string): void => {
    k.record({ kind: "route.lookup", packetId: skb.id, ns: ns.name, dst: formatIpv4(dst), result: "forward", ...(r ? { route: r } : {}) });
    if (!conf.forwarding) return drop(k, ns, skb, "forwarding-disabled", `not forwarded: net.ipv4.conf.${dev.name}.forwarding=0 (ip_forward off)`, dev.name);
    drop(k, ns, skb, why, text, dev.name);
    if (code === undefined) return;
    // ip_error's own limiter (1 s per error, burst 5 s) shares the peer's bucket with icmp_send's.
    if (!ns.icmpAllow(src, k.now(), 5000)) return k.record({ kind: "note", packetId: skb.id, ns: ns.name, text: `ICMP error to ${formatIpv4(src)} not sent: rate-limited (ip_error: 1 per second per peer)` });
    icmpSend(k, ns, skb, 3, code, 0);
  };
  if (!r) return err("no-route", 0, `no route to ${formatIpv4(dst)} (ICMP net unreachable)`);
  if (r.type === "blackhole") return err("route-blackhole", undefined, `route blackhole ${formatIpv4(r.dst.addr)}/${r.dst.len}`);
  if (r.type === "unreachable") return err("route-unreachable", 1, `route unreachable ${formatIpv4(r.dst.addr)}/${r.dst.len} (ICMP host unreachable)`);
  if (r.type === "prohibit") return err("route-prohibit", 13, `route prohibit ${formatIpv4(r.dst.addr)}/${r.dst.len} (ICMP packet filtered)`);
  if (r.type === "broadcast") {
    k.record({ kind: "route.lookup", packetId: skb.id, ns: ns.name, dst: formatIpv4(dst), result: "broadcast", route: r });
    return ipLocalDeliver(k, ns, dev, skb);
  }
  if (r.type === "local") {
    if (notLo && ns.isLocal(src)) return drop(k, ns, skb, "martian-source", `martian source ${formatIpv4(src)} (one of our own addresses) from ${dev.name}`, dev.name);
    if (notLo && rpCheck(ns, src, dev.name) === "fail") return drop(k, ns, skb, "rp-filter", rpText(ns, src, dev.name), dev.name);
    k.record({ kind: "route.lookup", packetId: skb.id, ns: ns.name, dst: formatIpv4(dst), result: "local", route: r });
    return ipLocalDeliver(k, ns, dev, skb);
  }
  if (!conf.forwarding) {
    k.record({ kind: "route.lookup", packetId: skb.id, ns: ns.name, dst: formatIpv4(dst), result: "forward", route: r });
    return drop(k, ns, skb, "forwarding-disabled", `not forwarded: net.ipv4.conf.${dev.name}.forwarding=0 (ip_forward off)`, dev.name);
  }
  if (ns.isLocal(src)) return drop(k, ns, skb, "martian-source", `martian source ${formatIpv4(src)} (one of our own addresses) from ${dev.name}`, dev.name);
  if (rpCheck(ns, src, dev.name) === "fail") return drop(k, ns, skb, "rp-filter", rpText(ns, src, dev.name), dev.name);
  const nexthop = r.via ?? dst;
  k.record({ kind: "route.lookup", packetId: skb.id, ns: ns.name, dst: formatIpv4(dst), result: "forward", route: r, ...(r.via !== undefined ? { via: formatIpv4(r.via) } : {}), dev: r.dev as string });
  ipForward(k, ns, dev, skb, ns.dev(r.dev as string), nexthop);
}

function rpText(ns: NetNs, src: Ipv4, dev: string): string {
  const mode = ns.conf(dev).rpFilter;
  const back = ns.main.lookup(src);
  return `rp_filter=${mode} (${mode === 1 ? "strict" : "loose"}): ${back ? `the route back to ${formatIpv4(src)} leaves by ${back.dev ?? back.type}, not ${dev}` : `no route back to ${formatIpv4(src)}`}`;
}

/** `ip_forward`: TTL, MTU, FORWARD, then out. */
function ipForward(k: Kx, ns: NetNs, inDev: Device, skb: Skb, out: Device, nexthop: Ipv4): void {
  if (skb.pktType !== "host") return drop(k, ns, skb, "otherhost", `not forwarded: link-layer ${skb.pktType} packet`, inDev.name);
  const h = skb.pkt.header;
  if (h.ttl <= 1) {
    drop(k, ns, skb, "ttl-exceeded", `TTL ${h.ttl} would reach 0 (ICMP time exceeded)`, inDev.name);
    return icmpSend(k, ns, skb, 11, 0, 0);
  }
  const len = ipv4Length(skb.pkt);
  if (len > out.mtu && h.df) {
    drop(k, ns, skb, "mtu", `${len}-byte packet with DF does not fit ${out.name} MTU ${out.mtu} (ICMP fragmentation needed, mtu ${out.mtu})`, out.name);
    return icmpSend(k, ns, skb, 3, 4, out.mtu);
  }
  skb.pkt = { ...skb.pkt, header: { ...h, ttl: h.ttl - 1 } };
  k.record({ kind: "ttl", packetId: skb.id, ns: ns.name, from: h.ttl, to: h.ttl - 1 });
  const io = hookIo(inDev.name, out.name, skb.physIn);
  const r = nfHook(k, ns, "FORWARD", skb, io);
  if (!r.ok) return nfStopped(k, ns, skb, r, "FORWARD");
  skb.nexthop = nexthop;
  ipOutput(k, ns, skb, out, nexthop);
}

/** `ip_local_deliver`: INPUT, then the socket (or the kernel itself: echo, RST, port unreachable, VXLAN). */
function ipLocalDeliver(k: Kx, ns: NetNs, dev: Device, skb: Skb): void {
  const r = nfHook(k, ns, "INPUT", skb, hookIo(dev.name, "", skb.physIn));
  if (!r.ok) return nfStopped(k, ns, skb, r, "INPUT");
  const p = skb.pkt;
  const pl = p.payload;
  const bcast = p.header.dst === 0xffffffff || skb.pktType !== "host" || !ns.isLocal(p.header.dst);
  // A reply to (or an ICMP error about) a connection a local socket opened goes to that socket.
  const flow = pl.kind === "icmp" && pl.type !== 0 && pl.type !== 8 ? quotedFlow(pl) : tupleOf(p);
  const own = flow && !(pl.kind === "icmp" && pl.type === 8) && (pl.kind === "icmp" && pl.type !== 0 ? ns.connections.has(tupleKey(replyOf(flow))) : ns.connections.has(tupleKey(flow)));
  if (own) {
    k.record({ kind: "deliver", packetId: skb.id, ns: ns.name, to: "socket", socket: "the connecting socket", packet: p });
    return;
  }
  switch (pl.kind) {
    case "icmp":
      if (pl.type === 8) {
        if (ns.sysctls.icmpEchoIgnoreAll || bcast) return drop(k, ns, skb, "no-socket", "echo request ignored", dev.name);
        k.record({ kind: "deliver", packetId: skb.id, ns: ns.name, to: "kernel", packet: p });
        const reply: Ipv4Packet = { kind: "ipv4", header: ipv4Header(p.header.dst, p.header.src, { ttl: ns.sysctls.defaultTtl, df: false, id: ns.nextIpId() }), payload: { ...pl, type: 0 } };
        return emit(k, ns, reply, "echo-reply", skb.id);
      }
      k.record({ kind: "deliver", packetId: skb.id, ns: ns.name, to: "socket", socket: "icmp", packet: p });
      return;
    case "udp": {
      const vx = [...ns.devices.values()].find((d) => d.kind === "vxlan" && d.up && d.dstport === pl.dstPort && (d.local === undefined || d.local === p.header.dst));
      if (vx && vx.kind === "vxlan") return vxlanRcv(k, ns, vx, skb);
      const sock = ns.socketFor("udp", p.header.dst, pl.dstPort);
      if (!sock) {
        drop(k, ns, skb, "no-socket", `nothing listens on udp ${formatIpv4(p.header.dst)}:${pl.dstPort} (ICMP port unreachable)`, dev.name);
        if (!bcast) icmpSend(k, ns, skb, 3, 3, 0);
        return;
      }
      k.record({ kind: "deliver", packetId: skb.id, ns: ns.name, to: "socket", socket: sock.label ?? `udp ${formatIpv4(sock.addr)}:${sock.port}`, packet: p });
      if (sock.reply === "echo") {
        const payload = pl.payload.kind === "raw" ? pl.payload : { kind: "raw" as const, proto: 0, bytes: new Uint8Array() };
        const reply: Ipv4Packet = { kind: "ipv4", header: ipv4Header(0 as Ipv4, p.header.src, { ttl: ns.sysctls.defaultTtl, id: ns.nextIpId() }), payload: { kind: "udp", srcPort: pl.dstPort, dstPort: pl.srcPort, payload } };
        emit(k, ns, reply, "udp-reply", skb.id);
      }
      return;
    }
    case "tcp": {
      const sock = ns.socketFor("tcp", p.header.dst, pl.dstPort);
      const isSyn = (pl.flags & 0x12) === 0x02;
      if (sock) {
        k.record({ kind: "deliver", packetId: skb.id, ns: ns.name, to: "socket", socket: sock.label ?? `tcp ${formatIpv4(sock.addr)}:${sock.port}`, packet: p });
        if (isSyn) {
          const synack: Ipv4Packet = {
            kind: "ipv4",
            header: ipv4Header(p.header.dst, p.header.src, { ttl: ns.sysctls.defaultTtl, id: 0 }),
            payload: { kind: "tcp", srcPort: pl.dstPort, dstPort: pl.srcPort, seq: 0, ack: (pl.seq + 1) >>> 0, flags: 0x12, window: 65160, urgent: 0, payload: new Uint8Array() },
          };
          emit(k, ns, synack, "tcp-synack", skb.id);
        }
        return;
      }
      drop(k, ns, skb, "no-socket", `nothing listens on tcp ${formatIpv4(p.header.dst)}:${pl.dstPort} (TCP RST)`, dev.name);
      if ((pl.flags & 0x04) === 0 && !bcast) sendReset(k, ns, skb);
      return;
    }
    case "raw":
      drop(k, ns, skb, "no-socket", `no handler for IP protocol ${pl.proto} (ICMP protocol unreachable)`, dev.name);
      if (!bcast) icmpSend(k, ns, skb, 3, 2, 0);
      return;
  }
}

function quotedFlow(m: IcmpMessage): Tuple | undefined {
  const q = readQuote(m.payload);
  return q && q.proto !== "other" ? { proto: q.proto, src: q.src, sport: q.sport, dst: q.dst, dport: q.dport } : undefined;
}

// tcp_v4_send_reset: answer a segment nobody listens for.
function sendReset(k: Kx, ns: NetNs, skb: Skb): void {
  const p = skb.pkt;
  const t = p.payload;
  if (t.kind !== "tcp") return;
  const hasAck = (t.flags & 0x10) !== 0;
  const segLen = t.payload.length + ((t.flags & 0x02) !== 0 ? 1 : 0) + ((t.flags & 0x01) !== 0 ? 1 : 0);
  const rst: Ipv4Packet = {
    kind: "ipv4",
    header: ipv4Header(p.header.dst, p.header.src, { ttl: ns.sysctls.defaultTtl, id: 0 }),
    payload: { kind: "tcp", srcPort: t.dstPort, dstPort: t.srcPort, seq: hasAck ? t.ack : 0, ack: hasAck ? 0 : (t.seq + segLen) >>> 0, flags: hasAck ? 0x04 : 0x14, window: 0, urgent: 0, payload: new Uint8Array() },
  };
  emit(k, ns, rst, "tcp-rst", skb.id);
}

/**
 * `icmp_send`: an ICMP error about `skb` back to its source. The source address is the original
 * destination when that was one of ours, else what routing picks towards the original sender
 * (`icmp_errors_use_inbound_ifaddr` = 0). Never about an ICMP error, a broadcast or a fragment.
 */
export function icmpSend(k: Kx, ns: NetNs, skb: Skb, type: number, code: number, mtu: number): void {
  const p = skb.pkt;
  if (p.payload.kind === "icmp" && p.payload.type !== 8 && p.payload.type !== 0) return;
  if (p.header.fragOffset > 0 || isMulticast(p.header.dst) || p.header.dst === 0xffffffff || p.header.src === 0) return;
  // icmpv4_xrlim_allow: types in icmp_ratemask (3, 4, 11, 12) are limited to 1 per second per
  // peer (burst 6), except fragmentation-needed and errors to ourselves.
  const limited = (type === 3 || type === 4 || type === 11 || type === 12) && !(type === 3 && code === 4) && !ns.isLocal(p.header.src);
  if (limited && !ns.icmpAllow(p.header.src, k.now(), 6000)) {
    return k.record({ kind: "note", packetId: skb.id, ns: ns.name, text: `ICMP type ${type} code ${code} to ${formatIpv4(p.header.src)} not sent: rate-limited (net.ipv4.icmp_ratelimit 1000 ms per peer)` });
  }
  const src = ns.isLocal(p.header.dst) ? p.header.dst : (0 as Ipv4);
  const msg: IcmpMessage = { kind: "icmp", type, code, id: 0, seq: mtu, payload: quote(p) };
  // ICMP errors carry TOS 0xc0 (internetwork control) and no DF (verified on the real kernel).
  const err: Ipv4Packet = { kind: "ipv4", header: ipv4Header(src, p.header.src, { ttl: ns.sysctls.defaultTtl, df: false, dscp: 0x30, id: ns.nextIpId() }), payload: msg };
  emit(k, ns, err, "icmp-error", skb.id);
}

function emit(k: Kx, ns: NetNs, pkt: Ipv4Packet, what: "echo-reply" | "tcp-rst" | "tcp-synack" | "udp-reply" | "icmp-error", cause: number): void {
  const id = k.net.packetId();
  k.record({ kind: "emit", packetId: id, ns: ns.name, what, cause, packet: pkt });
  // Conntrack finds the connection a reply belongs to, and that an ICMP error is RELATED to it.
  ipLocalOut(k, ns, newSkb(id, pkt, 0, "host", true));
}

/** A hook dropped or rejected the packet: record it, and answer a REJECT as the target says. */
export function nfStopped(k: Kx, ns: NetNs, skb: Skb, r: Extract<HookResult, { ok: false }>, hook: string): void {
  const reason: DropReason = r.verdict === "drop" ? "nf-drop" : r.verdict === "reject" ? "nf-reject" : "nf-error";
  drop(k, ns, skb, reason, `${hook}: ${r.text}`);
  if (r.verdict !== "reject") return;
  const w = r.rejectWith ?? "icmp-port-unreachable";
  if (w === "tcp-reset") return sendReset(k, ns, skb);
  const codes: Record<string, number> = {
    "icmp-net-unreachable": 0,
    "icmp-host-unreachable": 1,
    "icmp-proto-unreachable": 2,
    "icmp-port-unreachable": 3,
    "icmp-net-prohibited": 9,
    "icmp-host-prohibited": 10,
    "icmp-admin-prohibited": 13,
  };
  icmpSend(k, ns, skb, 3, codes[w] ?? 3, 0);
}

// ---- output ---------------------------------------------------------------------------------

/**
 * `ip_route_output_key`: the route and source for a locally generated packet; undefined with
 * the errno text a socket would get when there is none.
 */
export function routeOutput(ns: NetNs, dst: Ipv4, src: Ipv4, oif?: string): { route: Route; dev: string; src: Ipv4; nexthop: Ipv4 } | { error: string; reason: DropReason } {
  const r = fibLookup(ns, dst, oif);
  if (!r) return { error: "connect: Network is unreachable", reason: "no-route" };
  if (r.type === "blackhole") return { error: "connect: Invalid argument (blackhole route)", reason: "route-blackhole" };
  if (r.type === "unreachable") return { error: "connect: No route to host (unreachable route)", reason: "route-unreachable" };
  if (r.type === "prohibit") return { error: "connect: Permission denied (prohibit route)", reason: "route-prohibit" };
  if (r.type === "local" || r.type === "broadcast" && r.table === "local" && ns.isLocal(dst)) {
    return { route: r, dev: "lo", src: src !== 0 ? src : r.type === "local" ? dst : (r.src ?? dst), nexthop: dst };
  }
  const dev = r.dev as string;
  const nexthop = r.via ?? dst;
  const chosen = src !== 0 ? src : (r.src ?? ns.selectAddr(dev, r.via ?? dst, r.scope === "host" ? "host" : r.scope === "link" ? "link" : "global"));
  if (chosen === undefined) return { error: `connect: Network is unreachable (no source address for ${dev})`, reason: "no-route" };
  return { route: r, dev, src: chosen, nexthop };
}

/** `ip_local_out`: route, OUTPUT, re-route if NAT changed the destination, then `ipOutput`. */
export function ipLocalOut(k: Kx, ns: NetNs, skb: Skb, opts: SendOptions = {}): void {
  const h0 = skb.pkt.header;
  const rt = routeOutput(ns, h0.dst, h0.src, opts.dev);
  if ("error" in rt) return drop(k, ns, skb, rt.reason, `${rt.error} (${formatIpv4(h0.dst)})`);
  if (h0.src === 0) skb.pkt = { ...skb.pkt, header: { ...h0, src: rt.src, ttl: opts.ttl ?? ns.sysctls.defaultTtl, id: ns.nextIpId() } };
  k.record({ kind: "route.lookup", packetId: skb.id, ns: ns.name, dst: formatIpv4(h0.dst), result: "output", route: rt.route, ...(rt.route.via !== undefined ? { via: formatIpv4(rt.route.via) } : {}), dev: rt.dev, src: formatIpv4(rt.src) });
  const flow = tupleOf(skb.pkt);
  if (opts.connect && flow) ns.connections.add(tupleKey(replyOf(flow)));
  const r = nfHook(k, ns, "OUTPUT", skb, hookIo("", rt.dev), natAddrs(undefined, 0x7f000001 as Ipv4));
  if (!r.ok) return drop(k, ns, skb, r.verdict === "drop" ? "nf-drop" : r.verdict === "reject" ? "nf-reject" : "nf-error", `OUTPUT: ${r.text} (the sending socket gets an error)`);
  let dev = rt.dev;
  let nexthop = rt.nexthop;
  if (skb.pkt.header.dst !== h0.dst) {
    // ip_route_me_harder: DNAT in OUTPUT changed the destination.
    const again = routeOutput(ns, skb.pkt.header.dst, skb.pkt.header.src, opts.dev);
    if ("error" in again) return drop(k, ns, skb, again.reason, `${again.error} (${formatIpv4(skb.pkt.header.dst)} after DNAT)`);
    k.record({ kind: "route.lookup", packetId: skb.id, ns: ns.name, dst: formatIpv4(skb.pkt.header.dst), result: "output", route: again.route, ...(again.route.via !== undefined ? { via: formatIpv4(again.route.via) } : {}), dev: again.dev });
    dev = again.dev;
    nexthop = again.nexthop;
  }
  const out = ns.dev(dev);
  const len = ipv4Length(skb.pkt);
  if (len > out.mtu && skb.pkt.header.df && dev !== "lo") {
    return drop(k, ns, skb, "mtu", `${len}-byte packet with DF exceeds ${dev} MTU ${out.mtu} (the socket gets EMSGSIZE: Message too long)`, dev);
  }
  skb.nexthop = nexthop;
  ipOutput(k, ns, skb, out, nexthop);
}

/** `ip_output`: POSTROUTING (MASQUERADE takes the out device's address), then the neighbour layer. */
export function ipOutput(k: Kx, ns: NetNs, skb: Skb, out: Device, nexthop: Ipv4): void {
  const masq = ns.selectAddr(out.name, nexthop, "global");
  const r = nfHook(k, ns, "POSTROUTING", skb, hookIo("", out.name), natAddrs(masq, undefined));
  if (!r.ok) return nfStopped(k, ns, skb, r, "POSTROUTING");
  const len = ipv4Length(skb.pkt);
  if (len > out.mtu && out.kind !== "loopback") {
    k.record({ kind: "note", packetId: skb.id, ns: ns.name, text: `${len}-byte packet without DF exceeds ${out.name} MTU ${out.mtu}: the kernel fragments it; podwire carries it whole` });
  }
  neighOutput(k, ns, skb, out, nexthop);
}
