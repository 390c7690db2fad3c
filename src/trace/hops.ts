/**
 * @module trace/hops
 * Reads a trace's kernel events back as what the trace shows: each packet's events grouped in one
 * pass, then its hops (grouped by machine in the listing), the NATs it went through with the rule
 * that decided each, and where and why it was dropped. It decides nothing: the kernels did.
 */
import { formatIpv4, type Ipv4 } from "../net/addr.js";
import type { Ipv4Packet } from "../net/headers/types.js";
import type { Tuple } from "../net/tuple.js";
import { summarizeIpv4 } from "../net/summary.js";
import type { KernelEvent } from "../kernel/events.js";
import { formatRule } from "../netfilter/iptables-save.js";
import type { RuleHit } from "../netfilter/traverse.js";
import type { Place } from "./endpoints.js";
import type { Drop, Hop, Nat } from "./tracer.js";

export type Ev<K extends KernelEvent["kind"]> = Extract<KernelEvent, { kind: K }>;

/** What reading events needs: the topology's places and load balancer, and the trace's packet texts. */
export interface HopCtx {
  readonly places: ReadonlyMap<string, Place>;
  /** LoadBalancer address → the node the load balancer hands it to. */
  readonly lb: ReadonlyMap<string, string>;
  /**
   * tcpdump lines of the packets shown so far. Packets are immutable, and a trace shows the same
   * one at every device it crosses unchanged. Per trace, not a module-wide WeakMap: its entries
   * die with the trace instead of outliving young collections (measured: a global memo doubled
   * what each scavenge had to keep at 5,000 nodes).
   */
  readonly packetText: Map<Ipv4Packet, string>;
}

function packetText(ctx: HopCtx, p: Ipv4Packet): string {
  let s = ctx.packetText.get(p);
  if (s === undefined) ctx.packetText.set(p, (s = summarizeIpv4(p)));
  return s;
}

interface Where {
  readonly node: string | null;
  readonly label: string;
}

const NOWHERE: Where = Object.freeze({ node: null, label: "" });

// A place's label, made once (every hop of every trace names its place).
const whereOfPlace = new WeakMap<Place, Where>();

export function where(ctx: HopCtx, netns: string): Where {
  const p = ctx.places.get(netns);
  if (!p) return { node: null, label: netns };
  let w = whereOfPlace.get(p);
  if (!w) {
    w = p.kind === "pod" ? { node: p.node ?? null, label: `pod ${p.namespace}/${p.name}` } : { node: p.kind === "node" ? p.name : null, label: `${p.kind} ${p.name}` };
    whereOfPlace.set(p, w);
  }
  return w;
}

const ep = (a: Ipv4, port: number | undefined): string => (port === undefined ? formatIpv4(a) : `${formatIpv4(a)}:${port}`);
const tupleText = (t: Tuple): string => (t.proto === "icmp" ? `icmp ${formatIpv4(t.src)} > ${formatIpv4(t.dst)}` : `${t.proto} ${formatIpv4(t.src)}:${t.sport} > ${formatIpv4(t.dst)}:${t.dport}`);

function stageOf(reason: string): string {
  if (reason.startsWith("nf-") || reason === "ct-invalid") return "netfilter";
  if (reason.startsWith("route-") || ["no-route", "forwarding-disabled", "rp-filter", "martian-source", "martian-destination", "ttl-exceeded"].includes(reason)) return "route";
  if (reason === "neigh-failed") return "neigh";
  if (reason.startsWith("bridge-")) return "bridge";
  if (reason.startsWith("vxlan-")) return "vxlan";
  if (reason === "no-socket") return "socket";
  if (reason === "hop-limit") return "loop";
  return reason;
}

function ruleHits(e: Ev<"nf.table">): NonNullable<Hop["rules"]> {
  return e.hits.map((h: RuleHit) => ({ table: h.table, chain: h.chain, index: h.index, rule: h.verdict.startsWith("policy") ? null : formatRule(h.chain, h.rule), verdict: h.verdict }));
}

/**
 * A hop built whole as one literal: a spread of a shared base (`{ ...base, device, … }`) makes
 * every hop a slow generic clone, and hops are most of a trace's output.
 */
function mkHop(w: Where, netns: string, device: string | null, event: string, packet: string | null, detail: string): Hop {
  return { node: w.node, where: w.label, netns, device, event, packet, detail };
}

/** Reads one packet's events (`ofPacket`: its events, in order) back as hops. */
export function hopsOf(ctx: HopCtx, ofPacket: readonly KernelEvent[]): Hop[] {
  const out: Hop[] = [];
  // Consecutive events are mostly in one namespace: its place is looked up once per run of them.
  let lastNs: string | undefined;
  let w: Where = NOWHERE;
  for (const e of ofPacket) {
    if (e.ns !== lastNs) {
      lastNs = e.ns;
      w = where(ctx, e.ns);
    }
    switch (e.kind) {
      case "dev.tx":
      case "dev.rx":
        if (e.frame.payload.kind !== "ipv4") break;
        out.push(mkHop(w, e.ns, e.dev, e.kind === "dev.tx" ? "transmit" : "receive", packetText(ctx, e.frame.payload), `${e.kind === "dev.tx" ? "out of" : "in on"} ${e.dev} (${e.frame.src} > ${e.frame.dst})`));
        break;
      case "route.lookup": {
        const lbNode = ctx.places.get(e.ns)?.kind === "host" ? ctx.lb.get(e.dst) : undefined;
        out.push(mkHop(w, e.ns, e.dev ?? null, lbNode ? "load balancer" : "route", null, `${e.dst}: ${e.result}${e.via ? ` via ${e.via}` : ""}${e.dev ? ` dev ${e.dev}` : ""}${e.src ? ` src ${e.src}` : ""}${lbNode ? ` (the load balancer hands ${e.dst} to node ${lbNode}, destination unchanged)` : ""}`));
        break;
      }
      case "neigh":
        if (e.result === "miss") break;
        out.push(mkHop(w, e.ns, e.dev, "neighbour", null, `${e.ip} ${e.result === "hit" || e.result === "resolved" ? `is ${e.mac ?? "?"}` : "did not answer"} on ${e.dev}${e.result === "resolved" ? " (ARP)" : ""}`));
        break;
      case "bridge.fdb":
        if (e.action === "learn") break;
        out.push(mkHop(w, e.ns, e.bridge, "bridge", null, e.action === "forward" ? `${e.bridge}: ${e.mac} is on port ${e.port ?? "?"}` : e.action === "flood" ? `${e.bridge}: ${e.mac} unknown, flooded to every port` : `${e.bridge}: ${e.mac} is the bridge itself, up to the host`));
        break;
      case "nf.table": {
        const interesting = e.hits.some((h) => !h.verdict.startsWith("policy")) || (e.verdict !== "ACCEPT" && e.verdict !== "DNAT");
        if (!interesting) break;
        out.push({ node: w.node, where: w.label, netns: e.ns, device: e.inIface || e.outIface || null, event: `${e.table} ${e.hook}`, packet: null, detail: `${e.table} ${e.hook}${e.inIface ? ` in ${e.inIface}` : ""}${e.outIface ? ` out ${e.outIface}` : ""}: ${e.verdict}`, rules: ruleHits(e) });
        break;
      }
      case "ct":
        out.push(mkHop(w, e.ns, null, "conntrack", null, `${e.state} (${e.dir === "ORIGINAL" ? "original" : "reply"} direction) ${tupleText(e.tuple)}`));
        break;
      case "nat":
        out.push({ node: w.node, where: w.label, netns: e.ns, device: null, event: e.reverse ? "un-nat" : e.manip === "dst" ? "dnat" : "snat", packet: null, detail: `${tupleText(e.before)} → ${tupleText(e.after)}${e.reverse ? " (the connection's NAT undone for the reply)" : ""}`, changed: true });
        break;
      case "vxlan.encap": {
        const o = e.outer;
        const u = o.payload.kind === "udp" ? o.payload : undefined;
        out.push({ node: w.node, where: w.label, netns: e.ns, device: e.dev, event: "vxlan encap", packet: packetText(ctx, o), detail: `${e.dev}: VNI ${e.vni}, outer ${formatIpv4(o.header.src)}:${u?.srcPort ?? "?"} > ${formatIpv4(o.header.dst)}:${u?.dstPort ?? "?"} udp, ttl ${o.header.ttl}, DF ${o.header.df ? "set" : "clear"}`, changed: true });
        break;
      }
      case "vxlan.decap":
        out.push(mkHop(w, e.ns, e.dev, "vxlan decap", null, `${e.dev}: VNI ${e.vni}, inner frame received`));
        break;
      case "ttl":
        out.push(mkHop(w, e.ns, null, "ttl", null, `TTL ${e.from} → ${e.to} (forwarded)`));
        break;
      case "deliver":
        if (e.socket?.startsWith("vxlan ")) out.push(mkHop(w, e.ns, e.socket.slice(6), "vxlan socket", null, `UDP ${port(e.packet) ?? "?"} taken by ${e.socket.slice(6)}'s VXLAN socket`));
        else out.push(mkHop(w, e.ns, null, "deliver", packetText(ctx, e.packet), e.to === "kernel" ? "answered by the kernel" : e.socket === "the connecting socket" ? "to the sending socket" : `to socket ${e.socket ?? "?"}`));
        break;
      case "note":
        out.push(mkHop(w, e.ns, null, "note", null, e.text));
        break;
      case "drop":
        out.push(mkHop(w, e.ns, e.dev ?? null, "drop", null, `${e.reason}: ${e.text}`));
        break;
      default:
    }
  }
  return out;
}

/** The last element that passes `test` (Array.prototype.findLast is ES2023, past this build's lib). */
function lastOf<T, S extends T>(list: readonly T[], test: (x: T) => x is S): S | undefined {
  for (let i = list.length - 1; i >= 0; i -= 1) {
    const x = list[i] as T;
    if (test(x)) return x;
  }
  return undefined;
}

/** Where and why a packet (`ofPacket`: its events) was dropped: its last drop, and the table that decided it. */
export function dropOf(ctx: HopCtx, ofPacket: readonly KernelEvent[]): Drop | null {
  const d = lastOf(ofPacket, (e): e is Ev<"drop"> => e.kind === "drop");
  if (!d) return null;
  const w = where(ctx, d.ns);
  const stage = stageOf(d.reason);
  const nf = stage === "netfilter" ? lastOf(ofPacket, (e): e is Ev<"nf.table"> => e.kind === "nf.table" && e.ns === d.ns && (e.verdict === "DROP" || e.verdict === "REJECT")) : undefined;
  const hit = nf?.hits.at(-1);
  return {
    node: w.node,
    netns: d.ns,
    stage,
    ...(nf ? { table: nf.table } : {}),
    ...(hit ? { chain: hit.chain, rule: hit.verdict.startsWith("policy") ? `-P ${hit.chain} ${nf?.verdict ?? ""}` : formatRule(hit.chain, hit.rule) } : {}),
    reason: d.text,
  };
}

/** The NATs a packet (`ofPacket`: its events) went through, each with the rule that decided it. */
export function natsOf(ctx: HopCtx, ofPacket: readonly KernelEvent[]): Nat[] {
  const out: Nat[] = [];
  for (let i = 0; i < ofPacket.length; i += 1) {
    const e = ofPacket[i] as KernelEvent;
    if (e.kind !== "nat" || e.reverse) continue;
    // The nat table walk that decided it: the last one before it, for this packet, there.
    let table: Ev<"nf.table"> | undefined;
    for (let j = i - 1; j >= 0 && !table; j -= 1) {
      const x = ofPacket[j] as KernelEvent;
      if (x.kind === "nf.table" && x.ns === e.ns && x.table === "nat") table = x;
    }
    const hit = table?.hits.at(-1);
    const masq = hit?.verdict === "MASQUERADE";
    const [from, to] = e.manip === "dst" ? [ep(e.before.dst, e.before.proto === "icmp" ? undefined : e.before.dport), ep(e.after.dst, e.after.proto === "icmp" ? undefined : e.after.dport)] : [ep(e.before.src, e.before.proto === "icmp" ? undefined : e.before.sport), ep(e.after.src, e.after.proto === "icmp" ? undefined : e.after.sport)];
    out.push({ node: where(ctx, e.ns).node, type: e.manip === "dst" ? "DNAT" : masq ? "MASQUERADE" : "SNAT", from, to, rule: hit && !hit.verdict.startsWith("policy") ? formatRule(hit.chain, hit.rule) : null });
  }
  return out;
}

export function port(p: Ipv4Packet): number | null {
  const pl = p.payload;
  return pl.kind === "tcp" || pl.kind === "udp" ? pl.dstPort : null;
}
export function sourcePort(p: Ipv4Packet): number | null {
  const pl = p.payload;
  return pl.kind === "tcp" || pl.kind === "udp" ? pl.srcPort : null;
}

const NO_EVENTS: readonly KernelEvent[] = Object.freeze([]);

/**
 * One pass over a trace's events: each packet's events in order (`ofPacket`), and the emits each
 * packet caused (replies, errors, ARP), by the causing packet's id. Every reader then walks only
 * its packet's list, not all of a trace's events.
 */
export function groupEvents(events: readonly KernelEvent[]): { readonly ofPacket: (id: number) => readonly KernelEvent[]; readonly emitted: ReadonlyMap<number, readonly Ev<"emit">[]> } {
  const byPacket = new Map<number, KernelEvent[]>();
  const emitted = new Map<number, Ev<"emit">[]>();
  for (const e of events) {
    const l = byPacket.get(e.packetId);
    if (l) l.push(e);
    else byPacket.set(e.packetId, [e]);
    if (e.kind === "emit") {
      const c = emitted.get(e.cause);
      if (c) c.push(e);
      else emitted.set(e.cause, [e]);
    }
  }
  return { ofPacket: (id) => byPacket.get(id) ?? NO_EVENTS, emitted };
}
