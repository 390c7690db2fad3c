/**
 * @module trace/tracer
 * `podwire trace`: one packet (a TCP SYN, a UDP datagram or an ICMP echo request) and its reply
 * through a topology's emulated kernels — pods, nodes, the underlay, flannel's VXLAN, the load
 * balancer's route — on a copy of the network, so the topology is left as it was. The kernel
 * records every step as an event; the tracer reads them back as hops grouped by machine, the NAT
 * the packet went through, where it was delivered (and the source the socket saw) or where and
 * why it was dropped, and the reply as its own story. `allPaths` re-runs the packet once per
 * combination of random choices (kube-proxy's statistic cascade) with each path's probability.
 */
import { formatIpv4, type Ipv4, type Mac } from "../net/addr.js";
import type { Ipv4Packet } from "../net/headers/types.js";
import { firstPacket } from "../net/packet.js";
import type { Proto, Tuple } from "../net/tuple.js";
import { summarizeIpv4 } from "../net/summary.js";
import type { KernelEvent } from "../kernel/events.js";
import { formatRule } from "../netfilter/iptables-save.js";
import { explore, type Chooser } from "../netfilter/explore.js";
import type { RuleHit } from "../netfilter/traverse.js";
import { createRng } from "../sim/rng.js";
import type { Topology } from "../topology/build.js";
import { places, resolveDestination, resolveSource, type Destination, type Place, type Source } from "./endpoints.js";
import { explain } from "./explain.js";

/** What to trace (CLI.md "trace"). */
export interface TraceRequest {
  readonly from: string;
  readonly to: string;
  readonly proto?: Proto;
  readonly sport?: number;
  readonly at?: string;
  readonly allPaths?: boolean;
  readonly seed?: number;
}

export type Verdict = "delivered" | "dropped" | "rejected" | "no-route" | "loop";

/** Where a packet ended up. */
export interface Delivered {
  readonly kind: "pod" | "node" | "host";
  readonly namespace?: string;
  readonly name: string;
  readonly node?: string;
  readonly ip: string;
  readonly port: number | null;
  /** The listening socket (`pod/NS/NAME`, `kube-apiserver`), or the kernel itself (ICMP echo). */
  readonly socket: string;
}

/** Where and why it was dropped. */
export interface Drop {
  readonly node: string | null;
  readonly netns: string;
  readonly stage: string;
  readonly table?: string;
  readonly chain?: string;
  readonly rule?: string;
  readonly reason: string;
}

/** One NAT the packet went through. */
export interface Nat {
  readonly node: string | null;
  readonly type: "DNAT" | "SNAT" | "MASQUERADE";
  readonly from: string;
  readonly to: string;
  readonly rule: string | null;
}

/** One step, for the JSON `hops` and the text listing. */
export interface Hop {
  readonly node: string | null;
  /** `pod default/web-abc`, `node node-1`, `host client`. */
  readonly where: string;
  readonly netns: string;
  readonly device: string | null;
  readonly event: string;
  readonly packet: string | null;
  readonly detail: string;
  readonly rules?: readonly { readonly table: string; readonly chain: string; readonly index: number; readonly rule: string | null; readonly verdict: string }[];
  /** Set when the 5-tuple changed at this step. */
  readonly changed?: boolean;
}

/** The reply's story. */
export interface Reply {
  readonly verdict: Verdict | "none";
  readonly what: string;
  readonly observedSource: { readonly ip: string; readonly port: number | null } | null;
  readonly drop: Drop | null;
  readonly hops: readonly Hop[];
}

/** One path's outcome. */
export interface PathOutcome {
  readonly verdict: Verdict;
  readonly delivered: Delivered | null;
  readonly observedSource: { readonly ip: string; readonly port: number | null } | null;
  readonly drop: Drop | null;
  readonly error: string | null;
  readonly nat: readonly Nat[];
  readonly hops: readonly Hop[];
  readonly reply: Reply | null;
  readonly explanation: readonly string[];
}

/** A trace. */
export interface TraceResult extends PathOutcome {
  readonly request: { readonly from: string; readonly to: string; readonly proto: Proto; readonly sport: number; readonly dport: number | null; readonly src: string; readonly dst: string; readonly at: string | null };
  readonly source: Place | { readonly kind: "external"; readonly ip: string; readonly node: string };
  readonly paths?: readonly (PathOutcome & { readonly probability: number })[];
}

/** The MAC an outside sender's frames carry when `--at node/NAME` injects them (a router's). */
const OUTSIDE_MAC = "52:54:00:00:00:01" as Mac;

type Ev<K extends KernelEvent["kind"]> = Extract<KernelEvent, { kind: K }>;

interface Ctx {
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

function packetText(ctx: Ctx, p: Ipv4Packet): string {
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

function where(ctx: Ctx, netns: string): Where {
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
function hopsOf(ctx: Ctx, ofPacket: readonly KernelEvent[]): Hop[] {
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
function dropOf(ctx: Ctx, ofPacket: readonly KernelEvent[]): Drop | null {
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
function natsOf(ctx: Ctx, ofPacket: readonly KernelEvent[]): Nat[] {
  const out: Nat[] = [];
  const events = ofPacket;
  for (let i = 0; i < events.length; i += 1) {
    const e = events[i] as KernelEvent;
    if (e.kind !== "nat" || e.reverse) continue;
    // The nat table walk that decided it: the last one before it, for this packet, there.
    let table: Ev<"nf.table"> | undefined;
    for (let j = i - 1; j >= 0 && !table; j -= 1) {
      const x = events[j] as KernelEvent;
      if (x.kind === "nf.table" && x.ns === e.ns && x.table === "nat") table = x;
    }
    const hit = table?.hits.at(-1);
    const masq = hit?.verdict === "MASQUERADE";
    const [from, to] = e.manip === "dst" ? [ep(e.before.dst, e.before.proto === "icmp" ? undefined : e.before.dport), ep(e.after.dst, e.after.proto === "icmp" ? undefined : e.after.dport)] : [ep(e.before.src, e.before.proto === "icmp" ? undefined : e.before.sport), ep(e.after.src, e.after.proto === "icmp" ? undefined : e.after.sport)];
    out.push({ node: where(ctx, e.ns).node, type: e.manip === "dst" ? "DNAT" : masq ? "MASQUERADE" : "SNAT", from, to, rule: hit && !hit.verdict.startsWith("policy") ? formatRule(hit.chain, hit.rule) : null });
  }
  return out;
}

function port(p: Ipv4Packet): number | null {
  const pl = p.payload;
  return pl.kind === "tcp" || pl.kind === "udp" ? pl.dstPort : null;
}
function sourcePort(p: Ipv4Packet): number | null {
  const pl = p.payload;
  return pl.kind === "tcp" || pl.kind === "udp" ? pl.srcPort : null;
}

/** The name `ping` and tcpdump give an ICMP error. */
function icmpName(type: number, code: number): string {
  if (type === 11) return "ICMP time exceeded";
  if (type !== 3) return `ICMP type ${type} code ${code}`;
  const names: Record<number, string> = { 0: "net unreachable", 1: "host unreachable", 3: "port unreachable", 4: "fragmentation needed", 9: "net prohibited", 10: "host prohibited", 13: "administratively prohibited" };
  return `ICMP ${names[code] ?? `unreachable code ${code}`}`;
}

const NO_EVENTS: readonly KernelEvent[] = Object.freeze([]);
const NO_EMITS: readonly Ev<"emit">[] = Object.freeze([]);

/** Runs the packet once with `choose` deciding the random rules, and reads the outcome. */
function runOnce(t: Topology, ctx: Ctx, src: Source, tuple: Tuple, choose: Chooser, seed: number): PathOutcome {
  const net = t.dataplane.traceNetwork(seed);
  net.choose = choose;
  let id: number;
  let clientNs: string;
  if (src.kind === "socket") {
    id = net.send(src.netns, { proto: tuple.proto, dst: tuple.dst, sport: tuple.sport, dport: tuple.dport });
    clientNs = src.netns;
  } else {
    const ns = net.ns(src.node);
    id = net.inject(src.node, "eth0", { kind: "eth", dst: ns.dev("eth0").mac, src: OUTSIDE_MAC, payload: firstPacket(tuple) });
    clientNs = "";
  }
  const events = net.drain();
  // One pass: each packet's events, and the packets each one caused (replies, errors, ARP).
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
  const ofPacket = (pid: number): readonly KernelEvent[] => byPacket.get(pid) ?? NO_EVENTS;
  const mine = ofPacket(id);
  const hops = hopsOf(ctx, mine);
  const nat = natsOf(ctx, mine);
  // The VXLAN socket takes the outer packet; the inner one goes on (same packet id).
  const server = mine.find((e): e is Ev<"deliver"> => e.kind === "deliver" && e.socket !== "the connecting socket" && !e.socket?.startsWith("vxlan "));
  const caused = emitted.get(id) ?? NO_EMITS;
  const error = caused.find((e) => e.what === "icmp-error" || e.what === "tcp-rst");
  const dropped = mine.find((e): e is Ev<"drop"> => e.kind === "drop");
  let verdict: Verdict;
  let delivered: Delivered | null = null;
  let observedSource: PathOutcome["observedSource"] = null;
  let drop: Drop | null = null;
  if (server) {
    verdict = "delivered";
    const p = ctx.places.get(server.ns);
    const pk = server.packet;
    delivered = {
      kind: p?.kind ?? "node",
      ...(p?.kind === "pod" ? { namespace: p.namespace as string } : {}),
      name: p?.name ?? server.ns,
      ...(p?.node ? { node: p.node } : {}),
      ip: formatIpv4(pk.header.dst),
      port: port(pk),
      socket: server.to === "kernel" ? "kernel" : (server.socket ?? "?"),
    };
    observedSource = { ip: formatIpv4(pk.header.src), port: sourcePort(pk) };
  } else if (dropped?.reason === "hop-limit") {
    verdict = "loop";
    drop = dropOf(ctx, mine);
  } else if (error || dropped?.reason === "nf-reject") {
    verdict = "rejected";
    drop = dropOf(ctx, mine) ?? { node: where(ctx, error?.ns ?? "").node, netns: error?.ns ?? "", stage: "socket", reason: error?.what === "tcp-rst" ? "nothing listens on the port: the kernel answered with a TCP RST" : "the kernel answered with an ICMP error" };
  } else if (dropped && ["no-route", "route-unreachable", "route-prohibit", "route-blackhole"].includes(dropped.reason)) {
    verdict = "no-route";
    drop = dropOf(ctx, mine);
  } else {
    verdict = "dropped";
    drop = dropOf(ctx, mine) ?? { node: null, netns: "", stage: "unknown", reason: "the packet vanished without a recorded drop" };
  }
  const replyEmit = caused.find((e) => e.what === "tcp-synack" || e.what === "udp-reply" || e.what === "echo-reply");
  let reply: Reply | null = null;
  if (verdict === "delivered") {
    if (!replyEmit) reply = { verdict: "none", what: tuple.proto === "udp" ? "the server does not answer UDP" : "no reply", observedSource: null, drop: null, hops: [] };
    else {
      const theirs = ofPacket(replyEmit.packetId);
      const back = theirs.find((e): e is Ev<"deliver"> => e.kind === "deliver" && e.ns === clientNs && e.socket === "the connecting socket");
      const rdrop = theirs.find((e): e is Ev<"drop"> => e.kind === "drop");
      const what = replyEmit.what === "tcp-synack" ? "TCP SYN-ACK" : replyEmit.what === "udp-reply" ? "UDP reply" : "ICMP echo reply";
      reply = {
        verdict: back ? "delivered" : rdrop?.reason === "hop-limit" ? "loop" : "dropped",
        what,
        observedSource: back ? { ip: formatIpv4(back.packet.header.src), port: sourcePort(back.packet) } : null,
        drop: back ? null : (dropOf(ctx, theirs) ?? { node: null, netns: "", stage: "unknown", reason: clientNs === "" ? "the reply left towards an address outside the topology" : "the reply never reached the client" }),
        hops: hopsOf(ctx, theirs),
      };
    }
  } else if (error) {
    const theirs = ofPacket(error.packetId);
    const back = theirs.find((e): e is Ev<"deliver"> => e.kind === "deliver" && e.ns === clientNs && e.socket === "the connecting socket");
    const pl = (back?.packet ?? error.packet)?.payload;
    reply = { verdict: back ? "delivered" : "dropped", what: error.what === "tcp-rst" ? "TCP RST" : pl?.kind === "icmp" ? icmpName(pl.type, pl.code) : "ICMP error", observedSource: back ? { ip: formatIpv4(back.packet.header.src), port: sourcePort(back.packet) } : null, drop: null, hops: hopsOf(ctx, theirs) };
  }
  if (verdict === "rejected" && !reply && dropped?.reason === "nf-reject" && dropped.ns === clientNs) {
    // REJECT on the sender's own machine (OUTPUT): the error goes straight back to the socket.
    const w = /\(([a-z-]+)\)/.exec(dropped.text)?.[1] ?? "icmp-port-unreachable";
    const what = w === "tcp-reset" ? "TCP RST" : icmpName(3, { "icmp-net-unreachable": 0, "icmp-host-unreachable": 1, "icmp-port-unreachable": 3, "icmp-net-prohibited": 9, "icmp-host-prohibited": 10, "icmp-admin-prohibited": 13 }[w] ?? 3);
    reply = { verdict: "delivered", what: `${what} (from the local stack)`, observedSource: null, drop: null, hops: [] };
  }
  const base = { verdict, delivered, observedSource, drop, error: null, nat, hops, reply };
  return { ...base, explanation: explain(t, base, tuple) };
}

/** Traces a packet through a topology. */
export function trace(t: Topology, req: TraceRequest): TraceResult {
  const proto = req.proto ?? "tcp";
  const seed = req.seed ?? 1;
  const src = resolveSource(t, req.from, req.at);
  const dst: Destination = resolveDestination(t, req.to, proto);
  const rng = createRng(seed);
  const sport = req.sport ?? rng.int(32768, 60999);
  const srcIp: Ipv4 = src.kind === "wire" ? src.ip : routeSource(t, src.netns, dst.ip);
  const tuple: Tuple = { proto, src: srcIp, sport, dst: dst.ip, dport: dst.port ?? sport };
  const ctx: Ctx = { places: places(t), lb: t.dataplane.loadBalancerNodes(), packetText: new Map() };
  const sendTuple = src.kind === "socket" ? { ...tuple, src: 0 as Ipv4 } : tuple;
  const decide = createRng(seed ^ 0x9e3779b9);
  const main = runOnce(t, ctx, src, sendTuple, (p) => decide.next() < p, seed);
  const request = { from: req.from, to: req.to, proto, sport, dport: dst.port ?? null, src: formatIpv4(srcIp), dst: formatIpv4(dst.ip), at: req.at ?? null };
  const source: TraceResult["source"] = src.kind === "socket" ? src.place : { kind: "external", ip: formatIpv4(src.ip), node: src.node };
  if (!req.allPaths) return { request, source, ...main };
  const paths = explore((choose) => runOnce(t, ctx, src, sendTuple, choose, seed)).map((p) => ({ probability: p.probability, ...p.result }));
  return { request, source, ...main, paths };
}

function routeSource(t: Topology, netns: string, dst: Ipv4): Ipv4 {
  t.dataplane.prepare(netns);
  const ns = t.dataplane.net.ns(netns);
  const r = ns.main.lookup(dst);
  if (!r) return 0 as Ipv4;
  if (r.src !== undefined) return r.src;
  return ns.selectAddr(r.dev ?? "", r.via ?? dst) ?? (0 as Ipv4);
}
