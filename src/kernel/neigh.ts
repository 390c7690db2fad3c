/**
 * @module kernel/neigh
 * The neighbour layer (`net/ipv4/arp.c`, `net/core/neighbour.c`): answering ARP requests for our
 * own addresses (any interface, arp_ignore 0; the asker must pass the same route check as a
 * packet from it, rp_filter included) and for others' with proxy_arp; learning the asker as
 * STALE; resolving next hops with real request/reply frames — INCOMPLETE while waiting, FAILED
 * when nobody answers, which drops the waiting packets and, for forwarded ones, sends ICMP host
 * unreachable back (`arp_error_report`).
 */
import { formatIpv4, MAC_BROADCAST, MAC_ZERO, type Ipv4, type Mac } from "../net/addr.js";
import type { ArpPacket, EthernetFrame } from "../net/headers/types.js";
import { devXmit, drop, icmpSend, rpCheck, type Kx } from "./ip-pipeline.js";
import { neighKey, type NetNs } from "./netns.js";
import type { Skb } from "./skb.js";
import type { Device } from "./types.js";

/** `arp_process`: answer requests for our addresses (and proxy_arp), learn senders, complete resolutions. */
export function arpRcv(k: Kx, ns: NetNs, dev: Device, frame: EthernetFrame, arp: ArpPacket, packetId: number): void {
  if (frame.dst !== dev.mac && frame.dst !== MAC_BROADCAST) return;
  const key = neighKey(dev.name, arp.senderIp);
  const existing = ns.neigh.get(key);
  if (arp.op === 1) {
    let answer: Mac | undefined;
    if (ns.isLocal(arp.targetIp) && arp.senderIp !== 0 && rpCheck(ns, arp.senderIp, dev.name) !== "fail") answer = dev.mac;
    else if (ns.conf(dev.name).proxyArp && ns.conf(dev.name).forwarding) {
      const r = ns.main.lookup(arp.targetIp);
      if (r?.type === "unicast" && r.dev !== dev.name) answer = dev.mac;
    }
    if (answer === undefined) return;
    // neigh_event_ns: the asker becomes a STALE neighbour.
    if (!existing || existing.state !== "PERMANENT") ns.neigh.set(key, { dev: dev.name, ip: arp.senderIp, mac: arp.senderMac, state: "STALE", updatedAt: k.now() });
    const id = k.net.packetId();
    k.record({ kind: "emit", packetId: id, ns: ns.name, what: "arp-reply", cause: packetId });
    const reply: EthernetFrame = {
      kind: "eth",
      dst: arp.senderMac,
      src: dev.mac,
      payload: { kind: "arp", op: 2, senderMac: answer, senderIp: arp.targetIp, targetMac: arp.senderMac, targetIp: arp.senderIp },
    };
    devXmit(k, ns, dev, reply, id);
    return;
  }
  // A reply: complete a resolution in progress (REACHABLE) or refresh a known entry.
  if (existing && existing.state !== "PERMANENT") {
    existing.mac = arp.senderMac;
    existing.state = frame.dst === dev.mac ? "REACHABLE" : "STALE";
    existing.updatedAt = k.now();
    k.record({ kind: "neigh", packetId, ns: ns.name, dev: dev.name, ip: formatIpv4(arp.senderIp), result: "resolved", mac: arp.senderMac });
    k.net.neighResolved(ns.name, dev.name, arp.senderIp, arp.senderMac);
  }
}

/** `ip_finish_output2` → `neigh_output`: find the next hop's MAC (ARP if needed) and transmit. */
export function neighOutput(k: Kx, ns: NetNs, skb: Skb, out: Device, nexthop: Ipv4): void {
  const frameTo = (dst: Mac): EthernetFrame => ({ kind: "eth", dst, src: out.mac, payload: skb.pkt });
  if (out.kind === "loopback") return devXmit(k, ns, out, { kind: "eth", dst: MAC_ZERO, src: MAC_ZERO, payload: skb.pkt }, skb.id, skb);
  const bcastRoute = ns.local.exact(nexthop, 32).find((r) => r.type === "broadcast");
  if (nexthop === 0xffffffff || bcastRoute) return devXmit(k, ns, out, frameTo(MAC_BROADCAST), skb.id);
  resolve(k, ns, out, nexthop, skb.id, skb.pkt.header.src, (mac) => devXmit(k, ns, out, frameTo(mac), skb.id), () => {
    drop(k, ns, skb, "neigh-failed", `no ARP reply from ${formatIpv4(nexthop)} on ${out.name} (neighbour FAILED)`, out.name);
    if (!skb.local) icmpSend(k, ns, skb, 3, 1, 0);
  });
}

/**
 * Neighbour lookup with ARP resolution: a usable entry gives the MAC now (STALE turns DELAY,
 * as `neigh_event_send` does); otherwise an INCOMPLETE entry is made, a request broadcast
 * (source: the packet's own source when it is ours, else the device's address — arp_announce 0)
 * and `then` runs when the reply comes; `fail` runs if none does.
 */
export function resolve(k: Kx, ns: NetNs, dev: Device, ip: Ipv4, packetId: number, pktSrc: Ipv4, then: (mac: Mac) => void, fail: () => void): void {
  const key = neighKey(dev.name, ip);
  const n = ns.neigh.get(key);
  if (n?.mac !== undefined && n.state !== "INCOMPLETE" && n.state !== "FAILED") {
    if (n.state === "STALE") n.state = "DELAY";
    k.record({ kind: "neigh", packetId, ns: ns.name, dev: dev.name, ip: formatIpv4(ip), result: "hit", mac: n.mac });
    return then(n.mac);
  }
  k.record({ kind: "neigh", packetId, ns: ns.name, dev: dev.name, ip: formatIpv4(ip), result: "miss" });
  const already = k.net.waitNeigh(ns.name, dev.name, ip, { resume: then, fail });
  if (already) return;
  ns.neigh.set(key, { dev: dev.name, ip, state: "INCOMPLETE", updatedAt: k.now() });
  const sip = ns.isLocal(pktSrc) ? pktSrc : (ns.selectAddr(dev.name, ip, "link") ?? (0 as Ipv4));
  const id = k.net.packetId();
  k.record({ kind: "emit", packetId: id, ns: ns.name, what: "arp-request", cause: packetId });
  const req: EthernetFrame = { kind: "eth", dst: MAC_BROADCAST, src: dev.mac, payload: { kind: "arp", op: 1, senderMac: dev.mac, senderIp: sip, targetMac: MAC_ZERO, targetIp: ip } };
  devXmit(k, ns, dev, req, id);
}
