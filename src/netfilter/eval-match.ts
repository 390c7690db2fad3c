/**
 * @module netfilter/eval-match
 * Evaluates one rule's base tests and matches against a packet, as the kernel's
 * `ip_packet_match` and each xt match's `match()` do. A match podwire cannot evaluate (an
 * unknown module, ipset types it does not model) returns "unknown" so the trace can say so.
 */
import { cidrContains, maskOf } from "../net/cidr.js";
import type { CtTest, Match, PortRange, RecentMatch, RuleBase } from "./model.js";
import type { NfEnv, NfPacket } from "./packet.js";
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP } from "./packet.js";

/** The outcome of testing a rule. */
export type MatchResult = true | false | { readonly unknown: string };

/** `eth+` matches any name starting with `eth`; otherwise the name must be equal. */
export function ifaceMatches(pattern: string, name: string): boolean {
  return pattern.endsWith("+") ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

const prefixEq = (a: number, b: number, len: number): boolean => ((a ^ b) & maskOf(len)) === 0;
const inRange = (r: PortRange, p: number): boolean => p >= r.lo && p <= r.hi;

/** ip_packet_match: the generic fields. */
export function baseMatches(b: RuleBase, p: NfPacket): boolean {
  if (b.src && cidrContains(b.src.cidr, p.src) === b.src.neg) return false;
  if (b.dst && cidrContains(b.dst.cidr, p.dst) === b.dst.neg) return false;
  if (b.in && ifaceMatches(b.in.name, p.inIface) === b.in.neg) return false;
  if (b.out && ifaceMatches(b.out.name, p.outIface) === b.out.neg) return false;
  if (b.proto && b.proto.num !== 0 && (b.proto.num === p.proto) === b.proto.neg) return false;
  if (b.frag && p.fragment === b.frag.neg) return false;
  return true;
}

const CT_PROTO_NUM: Readonly<Record<string, number>> = { tcp: 6, udp: 17, icmp: 1 };

function ctTest(t: CtTest, env: NfEnv): boolean {
  const ct = env.ct;
  if (t.key === "ctstate") {
    // The connection's state, plus DNAT and SNAT when it was translated.
    const state = ct ? ct.state : "INVALID";
    let hit = false;
    for (const s of t.states) if (s === state || (s === "DNAT" && ct?.dnat === true) || (s === "SNAT" && ct?.snat === true)) hit = true;
    return hit !== t.neg;
  }
  if (!ct) return false;
  switch (t.key) {
    case "ctproto":
      return (CT_PROTO_NUM[ct.orig.proto] === t.proto) !== t.neg;
    case "ctorigsrc":
      return prefixEq(t.addr, ct.orig.src, t.len) !== t.neg;
    case "ctorigdst":
      return prefixEq(t.addr, ct.orig.dst, t.len) !== t.neg;
    case "ctreplsrc":
      return prefixEq(t.addr, ct.reply.src, t.len) !== t.neg;
    case "ctrepldst":
      return prefixEq(t.addr, ct.reply.dst, t.len) !== t.neg;
    case "ctorigsrcport":
      return inRange(t.range, ct.orig.sport) !== t.neg;
    case "ctorigdstport":
      return inRange(t.range, ct.orig.dport) !== t.neg;
    case "ctreplsrcport":
      return inRange(t.range, ct.reply.sport) !== t.neg;
    case "ctrepldstport":
      return inRange(t.range, ct.reply.dport) !== t.neg;
    case "ctstatus":
      return (t.status.length === 0 ? ct.status.size === 0 : t.status.some((s) => ct.status.has(s))) !== t.neg;
    case "ctexpire":
      return inRange(t.range, ct.expiresSec) !== t.neg;
    case "ctdir":
      return ct.dir === t.dir;
  }
}

/** xt_recent: checks (and for --set/--update/--remove changes) the named list. */
function recentMatch(m: RecentMatch, p: NfPacket, env: NfEnv): boolean {
  const addr = ((m.side === "rsource" ? p.src : p.dst) & m.mask) >>> 0;
  const list = env.recent.get(m.name) ?? [];
  const i = list.findIndex((e) => e.addr === addr);
  const now = env.nowMs;
  if (m.cmd === "set") {
    const e = list[i];
    const next = { addr: addr as never, hits: [...(e?.hits ?? []), now], ttl: 0 };
    env.recent.set(m.name, i < 0 ? [...list, next] : list.map((x, j) => (j === i ? next : x)));
    return !m.neg;
  }
  const e = list[i];
  if (!e) return m.neg;
  if (m.cmd === "remove") {
    env.recent.set(m.name, list.filter((_, j) => j !== i));
    return !m.neg;
  }
  const fresh = m.seconds === undefined ? e.hits : e.hits.filter((t) => now - t <= (m.seconds as number) * 1000);
  const hit = fresh.length > 0 && fresh.length >= (m.hitcount ?? 0);
  if (m.cmd === "update" && hit) {
    env.recent.set(m.name, list.map((x, j) => (j === i ? { ...x, hits: [...x.hits, now] } : x)));
  }
  return hit !== m.neg;
}

/** Evaluates one match. `site` identifies the rule for statistic decisions. */
export function evalMatch(m: Match, p: NfPacket, env: NfEnv, site: string): MatchResult {
  switch (m.kind) {
    case "tcp":
    case "udp": {
      if (p.proto !== (m.kind === "tcp" ? PROTO_TCP : PROTO_UDP) || p.fragment) return false;
      if (m.sport && inRange(m.sport.v, p.sport) === m.sport.neg) return false;
      if (m.dport && inRange(m.dport.v, p.dport) === m.dport.neg) return false;
      if (m.kind === "tcp" && m.flags && (((p.tcpFlags ?? 0) & m.flags.v.mask) === m.flags.v.comp) === m.flags.neg) return false;
      return true;
    }
    case "icmp": {
      if (p.proto !== PROTO_ICMP) return false;
      if (!m.type || m.type.v.name === "any") return m.type ? !m.type.neg : true;
      const ok = p.icmpType === m.type.v.type && (m.type.v.code === undefined || p.icmpCode === m.type.v.code);
      return ok !== m.type.neg;
    }
    case "multiport": {
      const hit = m.ports.some((r) => (m.dir !== "dports" && inRange(r, p.sport)) || (m.dir !== "sports" && inRange(r, p.dport)));
      return hit !== m.neg;
    }
    case "comment":
    case "nfacct":
      return true;
    case "limit":
      // A single traced packet never exceeds a token bucket that starts full (burst ≥ 1).
      return m.burst > 0;
    case "statistic":
      if (m.mode === "random") return env.chooseRandom(m.probability, site) !== m.neg;
      return nthMatch(m.every, m.packet, site, env) !== m.neg;
    case "mark":
      return (((p.mark & m.mask) >>> 0) === ((m.value & m.mask) >>> 0)) !== m.neg;
    case "connmark":
      return ((((env.ct?.mark ?? 0) & m.mask) >>> 0) === ((m.value & m.mask) >>> 0)) !== m.neg;
    case "conntrack":
      for (const t of m.tests) if (!ctTest(t, env)) return false;
      return true;
    case "addrtype":
      return addrtypeMatch(m, p, env);
    case "recent":
      return recentMatch(m, p, env);
    case "physdev":
      return physdevMatch(m, p);
    case "pkttype":
      return ((m.type === "unicast" ? "host" : m.type) === p.pktType) !== m.neg;
    case "iprange": {
      if (m.src && (p.src >= m.src.v.from && p.src <= m.src.v.to) === m.src.neg) return false;
      if (m.dst && (p.dst >= m.dst.v.from && p.dst <= m.dst.v.to) === m.dst.neg) return false;
      return true;
    }
    case "set":
      return setMatch(m, p, env);
    case "unknown":
      return { unknown: `-m ${m.module}` };
  }
}

function nthMatch(every: number, packet: number, site: string, env: NfEnv): boolean {
  const n = env.nth.get(site) ?? 0;
  env.nth.set(site, (n + 1) % every);
  return n === packet;
}

function addrtypeMatch(m: Extract<Match, { kind: "addrtype" }>, p: NfPacket, env: NfEnv): boolean {
  const dev = m.limitIn ? p.inIface : m.limitOut ? p.outIface : undefined;
  if (m.src && anyOf(m.src.v, env.addrTypes(p.src, dev)) === m.src.neg) return false;
  if (m.dst && anyOf(m.dst.v, env.addrTypes(p.dst, dev)) === m.dst.neg) return false;
  return true;
}

// Whether any of `want` is in `have` (plain loops: this runs for every addrtype rule walked).
function anyOf(want: readonly string[], have: readonly string[]): boolean {
  for (const t of want) if (have.includes(t)) return true;
  return false;
}

function physdevMatch(m: Extract<Match, { kind: "physdev" }>, p: NfPacket): boolean {
  if (m.isBridged && p.bridged === Boolean(m.negIsBridged)) return false;
  if (m.isIn && (p.physIn !== undefined) === Boolean(m.negIsIn)) return false;
  if (m.isOut && (p.physOut !== undefined) === Boolean(m.negIsOut)) return false;
  if (m.in && (p.physIn !== undefined && ifaceMatches(m.in.v, p.physIn)) === m.in.neg) return false;
  if (m.out && (p.physOut !== undefined && ifaceMatches(m.out.v, p.physOut)) === m.out.neg) return false;
  return true;
}

function setMatch(m: Extract<Match, { kind: "set" }>, p: NfPacket, env: NfEnv): MatchResult {
  const members = env.ipsets.get(m.name);
  if (!members) return { unknown: `-m set (ipset "${m.name}" has no loaded contents)` };
  if (m.flags.length !== 1) return { unknown: `-m set with ${m.flags.length}-dimension set "${m.name}"` };
  const a = m.flags[0] === "src" ? p.src : p.dst;
  return members.some((c) => cidrContains(c, a)) !== m.neg;
}
