/**
 * @module netfilter/restore-intern
 * What iptables-restore (iptables-restore.ts) shares with its earlier parses when asked to
 * (`intern`: many nodes, one kube-proxy text, DESIGN decision 5): an `-A` line met before is its
 * earlier rule object, not tokenized or parsed again; a chain met before with the same rules is
 * the earlier chain object; a large table that differs little from the last one is kept as its
 * differences (chain-overlay.ts). Safe because parsed rules and rulesets are never changed in
 * place (a later restore copies the chains it starts from). Every cache is bounded.
 */
import type { Rule, TableName } from "./model.js";
import { ChainOverlay } from "./chain-overlay.js";

/** A chain while a restore builds it. */
export interface MutChain {
  name: string;
  policy?: "ACCEPT" | "DROP";
  /** Never changed in place (shared between chains). */
  counters: readonly [number, number];
  rules: Rule[];
  /** A running hash of the first `hashed` rules' ids (internChains); `hashed` is -1 once rules move. */
  h: number;
  hashed: number;
}

export const FNV_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export const INTERN_MAX = 1_000_000;

/**
 * Parsed rules are immutable, so an `-A` line met before (in this table, on any node: the
 * kube-proxy text every node receives) is not tokenized or parsed again — its rule object is
 * reused, provided its chain exists and its jump target is a chain exactly when it was then
 * (DESIGN decision 5: what is identical on every node is parsed once and shared).
 */
interface Appended {
  readonly chain: string;
  readonly target: string;
  readonly targetIsChain: boolean;
  readonly rule: Rule;
  readonly id: number;
  /**
   * The line that came next the last time this one was appended, and its entry: each node's text
   * has a service port's lines in the same order, so the next line is found by comparing it with
   * this one (the same string object, mostly) instead of a probe into the million-entry map.
   */
  nextLine: string | undefined;
  next: Appended | undefined;
}
const appended = new Map<TableName, Map<string, Appended>>();
let appendedSize = 0;

/**
 * A run of `-A` lines as the parser meets them: the last line's entry (for its `next` link), and
 * the chain it appended to (consecutive lines mostly append to one chain). Only `-A` lines keep a
 * run: they change no chain map, so the chain found stays the one the map holds; any other line
 * ends it (`endRun`).
 */
export interface AppendRun {
  prev: Appended | undefined;
  chainName: string | undefined;
  chain: MutChain | undefined;
}

export function newRun(): AppendRun {
  return { prev: undefined, chainName: undefined, chain: undefined };
}

export function endRun(run: AppendRun): void {
  run.prev = undefined;
  run.chainName = undefined;
  run.chain = undefined;
}

// A string of its own (not a slice of the whole input): concatenating and slicing flattens it.
export function ownCopy(s: string): string {
  return ` ${s}`.slice(1);
}

/** Appends the rule an `-A` line met before stands for, when its conditions hold; false otherwise (parse it). */
export function appendCached(table: TableName, chains: Map<string, MutChain>, line: string, run: AppendRun): boolean {
  const p = run.prev;
  let hit = p !== undefined && p.nextLine === line ? p.next : undefined;
  const linked = hit !== undefined;
  hit ??= appended.get(table)?.get(line);
  if (!hit) return false;
  const chain = run.chain !== undefined && run.chainName === hit.chain ? run.chain : chains.get(hit.chain);
  if (!chain || chains.has(hit.target) !== hit.targetIsChain) return false;
  if (chain.hashed === chain.rules.length) {
    chain.h = Math.imul(chain.h ^ hit.id, FNV_PRIME);
    chain.hashed += 1;
  }
  chain.rules.push(hit.rule);
  if (!linked && p) {
    p.nextLine = line;
    p.next = hit;
  }
  run.prev = hit;
  run.chainName = hit.chain;
  run.chain = chain;
  return true;
}

/** Remembers the rule an `-A` line (`toks`) just appended, for the next parse that meets the line. */
export function rememberAppend(table: TableName, chains: Map<string, MutChain>, toks: readonly string[], line: string, run: AppendRun): void {
  if (toks[0] !== "-A" || !line.startsWith("-A ")) return endRun(run);
  const chain = chains.get(toks[1] ?? "");
  const rule = chain?.rules[chain.rules.length - 1];
  if (!chain || !rule) return endRun(run);
  const j = toks.findIndex((a, i) => i > 1 && (a === "-j" || a === "--jump" || a === "-g" || a === "--goto"));
  const target = j >= 0 ? (toks[j + 1] ?? "") : "";
  if (appendedSize >= INTERN_MAX) {
    appended.clear();
    appendedSize = 0;
  }
  let m = appended.get(table);
  if (!m) {
    m = new Map();
    appended.set(table, m);
  }
  const id = ruleId(rule);
  if (chain.hashed === chain.rules.length - 1) {
    chain.h = Math.imul(chain.h ^ id, FNV_PRIME);
    chain.hashed += 1;
  }
  const e: Appended = { chain: chain.name, target, targetIsChain: chains.has(target), rule, id, nextLine: undefined, next: undefined };
  m.set(line, e);
  appendedSize += 1;
  if (run.prev) {
    run.prev.nextLine = line;
    run.prev.next = e;
  }
  run.prev = e;
  run.chainName = chain.name;
  run.chain = chain;
}

/**
 * Chains met before with the same name, policy, counters and (shared) rules are the earlier chain
 * object: every node's KUBE-SVC-… and KUBE-SEP-… chains are one object each. Safe because a parsed
 * ruleset is never changed in place (a later restore copies the chains it starts from).
 */
const ruleIds = new WeakMap<Rule, number>();
let nextRuleId = 1;

function ruleId(r: Rule): number {
  let id = ruleIds.get(r);
  if (id === undefined) {
    id = nextRuleId++;
    ruleIds.set(r, id);
  }
  return id;
}
const sharedChains = new Map<TableName, Map<number, MutChain[]>>();
let sharedCount = 0;

export function internChains(table: TableName, chains: Map<string, MutChain>): ReadonlyMap<string, MutChain> {
  const out = new Map<string, MutChain>();
  let shared = sharedChains.get(table);
  if (!shared) {
    shared = new Map();
    sharedChains.set(table, shared);
  }
  for (const [name, c] of chains) {
    // A hash of the chain's name and rule identities (kept as rules were appended, else made
    // now); candidates are compared in full.
    let rh = c.h;
    if (c.hashed !== c.rules.length) {
      rh = FNV_BASIS;
      for (const r of c.rules) rh = Math.imul(rh ^ ruleId(r), FNV_PRIME);
    }
    let h = FNV_BASIS;
    for (let i = 0; i < name.length; i += 1) h = Math.imul(h ^ name.charCodeAt(i), FNV_PRIME);
    h = Math.imul(h ^ rh, FNV_PRIME);
    const same = shared.get(h);
    const hit = same?.find((x) => x.name === name && x.policy === c.policy && x.counters[0] === c.counters[0] && x.counters[1] === c.counters[1] && x.rules.length === c.rules.length && x.rules.every((r, i) => r === c.rules[i]));
    if (hit) {
      out.set(hit.name, hit);
      continue;
    }
    if (sharedCount >= INTERN_MAX) {
      shared.clear();
      sharedCount = 0;
    }
    if (same) same.push(c);
    else shared.set(h, [c]);
    sharedCount += 1;
    out.set(name, c);
  }
  return overBase(table, out);
}

/** Below this many chains a table keeps its own map. */
const OVERLAY_MIN_CHAINS = 256;
/** A table keeps its own map (and becomes the next base) when more than this share of its chains differ. */
const OVERLAY_MAX_DIFF = 1 / 8;
/** Per table, the last interned chain map that is not itself an overlay. */
const bases = new Map<TableName, Map<string, MutChain>>();

// The table as its differences from the base, when they are few (chain-overlay.ts).
function overBase(table: TableName, out: Map<string, MutChain>): ReadonlyMap<string, MutChain> {
  if (out.size < OVERLAY_MIN_CHAINS) return out;
  const base = bases.get(table);
  if (base) {
    const limit = out.size * OVERLAY_MAX_DIFF;
    const own = new Map<string, MutChain>();
    for (const [k, c] of out) {
      if (base.get(k) === c) continue;
      own.set(k, c);
      if (own.size > limit) break;
    }
    if (own.size <= limit) {
      const gone = new Set<string>();
      for (const k of base.keys()) if (!out.has(k)) gone.add(k);
      if (gone.size <= limit) return new ChainOverlay(base, own, gone);
    }
  }
  bases.set(table, out);
  return out;
}
