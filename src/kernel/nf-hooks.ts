/**
 * @module kernel/nf-hooks
 * Netfilter as the IPv4 stack calls it (`nf_hook`): at each hook the registered tables run in
 * priority order (dataplane.md §7.1) —
 *
 *   PREROUTING   raw(-300) → conntrack in(-200) → mangle(-150) → nat DNAT(-100)
 *   INPUT        mangle → filter → nat SNAT(100) → conntrack confirm
 *   FORWARD      mangle → filter
 *   OUTPUT       raw → conntrack in → mangle → nat DNAT → filter
 *   POSTROUTING  mangle → nat SNAT → conntrack confirm
 *
 * Conntrack (`nf_conntrack_in`) attaches each packet to its connection or makes a new,
 * unconfirmed entry; the nat table is walked only for an unconfirmed entry and only once per
 * manipulation (a "null binding" when nothing matches). Every packet of a NATed connection is
 * then rewritten from the entry (`nf_nat_packet`): at a DNAT hook the ORIGINAL direction gets
 * its destination rewritten and the REPLY direction its destination un-SNATed; at a SNAT hook
 * the ORIGINAL direction gets its source rewritten and the REPLY direction its source
 * un-DNATed. ICMP errors about a connection are RELATED and translated with it, quote included
 * (`nf_nat_icmp_reply_translation`).
 */
import type { Ipv4 } from "../net/addr.js";
import type { IcmpMessage, Ipv4Packet } from "../net/headers/types.js";
import { tupleOf, withDestination, withSource } from "../net/packet.js";
import { replyOf, type Tuple } from "../net/tuple.js";
import { CT_TIMEOUTS, type CtEntry } from "../netfilter/conntrack.js";
import type { Chooser } from "../netfilter/explore.js";
import type { CtState, Hook, TableName } from "../netfilter/model.js";
import { applyNat } from "../netfilter/nat.js";
import type { CtView, NfEnv, NfPacket } from "../netfilter/packet.js";
import { emptyChainVerdict, traverseTable, type NatDecision, type TableVerdict } from "../netfilter/traverse.js";
import type { KernelEventInput } from "./events.js";
import { isIcmpError, readQuote, rewriteQuote } from "./icmp.js";
import type { NetNs } from "./netns.js";
import type { Skb } from "./skb.js";

/** What a hook needs from the running network. */
export interface HookCtx {
  record(e: KernelEventInput): void;
  now(): number;
  readonly choose: Chooser;
  random(): number;
}

/** Interfaces a hook sees. */
export interface HookIo {
  readonly inIface: string;
  readonly outIface: string;
  readonly physIn: string | undefined;
  readonly physOut: string | undefined;
  readonly bridged: boolean;
}

/** A hook's devices, every field present: one object shape for every hook call (see Skb). */
export function hookIo(inIface: string, outIface: string, physIn?: string, physOut?: string, bridged = false): HookIo {
  return { inIface, outIface, physIn, physOut, bridged };
}

/** A hook's outcome: continue, or the packet is gone. */
export type HookResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly verdict: "drop" | "reject" | "error"; readonly rejectWith?: string; readonly text: string; readonly table: TableName };

const TABLES: Readonly<Record<Hook, readonly (TableName | "ct-in" | "confirm")[]>> = {
  PREROUTING: ["raw", "ct-in", "mangle", "nat"],
  INPUT: ["mangle", "filter", "security", "nat", "confirm"],
  FORWARD: ["mangle", "filter", "security"],
  OUTPUT: ["raw", "ct-in", "mangle", "nat", "filter", "security"],
  POSTROUTING: ["mangle", "nat", "confirm"],
};

const PROTO_NUM = { tcp: 6, udp: 17, icmp: 1 } as const;

function nfPacket(skb: Skb, io: HookIo): NfPacket {
  const p = skb.pkt;
  const pl = p.payload;
  // One literal, every field present (absent ones undefined): each conditional spread made a
  // temporary object, four per table walked.
  return {
    proto: pl.kind === "raw" ? pl.proto : PROTO_NUM[pl.kind],
    src: p.header.src,
    dst: p.header.dst,
    sport: pl.kind === "tcp" || pl.kind === "udp" ? pl.srcPort : 0,
    dport: pl.kind === "tcp" || pl.kind === "udp" ? pl.dstPort : 0,
    icmpType: pl.kind === "icmp" ? pl.type : undefined,
    icmpCode: pl.kind === "icmp" ? pl.code : undefined,
    tcpFlags: pl.kind === "tcp" ? pl.flags : undefined,
    fragment: p.header.fragOffset > 0,
    inIface: io.inIface,
    outIface: io.outIface,
    physIn: io.physIn,
    physOut: io.physOut,
    bridged: io.bridged,
    mark: skb.mark,
    pktType: skb.pktType,
  };
}

function ctState(skb: Skb): CtState {
  const c = skb.ct;
  if (c === undefined || c === "invalid") return "INVALID";
  if (c === "untracked") return "UNTRACKED";
  if (c.related) return "RELATED";
  if (c.dir === "REPLY" || c.entry.status.has("SEEN_REPLY")) return "ESTABLISHED";
  return "NEW";
}

function ctView(skb: Skb, now: number): CtView | undefined {
  const c = skb.ct;
  if (c === undefined || c === "invalid") return undefined;
  if (c === "untracked") {
    const t = tupleOf(skb.pkt) ?? { proto: "udp", src: skb.pkt.header.src, dst: skb.pkt.header.dst, sport: 0, dport: 0 };
    return { state: "UNTRACKED", dnat: false, snat: false, status: new Set(), orig: t, reply: replyOf(t), mark: 0, dir: "ORIGINAL", expiresSec: 0 };
  }
  const e = c.entry;
  return {
    state: ctState(skb),
    dnat: e.status.has("DST_NAT"),
    snat: e.status.has("SRC_NAT"),
    status: e.status,
    orig: e.orig,
    reply: e.reply,
    mark: e.mark,
    dir: c.dir,
    expiresSec: Math.max(0, Math.floor((e.expiresAt - now) / 1000)),
  };
}

/** The address types `-m addrtype` sees, from the namespace's local table (`inet_addr_type_dev_table`). */
export function addrTypes(ns: NetNs, a: Ipv4, iface?: string): readonly string[] {
  if (a === 0) return ADDR_UNSPEC;
  if (a === 0xffffffff) return ADDR_BROADCAST;
  if (a >>> 28 === 14) return ADDR_MULTICAST;
  const r = iface === undefined ? ns.local.lookup(a) : ns.local.lookup(a, (x) => x.dev === iface);
  if (r?.type === "local") return ADDR_LOCAL;
  if (r?.type === "broadcast") return ADDR_BROADCAST;
  return ADDR_UNICAST;
}
const ADDR_UNSPEC: readonly string[] = Object.freeze(["UNSPEC"]);
const ADDR_BROADCAST: readonly string[] = Object.freeze(["BROADCAST"]);
const ADDR_MULTICAST: readonly string[] = Object.freeze(["MULTICAST"]);
const ADDR_LOCAL: readonly string[] = Object.freeze(["LOCAL"]);
const ADDR_UNICAST: readonly string[] = Object.freeze(["UNICAST"]);

/** `nf_conntrack_in`: attach the packet to its connection (or a new one). */
function conntrackIn(ctx: HookCtx, ns: NetNs, skb: Skb): void {
  if (skb.ct !== undefined || !ns.conntrackActive()) return;
  const now = ctx.now();
  const pl = skb.pkt.payload;
  if (pl.kind === "icmp" && isIcmpError(pl)) {
    const q = readQuote(pl.payload);
    if (q && q.proto !== "other") {
      // icmp_error_message: the inverse of the quoted tuple is a tuple of the connection, and the
      // direction it is found in is the error's own direction.
      const hit = ns.conntrack.lookup({ proto: q.proto, src: q.dst, sport: q.dport, dst: q.src, dport: q.sport }, now);
      if (hit) {
        skb.ct = { entry: hit.entry, dir: hit.dir, related: true, natDone: new Set(["src", "dst"]) };
        ctx.record({ kind: "ct", packetId: skb.id, ns: ns.name, state: "RELATED", dir: skb.ct.dir, tuple: hit.entry.orig });
        return;
      }
    }
    skb.ct = "invalid";
    return;
  }
  const t = tupleOf(skb.pkt);
  if (!t) {
    skb.ct = "invalid";
    return;
  }
  const hit = ns.conntrack.lookup(t, now);
  if (hit) {
    const e = hit.entry;
    if (pl.kind === "udp" && (hit.dir === "ORIGINAL" || e.status.has("SEEN_REPLY"))) ns.conntrack.udpRefresh(e, now, e.createdAt ?? now);
    if (hit.dir === "REPLY" && !e.status.has("SEEN_REPLY")) ns.conntrack.seenReply(e, now);
    if (pl.kind === "tcp") tcpTrack(e, hit.dir, pl.flags, now);
    skb.ct = { entry: e, dir: hit.dir, related: false, natDone: new Set(["src", "dst"]) };
    ctx.record({ kind: "ct", packetId: skb.id, ns: ns.name, state: ctState(skb), dir: hit.dir, tuple: e.orig });
    return;
  }
  if (pl.kind === "tcp" && (pl.flags & 0x04) !== 0) {
    // A RST with no connection is INVALID (nf_conntrack_tcp: tcp_new refuses it).
    skb.ct = "invalid";
    ctx.record({ kind: "ct", packetId: skb.id, ns: ns.name, state: "INVALID", dir: "ORIGINAL", tuple: t });
    return;
  }
  const e = ns.conntrack.create(t, now);
  if (pl.kind === "tcp") e.tcpState = "SYN_SENT";
  skb.ct = { entry: e, dir: "ORIGINAL", related: false, natDone: new Set() };
  ctx.record({ kind: "ct", packetId: skb.id, ns: ns.name, state: "NEW", dir: "ORIGINAL", tuple: t });
}

// The TCP states conntrack -L shows, enough for a handshake and a reset.
function tcpTrack(e: CtEntry, dir: "ORIGINAL" | "REPLY", flags: number, now: number): void {
  const syn = (flags & 0x02) !== 0;
  const ack = (flags & 0x10) !== 0;
  if ((flags & 0x04) !== 0) {
    e.tcpState = "CLOSE";
    e.expiresAt = now + 10_000;
  } else if (dir === "REPLY" && syn && ack && e.tcpState === "SYN_SENT") {
    e.tcpState = "SYN_RECV";
    e.expiresAt = now + 60_000;
  } else if (dir === "ORIGINAL" && ack && e.tcpState === "SYN_RECV") {
    e.tcpState = "ESTABLISHED";
    e.status.add("ASSURED");
    e.expiresAt = now + CT_TIMEOUTS.tcpEstablished * 1000;
  }
}

/** `nf_nat_packet`: rewrite the packet from its connection's NAT binding for this hook's manip type. */
function natPacket(ctx: HookCtx, ns: NetNs, skb: Skb, hook: Hook, manip: "src" | "dst"): void {
  const c = skb.ct;
  if (typeof c !== "object") return;
  const e = c.entry;
  const bit = manip === "dst" ? "DST_NAT" : "SRC_NAT";
  const need = c.dir === "ORIGINAL" ? bit : bit === "DST_NAT" ? "SRC_NAT" : "DST_NAT";
  if (!e.status.has(need)) return;
  // The tuple this direction must carry: the inverse of the other direction's tuple.
  const target = c.dir === "ORIGINAL" ? replyOf(e.reply) : replyOf(e.orig);
  const before = skb.pkt;
  const beforeT = flowOf(before);
  if (c.related) {
    skb.pkt = translateIcmpError(before, target, manip);
  } else {
    skb.pkt = manip === "dst" ? withDestination(before, target.dst, target.dport) : withSource(before, target.src, target.sport);
  }
  const afterT = flowOf(skb.pkt);
  if (beforeT.src !== afterT.src || beforeT.dst !== afterT.dst || beforeT.sport !== afterT.sport || beforeT.dport !== afterT.dport) {
    ctx.record({ kind: "nat", packetId: skb.id, ns: ns.name, hook, manip, before: beforeT, after: afterT, reverse: c.dir === "REPLY" });
  }
}

function flowOf(p: Ipv4Packet): Tuple {
  return tupleOf(p) ?? { proto: "icmp", src: p.header.src, dst: p.header.dst, sport: 0, dport: 0 };
}

// An ICMP error: the quote gets the opposite manip (it is a packet of the other direction) and
// the outer header the addresses only.
function translateIcmpError(p: Ipv4Packet, target: Tuple, manip: "src" | "dst"): Ipv4Packet {
  const m = p.payload as IcmpMessage;
  // The quote is rewritten with the other direction's tuple, manip reversed: its source at a
  // DNAT hook, its destination at a SNAT hook (an ICMP echo quote only carries an id).
  const inner = manip === "dst" ? { src: target.dst, sport: target.dport } : { dst: target.src, ...(target.proto !== "icmp" ? { dport: target.sport } : {}) };
  const q = rewriteQuote(m.payload, inner);
  const header = manip === "dst" ? { ...p.header, dst: target.dst } : { ...p.header, src: target.src };
  return { ...p, header, payload: { ...m, payload: q } };
}

/** What MASQUERADE/REDIRECT need to know about the route. */
export interface NatAddrs {
  readonly masqueradeAddr: Ipv4 | undefined;
  readonly redirectAddr: Ipv4 | undefined;
}

/** The addresses MASQUERADE and REDIRECT would use here, every field present (see Skb). */
export function natAddrs(masqueradeAddr: Ipv4 | undefined, redirectAddr: Ipv4 | undefined): NatAddrs {
  return { masqueradeAddr, redirectAddr };
}

/** Runs one hook. Mutates the skb (NAT, mark, conntrack). */
const HOOK_OK: HookResult = Object.freeze({ ok: true });
const NO_ADDRS: NatAddrs = Object.freeze(natAddrs(undefined, undefined));

export function nfHook(ctx: HookCtx, ns: NetNs, hook: Hook, skb: Skb, io: HookIo, addrs: NatAddrs = NO_ADDRS): HookResult {
  for (const step of TABLES[hook]) {
    if (step === "ct-in") {
      conntrackIn(ctx, ns, skb);
      continue;
    }
    if (step === "confirm") {
      const c = skb.ct;
      if (typeof c === "object" && !c.entry.status.has("CONFIRMED")) ns.conntrack.confirm(c.entry);
      continue;
    }
    const table = step;
    const manip = hook === "PREROUTING" || hook === "OUTPUT" ? "dst" : "src";
    if (table === "nat") {
      const c = skb.ct;
      if (typeof c !== "object") continue;
      if (!c.entry.status.has("CONFIRMED") && !c.natDone.has(manip) && !c.related) {
        if (!ns.ruleset.tables.get("nat")?.chains.has(hook)) {
          c.natDone.add(manip);
          continue;
        }
        const r = walk(ctx, ns, hook, table, skb, io);
        c.natDone.add(manip);
        if (r.verdict !== "ACCEPT") return stopped(r, table);
        if (r.nat) {
          const err = bind(ctx, ns, c.entry, r.nat, addrs);
          if (err) return { ok: false, verdict: "error", text: err, table };
        }
      }
      natPacket(ctx, ns, skb, hook, manip);
      continue;
    }
    if (!ns.ruleset.tables.get(table)?.chains.has(hook)) continue;
    const r = walk(ctx, ns, hook, table, skb, io);
    if (r.verdict !== "ACCEPT") return stopped(r, table);
  }
  return HOOK_OK;
}

function stopped(r: WalkVerdict, table: TableName): HookResult {
  if (r.verdict === "ERROR") return { ok: false, verdict: "error", text: r.error ?? "rule walk failed", table };
  const by = r.decidedBy ? `${r.decidedBy.table} ${r.decidedBy.chain} rule ${r.decidedBy.index}` : `${table} policy`;
  return r.verdict === "DROP"
    ? { ok: false, verdict: "drop", text: `dropped by ${by}`, table }
    : { ok: false, verdict: "reject", ...(r.rejectWith ? { rejectWith: r.rejectWith } : {}), text: `rejected by ${by}${r.rejectWith ? ` (${r.rejectWith})` : ""}`, table };
}

/** What a hook reads of a walk. */
type WalkVerdict = Pick<TableVerdict, "verdict" | "decidedBy" | "rejectWith" | "nat" | "error">;

function walk(ctx: HookCtx, ns: NetNs, hook: Hook, table: TableName, skb: Skb, io: HookIo): WalkVerdict {
  // A built-in chain with no rules decides by its policy alone: no packet view, no connection view.
  const start = ns.ruleset.tables.get(table)?.chains.get(hook);
  const empty = start && emptyChainVerdict(table, start);
  if (empty) {
    ctx.record({ kind: "nf.table", packetId: skb.id, ns: ns.name, hook, table, verdict: empty.verdict, hits: empty.hits, inIface: io.inIface, outIface: io.outIface });
    return empty;
  }
  const ct = ctView(skb, ctx.now());
  // A whole literal: a spread of an optional `ct` costs more than the walk of a short chain.
  const env: NfEnv = {
    hook,
    addrTypes: (a, iface) => addrTypes(ns, a, iface),
    ct,
    recent: ns.recent,
    ipsets: ns.ipsets,
    nowMs: ctx.now(),
    chooseRandom: ctx.choose,
    nth: ns.nth,
  };
  const c = skb.ct;
  const ctMark0 = typeof c === "object" ? c.entry.mark : 0;
  const r = traverseTable(ns.ruleset, table, nfPacket(skb, io), env, ctMark0);
  skb.mark = r.packet.mark;
  if (r.ctMark !== undefined && typeof c === "object") c.entry.mark = r.ctMark;
  if (r.notrack && skb.ct === undefined) skb.ct = "untracked";
  const verdict = r.verdict === "ACCEPT" ? (r.nat ? `${r.nat.target.kind}` : "ACCEPT") : r.verdict;
  ctx.record({ kind: "nf.table", packetId: skb.id, ns: ns.name, hook, table, verdict, hits: r.hits, inIface: io.inIface, outIface: io.outIface });
  return r;
}

// nf_nat_setup_info: store the translated tuple in the (unconfirmed) entry.
function bind(ctx: HookCtx, ns: NetNs, e: CtEntry, d: NatDecision, addrs: NatAddrs): string | undefined {
  const cur = replyOf(e.reply);
  const res = applyNat(cur, d, {
    ...(addrs.masqueradeAddr !== undefined ? { masqueradeAddr: addrs.masqueradeAddr } : {}),
    ...(addrs.redirectAddr !== undefined ? { redirectAddr: addrs.redirectAddr } : {}),
    inUse: (t) => ns.conntrack.inUse(t),
    random: () => ctx.random(),
  });
  if (!res.ok) return `${d.target.kind} at ${d.hit.table} ${d.hit.chain} rule ${d.hit.index}: ${res.reason}`;
  e.reply = replyOf(res.tuple);
  e.status.add(res.manip === "dst" ? "DST_NAT" : "SRC_NAT");
  return undefined;
}
