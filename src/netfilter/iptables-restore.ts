/**
 * @module netfilter/iptables-restore
 * Parses iptables-restore input (and iptables-save output, which is valid input): `*table`,
 * `:CHAIN POLICY [packets:bytes]`, `-A/-I/-D/-N/-X/-F/-P` lines, `[p:b]` counter prefixes, and
 * `COMMIT`. Like the real tool it works table by table and refuses the whole input on the first
 * problem, naming the line (k8s `utiliptables.ParseError` style).
 *
 * With `noflush` (kube-proxy's `iptables-restore --noflush`), tables and chains the input does
 * not declare are kept from `base`; a declared chain is flushed and rewritten.
 */
import type { Chain, Ruleset, Table, TableName } from "./model.js";
import { BUILTIN_CHAINS, TABLE_ORDER, isTableName } from "./model.js";
import { parseRuleArgs } from "./rule-parse.js";
import { formatRuleSpec } from "./iptables-save.js";
import { tokenize } from "./text.js";
import { appendCached, endRun, FNV_BASIS, INTERN_MAX, internChains, newRun, ownCopy, rememberAppend, type MutChain } from "./restore-intern.js";

/** A problem in the input, with its 1-based line number. */
export interface RestoreIssue {
  readonly line: number;
  readonly message: string;
}

export type RestoreResult = { readonly ok: true; readonly ruleset: Ruleset } | { readonly ok: false; readonly issue: RestoreIssue };

/** Options for `parseRestore`. */
export interface RestoreOptions {
  /** Existing state to apply the input to (default: empty). */
  readonly base?: Ruleset;
  /** Keep chains the input does not declare (`--noflush`). Default false. */
  readonly noflush?: boolean;
  /**
   * Share rule objects, and whole chains, with earlier parses of the same lines (many nodes, one
   * kube-proxy text: restore-intern.ts). A shared rule keeps the line number of the text it was
   * first parsed from; an input that fails is parsed again without sharing, so the error names
   * its own line.
   */
  readonly intern?: boolean;
}

const MAX_CHAIN_NAME = 28;

function emptyTable(name: TableName): Map<string, MutChain> {
  const m = new Map<string, MutChain>();
  for (const c of BUILTIN_CHAINS[name]) {
    m.set(c, { name: c, policy: "ACCEPT", counters: ZERO, rules: [], h: FNV_BASIS, hashed: 0 });
  }
  return m;
}

function copyTable(t: Table): Map<string, MutChain> {
  return copyChains(t.chains);
}

// Chains to change in this parse: new objects (interned ones are shared with other nodes).
function copyChains(chains: ReadonlyMap<string, Chain | MutChain>): Map<string, MutChain> {
  const m = new Map<string, MutChain>();
  for (const [n, c] of chains) {
    const h = "hashed" in c && c.hashed === c.rules.length ? c.h : FNV_BASIS;
    const hashed = "hashed" in c && c.hashed === c.rules.length ? c.hashed : -1;
    m.set(n, { name: c.name, ...(c.policy ? { policy: c.policy } : {}), counters: c.counters, rules: [...c.rules], h, hashed });
  }
  return m;
}

/**
 * Parses iptables-restore text into a ruleset, or the first problem with its line number. The text
 * may come as its lines (a writer's line buffer: kube-proxy's), each a string of its own.
 */
export function parseRestore(text: string | readonly string[], opts: RestoreOptions = {}): RestoreResult {
  const r = parseOnce(text, opts);
  return r.ok || opts.intern !== true ? r : parseOnce(text, { ...opts, intern: false });
}

function parseOnce(text: string | readonly string[], opts: RestoreOptions): RestoreResult {
  const tables = new Map<TableName, ReadonlyMap<string, MutChain>>();
  for (const [n, t] of opts.base?.tables ?? []) {
    tables.set(n, copyTable(t));
  }
  // `deleted`: a chain was deleted in this section, so a jump may have lost its target.
  let cur: { name: TableName; chains: Map<string, MutChain>; line: number; deleted: boolean } | undefined;
  const fail = (line: number, message: string): RestoreResult => ({ ok: false, issue: { line, message } });
  // Lines split from one text are slices of it: what is kept across parses is copied first.
  const slices = typeof text === "string";
  const lines = slices ? text.split("\n") : text;
  let lastLine = 1;
  // Consecutive `-A` lines met before are found through each other (restore-intern.ts).
  const run = newRun();
  for (let ln = 1; ln <= lines.length; ln++) {
    let line = trimmed(lines[ln - 1] as string);
    if (line === "" || line.startsWith("#")) continue;
    lastLine = ln;
    if (line.startsWith("*")) {
      endRun(run);
      if (cur) return fail(ln, `table "${cur.name}" (line ${cur.line}) has no COMMIT before the next table`);
      const name = line.slice(1).trim();
      if (!isTableName(name)) return fail(ln, `unknown table "${name}" (expected one of ${TABLE_ORDER.join(", ")})`);
      const existing = tables.get(name);
      // A table met again in the same input starts from its first section, copied if interned.
      cur = { name, chains: opts.noflush && existing ? (opts.intern !== true && existing instanceof Map ? existing : copyChains(existing)) : emptyTable(name), line: ln, deleted: false };
      continue;
    }
    if (!cur) return fail(ln, `"${line.split(/\s+/)[0] ?? ""}" outside a table: expected a "*table" line first`);
    if (line === "COMMIT") {
      endRun(run);
      // Every jump named an existing chain when it was added; only a deletion can leave one dangling.
      const bad = cur.deleted ? checkJumps(cur.chains) : undefined;
      if (bad) return fail(bad.line, bad.message);
      tables.set(cur.name, opts.intern === true ? internChains(cur.name, cur.chains) : cur.chains);
      cur = undefined;
      continue;
    }
    if (line.startsWith(":")) {
      endRun(run);
      // Lines of their own (not slices) are remembered when interning: each node's text declares the same chains.
      const seen = opts.intern === true && !slices ? declaredLines.get(line) : undefined;
      const d = seen ?? chainDeclaration(line, opts.intern === true && slices);
      if (!d) return fail(ln, `bad chain line "${line}" (expected ":NAME POLICY [packets:bytes]")`);
      const err = declareChain(cur.name, cur.chains, d.name, d.policy, d.counters);
      if (err) return fail(ln, err);
      if (!seen && opts.intern === true && !slices) {
        if (declaredLines.size >= INTERN_MAX) declaredLines.clear();
        declaredLines.set(line, d);
      }
      continue;
    }
    if (line.startsWith("[")) {
      const m = /^\[\d+:\d+\]\s+(.*)$/.exec(line);
      if (!m) return fail(ln, `bad counters prefix in "${line}"`);
      line = m[1] ?? "";
    }
    if (opts.intern === true) {
      // Any other command ends the run in rememberAppend below (it may change the chains).
      if (line.startsWith("-A ") && appendCached(cur.name, cur.chains, line, run)) continue;
      // What is kept across parses must not hold slices of this text (they would keep all of it).
      if (slices) line = ownCopy(line);
    }
    const toks = tokenize(line);
    if (typeof toks === "string") return fail(ln, toks);
    if (toks[0] === "-X" || toks[0] === "--delete-chain") cur.deleted = true;
    const err = applyCommand(cur.name, cur.chains, toks, ln);
    if (err) return fail(ln, err);
    if (opts.intern === true) rememberAppend(cur.name, cur.chains, toks, line, run);
  }
  if (cur) return fail(lastLine, `table "${cur.name}" (line ${cur.line}) is missing its COMMIT`);
  return { ok: true, ruleset: freeze(tables) };
}

interface Declaration {
  readonly name: string;
  readonly policy: string;
  readonly counters: readonly [number, number];
}
const declaredLines = new Map<string, Declaration>();

// `:NAME POLICY [packets:bytes]`. A chain name is a slice of the input: when chains are kept across
// parses (`copy`) it is copied, or every node's chain map would keep that node's whole text alive.
function chainDeclaration(line: string, copy: boolean): Declaration | undefined {
  const m = /^:(\S+)\s+(\S+)(?:\s+\[(\d+):(\d+)\])?$/.exec(line);
  if (!m) return undefined;
  const [, declared = "", policy = "", p = "0", b = "0"] = m;
  return { name: copy ? ownCopy(declared) : declared, policy, counters: p === "0" && b === "0" ? ZERO : [Number(p), Number(b)] };
}
const ZERO: readonly [number, number] = [0, 0];

// `s.trim()`, without making a new string when there is nothing to trim (a new string would be
// hashed again by the cache lookups below: a kube-proxy text's lines have no surrounding space).
function trimmed(s: string): string {
  if (s.length === 0) return s;
  const a = s.charCodeAt(0);
  const z = s.charCodeAt(s.length - 1);
  return a > 32 && a < 127 && z > 32 && z < 127 ? s : s.trim();
}

function declareChain(table: TableName, chains: Map<string, MutChain>, name: string, policy: string, counters: readonly [number, number]): string | undefined {
  const builtin = (BUILTIN_CHAINS[table] as readonly string[]).includes(name);
  if (builtin) {
    if (policy !== "ACCEPT" && policy !== "DROP") return `bad policy "${policy}" for built-in chain ${name} (ACCEPT or DROP)`;
    chains.set(name, { name, policy, counters, rules: [], h: FNV_BASIS, hashed: 0 });
    return undefined;
  }
  if (policy !== "-") return `user chain ${name} cannot have a policy ("${policy}"); write "-"`;
  if (name.length > MAX_CHAIN_NAME) return `chain name "${name}" is longer than ${MAX_CHAIN_NAME} characters`;
  if (name.startsWith("-") || name.startsWith("!")) return `invalid chain name "${name}"`;
  chains.set(name, { name, counters, rules: [], h: FNV_BASIS, hashed: 0 });
  return undefined;
}

function applyCommand(table: TableName, chains: Map<string, MutChain>, toks: readonly string[], ln: number): string | undefined {
  const [cmd, chainName, ...rest] = toks;
  if (chainName === undefined && cmd !== "-F" && cmd !== "-X") return `"${cmd ?? ""}" needs a chain name`;
  const chain = chainName === undefined ? undefined : chains.get(chainName);
  switch (cmd) {
    case "-A":
    case "--append":
    case "-I":
    case "--insert": {
      if (!chain) return `chain "${chainName ?? ""}" does not exist in table ${table}`;
      let args = rest;
      let pos = cmd === "-A" || cmd === "--append" ? chain.rules.length : 0;
      if ((cmd === "-I" || cmd === "--insert") && /^\d+$/.test(rest[0] ?? "")) {
        pos = Number(rest[0]) - 1;
        args = rest.slice(1);
        if (pos < 0 || pos > chain.rules.length) return `index of insertion too big`;
      }
      const rule = parseRuleArgs(args, { table, chain: chain.name, isChain: (n) => chains.has(n), line: ln });
      if (typeof rule === "string") return rule;
      // An append leaves the chain's hash one rule short: rememberAppend brings it up to date.
      if (pos === chain.rules.length) chain.rules.push(rule);
      else {
        chain.rules.splice(pos, 0, rule);
        chain.hashed = -1;
      }
      return undefined;
    }
    case "-D":
    case "--delete": {
      // By number or by rule specification (the first rule that prints the same), as iptables -D.
      if (!chain) return `chain "${chainName ?? ""}" does not exist in table ${table}`;
      if (rest.length === 1 && /^\d+$/.test(rest[0] ?? "")) {
        const n = Number(rest[0]);
        if (n < 1 || n > chain.rules.length) return `Index of deletion too big`;
        chain.rules.splice(n - 1, 1);
        chain.hashed = -1;
        return undefined;
      }
      const rule = parseRuleArgs(rest, { table, chain: chain.name, isChain: (n) => chains.has(n), line: ln });
      if (typeof rule === "string") return rule;
      const spec = formatRuleSpec(rule);
      const i = chain.rules.findIndex((r) => formatRuleSpec(r) === spec);
      if (i < 0) return `Bad rule (does a matching rule exist in that chain?)`;
      chain.rules.splice(i, 1);
      chain.hashed = -1;
      return undefined;
    }
    case "-N":
    case "--new-chain":
      if (chains.has(chainName ?? "")) return `chain "${chainName ?? ""}" already exists`;
      return declareChain(table, chains, chainName ?? "", "-", [0, 0]);
    case "-F":
    case "--flush":
      for (const c of chainName === undefined ? chains.values() : chain ? [chain] : []) {
        c.rules = [];
        c.h = FNV_BASIS;
        c.hashed = 0;
      }
      return chainName !== undefined && !chain ? `chain "${chainName}" does not exist` : undefined;
    case "-X":
    case "--delete-chain":
      return deleteChains(table, chains, chainName);
    case "-P":
    case "--policy":
      if (!chain || !chain.policy) return `"${chainName ?? ""}" is not a built-in chain of table ${table}`;
      if (rest[0] !== "ACCEPT" && rest[0] !== "DROP") return `bad policy "${rest[0] ?? ""}" (ACCEPT or DROP)`;
      chain.policy = rest[0];
      return undefined;
    default:
      return `unknown command "${cmd ?? ""}" (expected -A, -I, -D, -N, -X, -F or -P)`;
  }
}

function deleteChains(table: TableName, chains: Map<string, MutChain>, name: string | undefined): string | undefined {
  const victims = name === undefined ? [...chains.values()].filter((c) => !c.policy) : [chains.get(name)];
  for (const c of victims) {
    if (!c) return `chain "${name ?? ""}" does not exist in table ${table}`;
    if (c.policy) return `cannot delete built-in chain ${c.name}`;
    for (const other of chains.values()) {
      if (other !== c && other.rules.some((r) => (r.target?.kind === "JUMP" || r.target?.kind === "GOTO") && r.target.chain === c.name)) {
        if (name !== undefined) return `cannot delete chain ${c.name}: it is still referenced from ${other.name}`;
      }
    }
    chains.delete(c.name);
  }
  return undefined;
}

function checkJumps(chains: Map<string, MutChain>): RestoreIssue | undefined {
  for (const c of chains.values()) {
    for (const r of c.rules) {
      if ((r.target?.kind === "JUMP" || r.target?.kind === "GOTO") && !chains.has(r.target.chain)) {
        return { line: r.line, message: `jump to chain "${r.target.chain}", which no longer exists at COMMIT` };
      }
    }
  }
  return undefined;
}

function freeze(tables: Map<TableName, ReadonlyMap<string, MutChain>>): Ruleset {
  const out = new Map<TableName, Table>();
  for (const name of TABLE_ORDER) {
    const t = tables.get(name);
    if (t) out.set(name, { name, chains: t as ReadonlyMap<string, Chain> });
  }
  return { tables: out };
}
