/**
 * @module netfilter/traverse
 * Walks one table's chain for one hook, as `ipt_do_table` does: rules in order, jumps pushing a
 * return point, `-g` replacing the current frame, RETURN popping it, and a built-in chain that
 * runs out falling through to its policy ("underflow"). Non-terminal targets (MARK, CONNMARK,
 * LOG, NFLOG, TRACE, CT) act and continue; NAT targets end the nat table's walk with a binding.
 *
 * The jump stack is capped at 16 nested jumps (STYLE 3.6, after gVisor's netstack). The real
 * kernel sizes its jump stack from the loaded table and iptables refuses chain loops at load
 * time; podwire reports a deeper walk (or a loop) as an error verdict instead of hanging.
 */
import { NO_BASE_TESTS, type Chain, type Rule, type Ruleset, type TableName, type Target } from "./model.js";
import { baseMatches, evalMatch } from "./eval-match.js";
import type { NfEnv, NfPacket } from "./packet.js";

/** Depth limit for user-chain jumps (see module doc). */
export const JUMP_STACK_MAX = 16;

/** A rule that matched (or could not be evaluated) during a walk. */
export interface RuleHit {
  readonly table: TableName;
  readonly chain: string;
  /** 1-based position in the chain, as `iptables -L --line-numbers` counts. */
  readonly index: number;
  readonly rule: Rule;
  /** What happened: "jump KUBE-SVC-…", "ACCEPT", "DNAT", "continue", "policy ACCEPT", … */
  readonly verdict: string;
  /** Set when a match could not be evaluated (the rule was treated as not matching). */
  readonly unknown?: string;
}

/** The NAT binding a nat-table walk decided. */
export interface NatDecision {
  readonly target: Extract<Target, { kind: "DNAT" | "SNAT" | "MASQUERADE" | "REDIRECT" }>;
  readonly hit: RuleHit;
}

/** The result of walking one table at one hook. */
export interface TableVerdict {
  readonly verdict: "ACCEPT" | "DROP" | "REJECT" | "ERROR";
  readonly rejectWith?: string | undefined;
  /** The rule that decided, or undefined when a policy did. */
  readonly decidedBy?: RuleHit | undefined;
  readonly nat?: NatDecision | undefined;
  readonly hits: readonly RuleHit[];
  /** The packet after MARK/CT changes. */
  readonly packet: NfPacket;
  readonly ctMark?: number | undefined;
  readonly notrack: boolean;
  readonly error?: string | undefined;
}

interface Frame {
  readonly chain: Chain;
  /** The chain's index, looked up once when the walk enters it (not once a step: a WeakMap probe each). */
  readonly idx: ChainIndex | null;
  pos: number;
}

/**
 * Indexes over a long chain (DESIGN decision 5), which only skip rules that cannot match:
 * - by destination: rules whose address test is a non-negated `-d a.b.c.d/32` are listed under
 *   that address; every other rule under "any destination";
 * - by port: a rule whose `-m tcp`/`-m udp` match asks for one destination port, with only
 *   side-effect-free matches that always decide (comment, addrtype) before it, is listed under
 *   that (protocol, port); every other rule under "any port" (kube-proxy's KUBE-NODEPORTS and
 *   KUBE-EXTERNAL-SERVICES are long chains of the first kind).
 * The next rule that can match a packet is the first, at or after the current position, among the
 * four lists its destination and port select (theirs or "any", each): a binary search in each, so
 * a step costs the same at 10 Services as at 10,000.
 * Either way the walk reaches exactly the rule a linear scan would, so the trace names the same
 * rule the kernel matches, with the same hits and the same random draws.
 */
interface ChainIndex {
  /** The rules a `-d a.b.c.d/32` lists under that address. */
  readonly byDst: ReadonlyMap<number, PortLists> | undefined;
  /** The rules with any other address test, or none. */
  readonly anyDst: PortLists;
}

/** Rule positions (ascending) by the (protocol << 16 | destination port) they need, and those that need none. */
interface PortLists {
  readonly byPort: Map<number, number[]>;
  readonly anyPort: number[];
}

let indexing = true;
/** Test seam: walk every chain linearly (the reference the indexes must agree with). */
export function setChainIndexes(on: boolean): void {
  indexing = on;
}

// The one (protocol, destination port) a rule can match, or -1.
function portKey(r: Rule): number {
  for (const m of r.matches) {
    if (m.kind === "tcp" || m.kind === "udp") {
      const d = m.dport;
      return d && !d.neg && d.v.lo === d.v.hi ? ((m.kind === "tcp" ? 6 : 17) << 16) | d.v.lo : -1;
    }
    if (m.kind !== "comment" && m.kind !== "addrtype") return -1;
  }
  return -1;
}

const INDEX_MIN_RULES = 64;
const indexes = new WeakMap<Chain, ChainIndex | null>();

function portLists(): PortLists {
  return { byPort: new Map(), anyPort: [] };
}

function listUnder(lists: PortLists, port: number, i: number): void {
  if (port === -1) return void lists.anyPort.push(i);
  const l = lists.byPort.get(port);
  if (l) l.push(i);
  else lists.byPort.set(port, [i]);
}

function chainIndex(c: Chain): ChainIndex | null {
  if (!indexing) return null;
  let idx = indexes.get(c);
  if (idx !== undefined) return idx;
  idx = null;
  if (c.rules.length >= INDEX_MIN_RULES) {
    const byDst = new Map<number, PortLists>();
    const anyDst = portLists();
    let keyed = 0;
    c.rules.forEach((r, i) => {
      const d = r.base.dst;
      const port = portKey(r);
      if (port !== -1) keyed += 1;
      if (d && !d.neg && d.cidr.len === 32) {
        let lists = byDst.get(d.cidr.addr);
        if (!lists) byDst.set(d.cidr.addr, (lists = portLists()));
        listUnder(lists, port, i);
      } else {
        listUnder(anyDst, port, i);
      }
    });
    if (byDst.size > 0 || keyed > 0) idx = { byDst: byDst.size > 0 ? byDst : undefined, anyDst };
  }
  indexes.set(c, idx);
  return idx;
}

/** First element ≥ pos of a sorted list, or Infinity. */
function firstAtOrAfter(list: readonly number[] | undefined, pos: number): number {
  if (!list) return Infinity;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as number) < pos) lo = mid + 1;
    else hi = mid;
  }
  return lo < list.length ? (list[lo] as number) : Infinity;
}

/** The first rule at or after `pos` in lists that one destination or none shares: of its port's, or of those that need no port. */
function firstIn(lists: PortLists | undefined, key: number, pos: number): number {
  if (!lists) return Infinity;
  return Math.min(firstAtOrAfter(lists.anyPort, pos), lists.byPort.size > 0 ? firstAtOrAfter(lists.byPort.get(key), pos) : Infinity);
}

/**
 * The position of the next rule that can match the packet, starting at `pos`: the first among the
 * rules listed under its destination or under none, and under its (protocol, port) or under none.
 * A packet that is a fragment or neither TCP nor UDP has no port key, so only rules needing none
 * remain. One lookup per step, however many rules of other Services lie between.
 */
function nextCandidate(c: Chain, idx: ChainIndex | null, pos: number, p: NfPacket): number {
  if (!idx) return pos;
  const key = p.fragment || (p.proto !== 6 && p.proto !== 17) ? -2 : (p.proto << 16) | p.dport;
  const n = Math.min(firstIn(idx.anyDst, key, pos), idx.byDst ? firstIn(idx.byDst.get(p.dst), key, pos) : Infinity);
  return n === Infinity ? c.rules.length : n;
}

/**
 * Walks `table`'s built-in chain `hook` for the packet. A missing table or chain accepts (no rules
 * there), as the kernel does when nothing is registered.
 */
/** The rule a policy hit names (no rule: the chain's policy). */
const POLICY_RULE: Rule = Object.freeze({ base: NO_BASE_TESTS, matches: Object.freeze([]) as readonly never[], target: undefined, line: 0 });

const POLICY_VERDICT = { ACCEPT: "policy ACCEPT", DROP: "policy DROP" } as const;

type VerdictExtra = { readonly rejectWith?: string; readonly nat?: NatDecision; readonly error?: string };

function verdictOf(verdict: TableVerdict["verdict"], decidedBy: RuleHit | undefined, extra: VerdictExtra | undefined, hits: RuleHit[], packet: NfPacket, ctMark: number | undefined, notrack: boolean): TableVerdict {
  return { verdict, rejectWith: extra?.rejectWith, decidedBy, nat: extra?.nat, hits, packet, ctMark, notrack, error: extra?.error };
}

function ruleHit(table: TableName, chain: string, index: number, rule: Rule, verdict: string, unknown: string | undefined): RuleHit {
  return unknown ? { table, chain, index, rule, verdict, unknown } : { table, chain, index, rule, verdict };
}

/** A built-in chain's verdict when it has no rules: its policy, the same every time. */
export interface PolicyVerdict {
  readonly verdict: "ACCEPT" | "DROP";
  readonly hits: readonly RuleHit[];
}
// Per table: interning may give two tables' empty built-in chains of one name the same object.
const policyVerdicts = { raw: new WeakMap(), mangle: new WeakMap(), nat: new WeakMap(), filter: new WeakMap(), security: new WeakMap() } satisfies Record<TableName, WeakMap<Chain, PolicyVerdict>>;

/**
 * The verdict of a built-in chain with no rules (most mangle and raw chains, nat INPUT): its
 * policy, with the one policy hit a walk records. Nothing in the packet or its connection is read,
 * so a hook can take it without building the walk's packet view; undefined when the chain has rules.
 */
export function emptyChainVerdict(table: TableName, chain: Chain): PolicyVerdict | undefined {
  if (chain.rules.length > 0) return undefined;
  const memo = policyVerdicts[table];
  let v = memo.get(chain);
  if (!v) {
    const policy = chain.policy ?? "ACCEPT";
    v = Object.freeze({ verdict: policy, hits: Object.freeze([Object.freeze({ table, chain: chain.name, index: 1, rule: POLICY_RULE, verdict: POLICY_VERDICT[policy] })]) });
    memo.set(chain, v);
  }
  return v;
}

export function traverseTable(rs: Ruleset, table: TableName, pkt: NfPacket, env: NfEnv, ctMark0 = 0): TableVerdict {
  const t = rs.tables.get(table);
  const start = t?.chains.get(env.hook);
  let packet = pkt;
  let ctMark = ctMark0;
  let notrack = false;
  const hits: RuleHit[] = [];
  // A walk makes one verdict, and a hit per rule it records, on every hook of every hop of a
  // trace: both are whole literals of one shape, made by plain functions (no closure per rule).
  const done = (verdict: TableVerdict["verdict"], decidedBy?: RuleHit, extra?: VerdictExtra): TableVerdict => verdictOf(verdict, decidedBy, extra, hits, packet, ctMark !== ctMark0 ? ctMark : undefined, notrack);
  if (!t || !start) return done("ACCEPT");
  const stack: Frame[] = [];
  let frame: Frame = { chain: start, idx: chainIndex(start), pos: 0 };
  for (let steps = 0; ; steps++) {
    if (steps > 1_000_000) return done("ERROR", undefined, { error: `walk of ${table} ${env.hook} did not end (rule loop?)` });
    frame.pos = nextCandidate(frame.chain, frame.idx, frame.pos, packet);
    const rule = frame.chain.rules[frame.pos];
    if (!rule) {
      const back = stack.pop();
      if (back) {
        frame = back;
        continue;
      }
      // Underflow: a user chain reached by -g returns here too; the built-in policy decides.
      const policy = start.policy ?? "ACCEPT";
      hits.push({ table, chain: start.name, index: start.rules.length + 1, rule: POLICY_RULE, verdict: POLICY_VERDICT[policy] });
      return done(policy);
    }
    const index = frame.pos + 1;
    frame.pos++;
    if (!baseMatches(rule.base, packet)) continue;
    // The rule's name for statistic decisions, written only for the matches that use it.
    let unknown: string | undefined;
    let matched = true;
    for (const m of rule.matches) {
      const r = evalMatch(m, packet, env, m.kind === "statistic" ? `${table}/${frame.chain.name}/${index}` : "");
      if (r === true) continue;
      matched = false;
      if (r !== false) unknown = r.unknown;
      break;
    }
    const chainName = frame.chain.name;
    if (!matched) {
      if (unknown) hits.push(ruleHit(table, chainName, index, rule, "not evaluated", unknown));
      continue;
    }
    const tgt = rule.target;
    if (!tgt) {
      hits.push(ruleHit(table, chainName, index, rule, "continue", unknown));
      continue;
    }
    switch (tgt.kind) {
      case "ACCEPT":
      case "DROP":
        hits.push(ruleHit(table, chainName, index, rule, tgt.kind, unknown));
        return done(tgt.kind, hits[hits.length - 1]);
      case "REJECT":
        hits.push(ruleHit(table, chainName, index, rule, "REJECT", unknown));
        return done("REJECT", hits[hits.length - 1], { rejectWith: tgt.with });
      case "QUEUE":
        hits.push(ruleHit(table, chainName, index, rule, "QUEUE (no userspace queue: dropped)", unknown));
        return done("DROP", hits[hits.length - 1]);
      case "RETURN": {
        hits.push(ruleHit(table, chainName, index, rule, "RETURN", unknown));
        const back = stack.pop();
        if (back) frame = back;
        else frame.pos = frame.chain.rules.length; // RETURN in a built-in chain: policy
        continue;
      }
      case "JUMP":
      case "GOTO": {
        const next = t.chains.get(tgt.chain);
        hits.push(ruleHit(table, chainName, index, rule, `${tgt.kind === "JUMP" ? "jump" : "goto"} ${tgt.chain}`, unknown));
        if (!next) return done("ERROR", undefined, { error: `jump to missing chain ${tgt.chain}` });
        if (tgt.kind === "JUMP") {
          if (stack.length >= JUMP_STACK_MAX) return done("ERROR", undefined, { error: `jump depth exceeds ${JUMP_STACK_MAX} at ${table}/${frame.chain.name}/${index}` });
          stack.push(frame);
        }
        frame = { chain: next, idx: chainIndex(next), pos: 0 };
        continue;
      }
      case "DNAT":
      case "SNAT":
      case "MASQUERADE":
      case "REDIRECT": {
        hits.push(ruleHit(table, chainName, index, rule, tgt.kind, unknown));
        const h = hits[hits.length - 1] as RuleHit;
        return done("ACCEPT", h, { nat: { target: tgt, hit: h } });
      }
      case "MARK":
        packet = { ...packet, mark: ((packet.mark & ~tgt.mask) ^ tgt.value) >>> 0 };
        hits.push(ruleHit(table, chainName, index, rule, `MARK → 0x${packet.mark.toString(16)}`, unknown));
        continue;
      case "CONNMARK":
        if (tgt.mode === "set") ctMark = ((ctMark & ~tgt.mask) ^ tgt.value) >>> 0;
        else if (tgt.mode === "save") ctMark = ((ctMark & ~tgt.ctmask) | (packet.mark & tgt.nfmask)) >>> 0;
        else packet = { ...packet, mark: ((packet.mark & ~tgt.nfmask) | (ctMark & tgt.ctmask)) >>> 0 };
        hits.push(ruleHit(table, chainName, index, rule, `CONNMARK ${tgt.mode}`, unknown));
        continue;
      case "CT":
        if (tgt.notrack) notrack = true;
        hits.push(ruleHit(table, chainName, index, rule, tgt.notrack ? "NOTRACK" : "CT", unknown));
        continue;
      case "LOG":
      case "NFLOG":
      case "TRACE":
        hits.push(ruleHit(table, chainName, index, rule, `${tgt.kind} (continue)`, unknown));
        continue;
      case "unknown":
        unknown = `-j ${tgt.name}`;
        hits.push(ruleHit(table, chainName, index, rule, "not evaluated (continue)", unknown));
        continue;
    }
  }
}
