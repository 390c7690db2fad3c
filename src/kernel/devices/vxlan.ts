/**
 * @module kernel/devices/vxlan
 * The Linux vxlan driver as flannel configures it (dataplane.md §5): transmit looks the inner
 * destination MAC up in the device FDB (the all-zeros entries are the default, and the only
 * destinations for broadcast), wraps the frame in UDP/IPv4 with the outer source = the `local`
 * address, DF clear, TTL = ip_default_ttl ("ttl auto"), ECN copied from the inner header and a
 * source port from a hash of the inner flow in 32768–60999; the outer packet then leaves through
 * the namespace's own OUTPUT/POSTROUTING like any kernel-made packet. Receive is the kernel UDP
 * socket on `dstport`: the VNI picks the device, a frame carrying our own MAC as source is
 * dropped as looped, the outer source is learned when `learning` is on, and the inner frame is
 * received on the vxlan device.
 */
import { formatIpv4, isMulticastMac, MAC_BROADCAST, type Ipv4 } from "../../net/addr.js";
import type { EthernetFrame, Ipv4Packet } from "../../net/headers/types.js";
import { ipv4Header } from "../../net/packet.js";
import type { NetNs } from "../netns.js";
import { ownVxlanFdb, vxlanFdbLookup } from "./vxlan-fdb.js";
import { drop, ipLocalOut, routeOutput, type Kx } from "../ip-pipeline.js";
import { newSkb, type Skb } from "../skb.js";
import type { Vxlan } from "../types.js";

/** The outer UDP source port range (`net.ipv4.ip_local_port_range`, vxlan `srcport 0 0`). */
const PORT_MIN = 32768;
const PORT_MAX = 60999;

/**
 * `udp_flow_src_port`: a stable port per inner flow. The kernel hashes with a boot-time random
 * seed; podwire uses FNV-1a over the inner addresses and ports, so the port is stable per flow
 * and deterministic, but not the number a given real host would pick.
 */
export function vxlanSourcePort(inner: EthernetFrame): number {
  let h = 0x811c9dc5;
  const mix = (n: number): void => {
    for (let i = 0; i < 4; i++) {
      h ^= (n >>> (i * 8)) & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  };
  const p = inner.payload;
  if (p.kind === "ipv4") {
    mix(p.header.src);
    mix(p.header.dst);
    const t = p.payload;
    if (t.kind === "tcp" || t.kind === "udp") mix((t.srcPort << 16) | t.dstPort);
  } else {
    for (const c of inner.src + inner.dst) mix(c.charCodeAt(0));
  }
  return Math.floor((h * (PORT_MAX - PORT_MIN)) / 2 ** 32) + PORT_MIN;
}

/** `vxlan_xmit`: encapsulate towards the FDB's remote(s). */
export function vxlanXmit(k: Kx, ns: NetNs, vx: Vxlan, frame: EthernetFrame, packetId: number): void {
  const bcast = frame.dst === MAC_BROADCAST || isMulticastMac(frame.dst);
  const hit = vxlanFdbLookup(vx, frame.dst);
  const exact = bcast ? undefined : hit.exact;
  const remotes = exact ? [exact.dst] : hit.defaults;
  if (remotes.length === 0) {
    return drop(k, ns, packetId, "vxlan-no-fdb", `${vx.name}: no FDB entry for ${frame.dst} and no default (00:00:00:00:00:00) entry (tx_dropped)`, vx.name);
  }
  const inner = frame.payload;
  const ecn = inner.kind === "ipv4" ? inner.header.ecn : 0;
  for (const dst of remotes) {
    const rt = routeOutput(ns, dst, vx.local ?? (0 as Ipv4), vx.dev);
    if ("error" in rt) {
      drop(k, ns, packetId, rt.reason, `${vx.name}: ${rt.error} (outer destination ${formatIpv4(dst)})`, vx.name);
      continue;
    }
    const outer: Ipv4Packet = {
      kind: "ipv4",
      header: ipv4Header(vx.local ?? rt.src, dst, { ttl: ns.sysctls.defaultTtl, df: false, ecn, id: ns.nextIpId() }),
      payload: { kind: "udp", srcPort: vxlanSourcePort(frame), dstPort: vx.dstport, payload: { kind: "vxlan", vni: vx.vni, inner: frame } },
    };
    k.record({ kind: "vxlan.encap", packetId, ns: ns.name, dev: vx.name, vni: vx.vni, outer });
    ipLocalOut(k, ns, newSkb(packetId, outer, 0, "host", true), vx.dev !== undefined ? { dev: vx.dev } : {});
  }
}

/** The vxlan UDP socket: decapsulate and receive the inner frame on the device. */
export function vxlanRcv(k: Kx, ns: NetNs, vx0: Vxlan, skb: Skb): void {
  const udp = skb.pkt.payload;
  if (udp.kind !== "udp" || udp.payload.kind !== "vxlan") return drop(k, ns, skb, "vxlan-no-fdb", `UDP ${udp.kind === "udp" ? udp.dstPort : ""} datagram is not VXLAN`);
  const v = udp.payload;
  const vx = [...ns.devices.values()].find((d): d is Vxlan => d.kind === "vxlan" && d.up && d.vni === v.vni && d.dstport === vx0.dstport);
  if (!vx) return drop(k, ns, skb, "vxlan-no-fdb", `no vxlan device with VNI ${v.vni} on port ${vx0.dstport}`);
  k.record({ kind: "deliver", packetId: skb.id, ns: ns.name, to: "kernel", socket: `vxlan ${vx.name}`, packet: skb.pkt });
  if (v.inner.src === vx.mac) return drop(k, ns, skb, "vxlan-looped", `${vx.name}: inner source MAC is our own (looped)`, vx.name);
  if (vx.fdbLearning) {
    const src = skb.pkt.header.src;
    const fdb = ownVxlanFdb(ns.devMut(vx.name) as Vxlan);
    const e = fdb.find((x) => x.mac === v.inner.src);
    if (!e) fdb.push({ mac: v.inner.src, dst: src, learned: true, updatedAt: k.now() });
    else if (e.learned) e.updatedAt = k.now();
  }
  k.record({ kind: "vxlan.decap", packetId: skb.id, ns: ns.name, dev: vx.name, vni: v.vni });
  k.net.enqueue({ ns: ns.name, dev: vx.name, frame: v.inner, packetId: skb.id, skb: undefined });
}
