/**
 * @module trace/tracer
 * `podwire trace`: one packet (a TCP SYN, a UDP datagram or an ICMP echo request) and its reply
 * through a topology's emulated kernels — pods, nodes, the underlay, flannel's VXLAN, the load
 * balancer's route — on a copy of the network, so the topology is left as it was. The kernel
 * records every step as an event; the tracer reads them back (trace/hops.ts) as hops grouped by machine, the NAT
 * the packet went through, where it was delivered (and the source the socket saw) or where and
 * why it was dropped, and the reply as its own story. `allPaths` re-runs the packet once per
 * combination of random choices (kube-proxy's statistic cascade) with each path's probability.
 */
import { formatIpv4, type Ipv4, type Mac } from "../net/addr.js";
import { firstPacket } from "../net/packet.js";
import type { Proto, Tuple } from "../net/tuple.js";
import { explore, type Chooser } from "../netfilter/explore.js";
import { createRng } from "../sim/rng.js";
import type { Topology } from "../topology/build.js";
import { places, resolveDestination, resolveSource, type Destination, type Place, type Source } from "./endpoints.js";
import { explain } from "./explain.js";
import { dropOf, groupEvents, hopsOf, natsOf, port, sourcePort, where, type Ev, type HopCtx } from "./hops.js";

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

/** The name `ping` and tcpdump give an ICMP error. */
function icmpName(type: number, code: number): string {
  if (type === 11) return "ICMP time exceeded";
  if (type !== 3) return `ICMP type ${type} code ${code}`;
  const names: Record<number, string> = { 0: "net unreachable", 1: "host unreachable", 3: "port unreachable", 4: "fragmentation needed", 9: "net prohibited", 10: "host prohibited", 13: "administratively prohibited" };
  return `ICMP ${names[code] ?? `unreachable code ${code}`}`;
}

const NO_EMITS: readonly Ev<"emit">[] = Object.freeze([]);

/** Runs the packet once with `choose` deciding the random rules, and reads the outcome. */
function runOnce(t: Topology, ctx: HopCtx, src: Source, tuple: Tuple, choose: Chooser, seed: number): PathOutcome {
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
  const { ofPacket, emitted } = groupEvents(events);
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
  const ctx: HopCtx = { places: places(t), lb: t.dataplane.loadBalancerNodes(), packetText: new Map() };
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
