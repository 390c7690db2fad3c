/**
 * @module kernel/devices/bridge
 * The Linux bridge (`net/bridge/br_input.c`, `br_forward.c`) with br_netfilter
 * (`br_netfilter_hooks.c`), vlan_filtering 0 and STP off (dataplane.md §7.3, §7.7):
 *
 * - a frame entering a port teaches the FDB its source MAC on that port;
 * - with `net.bridge.bridge-nf-call-iptables=1` an IPv4 frame runs the IPv4 PREROUTING chains
 *   at the bridge (`-i BRIDGE`, `--physdev-in PORT`); if DNAT changed its destination and the new
 *   route leaves by the same bridge, the frame stays at L2 with the new target's MAC ("bridged
 *   DNAT"), otherwise it is addressed to the bridge and goes up to the IP stack, which does not
 *   run PREROUTING again;
 * - the destination MAC then decides: the bridge's own (or a port's own) MAC → up to the host;
 *   a learned MAC → that port, never back out of the ingress port unless it has hairpin on;
 *   unknown unicast, broadcast, multicast → flooded to every other port (and broadcast and
 *   multicast also go up);
 * - a bridged IPv4 frame runs FORWARD (`-i BRIDGE -o BRIDGE`, physdev in/out) and POSTROUTING
 *   (`-o BRIDGE`) — never INPUT or OUTPUT.
 *
 * With the sysctl at 0, bridged frames bypass iptables entirely.
 */
import { isMulticastMac, MAC_BROADCAST, MAC_ZERO, type Mac } from "../../net/addr.js";
import type { EthernetFrame } from "../../net/headers/types.js";
import type { NetNs } from "../netns.js";
import { hookIo, natAddrs, nfHook } from "../nf-hooks.js";
import { devXmit, drop, fibLookup, l3Receive, nfStopped, type Kx } from "../ip-pipeline.js";
import { resolve } from "../neigh.js";
import { newSkb, type Skb } from "../skb.js";
import type { Bridge, Device } from "../types.js";
import type { Fdb } from "./fdb.js";

const ageingMs = (br: Bridge): number => br.ageingTime * 10;

function fdbOf(ns: NetNs, br: Bridge): Fdb {
  return ns.fdbs.get(br.name) as Fdb;
}

/** `br_handle_frame`: a frame arrives on a bridge port. */
export function brHandleFrame(k: Kx, ns: NetNs, port: Device, frame: EthernetFrame, packetId: number): void {
  const br = ns.devices.get(port.master as string);
  if (!br || br.kind !== "bridge" || !br.up) return drop(k, ns, packetId, "bridge-port-down", `bridge ${port.master ?? "?"} is down`, port.name);
  if (port.learning && !isMulticastMac(frame.src) && frame.src !== MAC_ZERO) {
    if (fdbOf(ns, br).learn(frame.src, port.name, k.now())) {
      k.record({ kind: "bridge.fdb", packetId, ns: ns.name, bridge: br.name, action: "learn", port: port.name, mac: frame.src });
    }
  }
  const pl = frame.payload;
  if (pl.kind !== "ipv4" || !ns.sysctls.bridgeNfCallIptables) return bridgeDecide(k, ns, br, port, frame, packetId);
  const toUs = isLocalMac(ns, br, frame.dst);
  const skb = newSkb(packetId, pl, 0, toUs ? "host" : frame.dst === MAC_BROADCAST ? "broadcast" : isMulticastMac(frame.dst) ? "multicast" : "otherhost", false, port.name, br.name);
  const r = nfHook(k, ns, "PREROUTING", skb, hookIo(br.name, "", port.name), natAddrs(undefined, ns.selectAddr(br.name, 0) ?? (0 as never)));
  if (!r.ok) return nfStopped(k, ns, skb, r, "PREROUTING (br_netfilter)");
  skb.preroutingDone = true;
  let f: EthernetFrame = { ...frame, payload: skb.pkt };
  if (skb.pkt.header.dst !== pl.header.dst) {
    const rt = fibLookup(ns, skb.pkt.header.dst);
    // Bridged DNAT needs forwarding on the bridge: without it ip_route_input hands back an error
    // route and the frame goes up to ip_error (verified on kernel 6.18; older kernels fell back
    // to an output route here).
    if (rt?.type === "unicast" && rt.dev === br.name && ns.conf(br.name).forwarding) {
      // Bridged DNAT: stay at L2, rewritten to the new target's MAC.
      const nh = rt.via ?? skb.pkt.header.dst;
      k.record({ kind: "note", packetId, ns: ns.name, text: `bridged DNAT: ${br.name} forwards the frame at L2 to the new destination's MAC` });
      return resolve(k, ns, br, nh, packetId, skb.pkt.header.src, (mac) => bridgeDecide(k, ns, br, port, { ...f, dst: mac }, packetId, skb), () => drop(k, ns, skb, "neigh-failed", `bridged DNAT: no ARP reply on ${br.name}`, br.name));
    }
    f = { ...f, dst: br.mac };
    skb.pktType = "host";
  }
  bridgeDecide(k, ns, br, port, f, packetId, skb);
}

function isLocalMac(ns: NetNs, br: Bridge, mac: Mac): boolean {
  if (mac === br.mac) return true;
  return fdbOf(ns, br).lookup(mac, 0, Number.POSITIVE_INFINITY)?.local ?? false;
}

/** `br_handle_frame_finish`: local, forward, or flood. */
function bridgeDecide(k: Kx, ns: NetNs, br: Bridge, inPort: Device, f: EthernetFrame, packetId: number, skb?: Skb): void {
  const fdb = fdbOf(ns, br);
  if (f.dst === MAC_BROADCAST || isMulticastMac(f.dst)) {
    k.record({ kind: "bridge.fdb", packetId, ns: ns.name, bridge: br.name, action: "flood", mac: f.dst });
    flood(k, ns, br, inPort, f, packetId, skb);
    return l3Receive(k, ns, br, f, packetId, skb ? { ...skb } : undefined);
  }
  const e = fdb.lookup(f.dst, k.now(), ageingMs(br));
  if (e?.local) {
    k.record({ kind: "bridge.fdb", packetId, ns: ns.name, bridge: br.name, action: "local", mac: f.dst });
    return l3Receive(k, ns, br, f, packetId, skb);
  }
  if (e?.port !== undefined) {
    const out = ns.devices.get(e.port);
    if (!out) return;
    if (out === inPort && !out.hairpin) {
      return drop(k, ns, packetId, "bridge-hairpin", `${br.name} will not send a frame back out of ${out.name}, where it came in (hairpin off)`, out.name);
    }
    k.record({ kind: "bridge.fdb", packetId, ns: ns.name, bridge: br.name, action: "forward", port: out.name, mac: f.dst });
    return brForward(k, ns, br, inPort, out, f, packetId, skb);
  }
  k.record({ kind: "bridge.fdb", packetId, ns: ns.name, bridge: br.name, action: "flood", mac: f.dst });
  flood(k, ns, br, inPort, f, packetId, skb);
}

function ports(ns: NetNs, br: Bridge): Device[] {
  const out: Device[] = [];
  for (const d of ns.devices.values()) if (d.master === br.name) out.push(d);
  return out;
}

// br_flood: every port but the ingress one (unless it has hairpin on). In a trace's copy, a
// broadcast ARP request is transmitted on every port but received only where it could matter
// (Network.arpFloodPorts).
function flood(k: Kx, ns: NetNs, br: Bridge, inPort: Device | undefined, f: EthernetFrame, packetId: number, skb?: Skb): void {
  const all = ports(ns, br);
  const only = k.net.arpFloodPorts(ns.name, br.name, all, f);
  for (let i = 0; i < all.length; i += 1) {
    const p = all[i] as Device;
    if (p === inPort && !p.hairpin) continue;
    if (!p.up) continue;
    if (only && !only.has(i)) {
      k.record({ kind: "dev.tx", packetId, ns: ns.name, dev: p.name, frame: f });
      continue;
    }
    if (inPort) brForward(k, ns, br, inPort, p, f, packetId, skb ? { ...skb } : undefined);
    else devXmit(k, ns, p, f, packetId);
  }
}

/** `__br_forward` with br_nf_forward_ip and br_nf_post_routing. */
function brForward(k: Kx, ns: NetNs, br: Bridge, inPort: Device, out: Device, f: EthernetFrame, packetId: number, skb0?: Skb): void {
  const pl = f.payload;
  if (pl.kind === "ipv4" && ns.sysctls.bridgeNfCallIptables) {
    const skb: Skb = skb0 ?? newSkb(packetId, pl, 0, "otherhost", false, inPort.name);
    skb.pkt = pl;
    const io = hookIo(br.name, br.name, inPort.name, out.name, true);
    const r = nfHook(k, ns, "FORWARD", skb, io);
    if (!r.ok) return nfStopped(k, ns, skb, r, "FORWARD (bridged)");
    const masq = ns.selectAddr(br.name, skb.pkt.header.dst, "global");
    const r2 = nfHook(k, ns, "POSTROUTING", skb, hookIo("", br.name, undefined, out.name, true), natAddrs(masq, undefined));
    if (!r2.ok) return nfStopped(k, ns, skb, r2, "POSTROUTING (bridged)");
    f = { ...f, payload: skb.pkt };
  }
  devXmit(k, ns, out, f, packetId);
}

/** `br_dev_xmit`: the host sends out of the bridge device — FDB lookup, no netfilter. */
export function brDevXmit(k: Kx, ns: NetNs, br: Bridge, f: EthernetFrame, packetId: number): void {
  const e = f.dst === MAC_BROADCAST || isMulticastMac(f.dst) ? undefined : fdbOf(ns, br).lookup(f.dst, k.now(), ageingMs(br));
  if (e?.port !== undefined && !e.local) {
    const out = ns.devices.get(e.port);
    if (!out) return;
    k.record({ kind: "bridge.fdb", packetId, ns: ns.name, bridge: br.name, action: "forward", port: out.name, mac: f.dst });
    return devXmit(k, ns, out, f, packetId);
  }
  if (e?.local) return;
  k.record({ kind: "bridge.fdb", packetId, ns: ns.name, bridge: br.name, action: "flood", mac: f.dst });
  flood(k, ns, br, undefined, f, packetId);
}
