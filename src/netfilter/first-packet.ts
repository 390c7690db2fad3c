/**
 * @module netfilter/first-packet
 * The walk a real kernel makes for a connection's first packet through one machine's rules,
 * for offline tracing of an `iptables-save` dump (`podwire iptables trace`):
 *
 *   arriving:  PREROUTING raw → [conntrack NEW] → mangle → nat(DNAT)
 *              → route: local? → INPUT mangle → filter → nat(SNAT)            → socket
 *                       else   → FORWARD mangle → filter → POSTROUTING mangle → nat(SNAT)
 *   local:     OUTPUT raw → [conntrack NEW] → mangle → nat(DNAT) → filter
 *              → POSTROUTING mangle → nat(SNAT) → (to a local address: back in through lo,
 *                PREROUTING raw, mangle → INPUT mangle, filter; nat is not consulted again)
 *
 * (Linux hook priorities, dataplane.md §7.1.) The nat table is consulted only while the
 * connection is NEW and only once per manipulation type: a DNAT decided at OUTPUT is not
 * revisited at PREROUTING, and a SNAT (or null binding) made at POSTROUTING means nat INPUT is
 * skipped. `-j CT --notrack` in raw makes the packet UNTRACKED and skips nat entirely.
 */
import type { Ipv4 } from "../net/addr.js";
import { formatEndpoint, replyOf, type Tuple } from "../net/tuple.js";
import type { CtState, Hook, Ruleset, TableName } from "./model.js";
import { applyNat } from "./nat.js";
import type { CtView, NfEnv, NfPacket } from "./packet.js";
import { traverseTable, type NatDecision, type RuleHit, type TableVerdict } from "./traverse.js";
import type { Cidr } from "../net/cidr.js";
import { cidrContains, cidr } from "../net/cidr.js";
import type { Chooser } from "./explore.js";

/** What to trace. */
export interface FirstPacketInput {
  readonly ruleset: Ruleset;
  readonly tuple: Tuple;
  /** Start at PREROUTING (arriving) or OUTPUT (locally generated). */
  readonly hook: "PREROUTING" | "OUTPUT";
  /** The machine's own addresses (addrtype LOCAL, local delivery). */
  readonly local: readonly Ipv4[];
  /** Interface the packet arrives on (PREROUTING) — default "eth0". */
  readonly inIface: string;
  /** Interface a forwarded or sent packet leaves by — default "eth0". */
  readonly outIface: string;
  readonly mark?: number;
  readonly ipsets?: ReadonlyMap<string, readonly Cidr[]>;
  /** Address MASQUERADE would pick; when unknown the SNAT is reported as "masquerade". */
  readonly masqueradeAddr?: Ipv4;
}

/** One table walked at one hook. */
export interface HookStep {
  readonly hook: Hook;
  readonly table: TableName;
  readonly result: TableVerdict;
}

/** The outcome of a first-packet walk. */
export interface FirstPacketResult {
  readonly verdict: "accept" | "drop" | "reject" | "error";
  readonly delivery: "local" | "forward";
  readonly rejectWith?: string;
  readonly dnat?: { readonly to: string; readonly hit: RuleHit };
  readonly snat?: { readonly to: string; readonly kind: "SNAT" | "MASQUERADE"; readonly hit: RuleHit };
  /** The tuple after all NAT. */
  readonly final: Tuple;
  readonly steps: readonly HookStep[];
  /** Rules that could not be evaluated ("cannot evaluate -m X at rule N"). */
  readonly unknowns: readonly string[];
  readonly error?: string;
}

const LOOPBACK = cidr("127.0.0.0/8");
const PROTO_NUM = { tcp: 6, udp: 17, icmp: 1 } as const;

/** Walks the first packet of `input.tuple`, making random choices with `choose`. */
export function traceFirstPacket(input: FirstPacketInput, choose: Chooser): FirstPacketResult {
  const isLocal = (a: Ipv4): boolean => cidrContains(LOOPBACK, a) || input.local.includes(a);
  const addrTypes = (a: Ipv4): readonly string[] => (isLocal(a) ? ["LOCAL"] : a === 0xffffffff ? ["BROADCAST"] : a >>> 28 === 14 ? ["MULTICAST"] : ["UNICAST"]);
  let t = input.tuple;
  let ctState: CtState = "NEW";
  let dnatDone = false;
  let snatDone = false;
  let ctMark = 0;
  let mark = input.mark ?? 0;
  const steps: HookStep[] = [];
  const unknowns: string[] = [];
  let dnat: FirstPacketResult["dnat"];
  let snat: FirstPacketResult["snat"];
  const recent = new Map();
  const nth = new Map<string, number>();
  const pkt = (inIface: string, outIface: string): NfPacket => ({
    proto: PROTO_NUM[t.proto],
    src: t.src,
    dst: t.dst,
    sport: t.proto === "icmp" ? 0 : t.sport,
    dport: t.proto === "icmp" ? 0 : t.dport,
    ...(t.proto === "icmp" ? { icmpType: 8, icmpCode: 0 } : {}),
    ...(t.proto === "tcp" ? { tcpFlags: 0x02 } : {}),
    fragment: false,
    inIface,
    outIface,
    bridged: false,
    mark,
    pktType: "host",
  });
  const ct = (): CtView | undefined =>
    ctState === "UNTRACKED"
      ? { state: "UNTRACKED", dnat: false, snat: false, status: new Set(), orig: input.tuple, reply: replyOf(t), mark: ctMark, dir: "ORIGINAL", expiresSec: 0 }
      : { state: ctState, dnat: dnatDone, snat: snatDone, status: new Set([...(dnatDone ? ["DST_NAT"] : []), ...(snatDone ? ["SRC_NAT"] : [])]), orig: input.tuple, reply: replyOf(t), mark: ctMark, dir: "ORIGINAL", expiresSec: 120 };
  const finish = (verdict: FirstPacketResult["verdict"], delivery: FirstPacketResult["delivery"], extra: Partial<FirstPacketResult> = {}): FirstPacketResult => ({
    verdict,
    delivery,
    final: t,
    steps,
    unknowns,
    ...(dnat ? { dnat } : {}),
    ...(snat ? { snat } : {}),
    ...extra,
  });
  const run = (hook: Hook, table: TableName, inIface: string, outIface: string): TableVerdict => {
    const env: NfEnv = { hook, addrTypes, ...(ct() ? { ct: ct() as CtView } : {}), recent, ipsets: input.ipsets ?? new Map(), nowMs: 0, chooseRandom: choose, nth };
    const r = traverseTable(input.ruleset, table, pkt(inIface, outIface), env, ctMark);
    mark = r.packet.mark;
    if (r.ctMark !== undefined) ctMark = r.ctMark;
    if (r.notrack) ctState = "UNTRACKED";
    for (const h of r.hits) {
      if (!h.unknown) continue;
      const effect = h.unknown.startsWith("-j ") ? "the walk continues past it" : "treated as not matching";
      unknowns.push(`cannot evaluate ${h.unknown} at rule ${h.index} of ${h.table} ${h.chain} (line ${h.rule.line}); ${effect}`);
    }
    steps.push({ hook, table, result: r });
    return r;
  };
  const nat = (r: TableVerdict, manip: "dst" | "src"): string | undefined => {
    if (!r.nat) return undefined;
    const res = applyNat(t, r.nat as NatDecision, {
      ...(input.masqueradeAddr !== undefined ? { masqueradeAddr: input.masqueradeAddr } : {}),
      ...(manip === "dst" ? { redirectAddr: (input.hook === "OUTPUT" ? 0x7f000001 : (input.local[0] ?? 0)) as Ipv4 } : {}),
      inUse: () => false,
      random: () => 0,
    });
    const hit = r.nat.hit;
    if (!res.ok) {
      if (r.nat.target.kind === "MASQUERADE") {
        snat = { to: "masquerade", kind: "MASQUERADE", hit };
        snatDone = true;
        return undefined;
      }
      return res.reason;
    }
    if (res.manip === "dst") {
      t = res.tuple;
      dnat = { to: formatEndpoint(t.dst, t.dport), hit };
      dnatDone = true;
    } else {
      t = res.tuple;
      snat = { to: formatEndpoint(t.src, t.sport), kind: r.nat.target.kind === "SNAT" ? "SNAT" : "MASQUERADE", hit };
      snatDone = true;
    }
    return undefined;
  };
  // A drop/reject/error at a table ends the walk.
  const stop = (r: TableVerdict, delivery: FirstPacketResult["delivery"]): FirstPacketResult | undefined => {
    if (r.verdict === "ACCEPT") return undefined;
    if (r.verdict === "ERROR") return finish("error", delivery, { error: r.error ?? "error" });
    return finish(r.verdict === "DROP" ? "drop" : "reject", delivery, r.rejectWith ? { rejectWith: r.rejectWith } : {});
  };
  const chain = (hook: Hook, tables: readonly TableName[], inIface: string, outIface: string, delivery: FirstPacketResult["delivery"]): FirstPacketResult | undefined => {
    for (const table of tables) {
      if (table === "nat") {
        const manip = hook === "PREROUTING" || hook === "OUTPUT" ? "dst" : "src";
        if (ctState === "UNTRACKED" || (manip === "dst" ? dnatDone : snatDone)) continue;
        const r = run(hook, table, inIface, outIface);
        const s = stop(r, delivery);
        if (s) return s;
        const err = nat(r, manip);
        if (err) return finish("error", delivery, { error: err });
        if (manip === "dst") dnatDone = true;
        else snatDone = true;
        continue;
      }
      const s = stop(run(hook, table, inIface, outIface), delivery);
      if (s) return s;
    }
    return undefined;
  };
  if (input.hook === "OUTPUT") {
    const first = chain("OUTPUT", ["raw", "mangle", "nat", "filter"], "", input.outIface, "local");
    if (first) return first;
    const local = isLocal(t.dst);
    const out = local ? "lo" : input.outIface;
    const post = chain("POSTROUTING", ["mangle", "nat"], "", out, local ? "local" : "forward");
    if (post) return post;
    if (!local) return finish("accept", "forward");
    const back = chain("PREROUTING", ["raw", "mangle"], "lo", "", "local") ?? chain("INPUT", ["mangle", "filter", "nat"], "lo", "", "local");
    return back ?? finish("accept", "local");
  }
  const pre = chain("PREROUTING", ["raw", "mangle", "nat"], input.inIface, "", "forward");
  if (pre) return pre;
  if (isLocal(t.dst)) {
    return chain("INPUT", ["mangle", "filter", "nat"], input.inIface, "", "local") ?? finish("accept", "local");
  }
  return (
    chain("FORWARD", ["mangle", "filter"], input.inIface, input.outIface, "forward") ??
    chain("POSTROUTING", ["mangle", "nat"], "", input.outIface, "forward") ??
    finish("accept", "forward")
  );
}
