/**
 * @module netfilter/rule-parse
 * Parses the arguments of one rule (everything after `-A CHAIN`) into a typed `Rule`, the way
 * iptables' `do_command4` does: generic options (`-s -d -i -o -p -f`), `-m MODULE` followed by
 * its options, the implicit protocol match (`-p tcp --dport 80` loads `-m tcp` at the point the
 * option is met), then `-j/-g TARGET` and the target's options.
 */
import { parseCidrLoose } from "../net/cidr.js";
import { MATCH_MODULES } from "./matches/registry.js";
import type { GivenOption } from "./matches/module.js";
import { type Match, type Rule, type RuleBase, type Target } from "./model.js";
import { parseUint } from "./text.js";
import { TARGET_OPTIONS, buildTarget } from "./targets.js";

/** Protocol names iptables prints (xtables' own list, then /etc/protocols for the rest). */
export const PROTO_NAMES: ReadonlyMap<number, string> = new Map([
  [1, "icmp"],
  [2, "igmp"],
  [4, "ipencap"],
  [6, "tcp"],
  [17, "udp"],
  [41, "ipv6"],
  [47, "gre"],
  [50, "esp"],
  [51, "ah"],
  [58, "ipv6-icmp"],
  [112, "vrrp"],
  [132, "sctp"],
  [136, "udplite"],
]);
const PROTO_BY_NAME: ReadonlyMap<string, number> = new Map([...[...PROTO_NAMES].map(([n, s]) => [s, n] as const), ["all", 0]]);

/** Target extensions podwire parses and prints verbatim but does not evaluate. */
const EXTENSION_TARGETS = new Set(["AUDIT", "CHECKSUM", "CLASSIFY", "CONNSECMARK", "DSCP", "ECN", "HMARK", "IDLETIMER", "LED", "NETMAP", "NOTRACK", "RATEEST", "SECMARK", "SET", "SYNPROXY", "TCPMSS", "TCPOPTSTRIP", "TEE", "TOS", "TPROXY", "TTL", "ULOG"]);

/** The slot a match's options are collected into before it is built. */
interface Slot {
  readonly module: string;
  readonly opts: GivenOption[];
  readonly raw: string[];
}

/** Where the rule goes, for the checks iptables makes against the chain. */
export interface RuleContext {
  readonly table: string;
  readonly chain: string;
  /** Is this name a chain of the table (so `-j NAME` is a jump)? */
  readonly isChain: (name: string) => boolean;
  readonly line: number;
}

const FLAG_OPTS = new Set(["-s", "--source", "--src", "-d", "--destination", "--dst", "-i", "--in-interface", "-o", "--out-interface", "-p", "--protocol", "-f", "--fragment", "-m", "--match", "-j", "--jump", "-g", "--goto", "-c", "--set-counters"]);

function protoNumber(s: string): number | undefined {
  return PROTO_BY_NAME.get(s.toLowerCase()) ?? parseUint(s, 255);
}

function optionOwner(slots: readonly Slot[], name: string): Slot | undefined {
  for (let i = slots.length - 1; i >= 0; i--) {
    const s = slots[i] as Slot;
    const mod = MATCH_MODULES.get(s.module);
    if (mod && name in mod.options) return s;
  }
  return undefined;
}

/** A rule's base tests while its arguments are read (one object per rule, not one per option). */
type BaseFields = { -readonly [K in keyof RuleBase]: RuleBase[K] };

/** The base of every rule without base tests: NO_BASE_TESTS's fields, not frozen (one object shape for every base). */
const EMPTY_BASE: RuleBase = { src: undefined, dst: undefined, in: undefined, out: undefined, proto: undefined, frag: undefined };

/** Protocol tests (`-p tcp`, `! -p udp`), one object per number and sense. */
const PROTO_TESTS = new Map<number, NonNullable<RuleBase["proto"]>>();

function protoTest(num: number, neg: boolean): NonNullable<RuleBase["proto"]> {
  const k = num * 2 + (neg ? 1 : 0);
  let t = PROTO_TESTS.get(k);
  if (!t) {
    t = { num, neg };
    PROTO_TESTS.set(k, t);
  }
  return t;
}

/** Parses rule arguments into a Rule, or returns an error message. */
export function parseRuleArgs(args: readonly string[], ctx: RuleContext): Rule | string {
  const base: BaseFields = { src: undefined, dst: undefined, in: undefined, out: undefined, proto: undefined, frag: undefined };
  const slots: Slot[] = [];
  let targetName: string | undefined;
  let goto = false;
  const targetOpts: GivenOption[] = [];
  let neg = false;
  for (let i = 0; i < args.length; i++) {
    const tok = args[i] as string;
    if (tok === "!") {
      neg = true;
      continue;
    }
    if (targetName !== undefined) {
      if (!tok.startsWith("--")) return `unexpected argument "${tok}" after -j ${targetName}`;
      const name = tok.slice(2);
      const arity = TARGET_OPTIONS[targetName]?.[name];
      if (arity === undefined && (TARGET_OPTIONS[targetName] || ctx.isChain(targetName) || goto)) {
        return `unknown option "${tok}" for target ${targetName}`;
      }
      const n = arity ?? countArgs(args, i);
      const a = args.slice(i + 1, i + 1 + n);
      if (a.length < n) return `option "${tok}" needs an argument`;
      targetOpts.push({ name, args: a, neg });
      i += n;
      neg = false;
      continue;
    }
    if (FLAG_OPTS.has(tok)) {
      const takesArg = tok !== "-f" && tok !== "--fragment";
      const arg = takesArg ? args[i + 1] : "";
      if (arg === undefined) return `option "${tok}" needs an argument`;
      if (takesArg) i++;
      if (tok === "-c" || tok === "--set-counters") i++;
      if (tok === "-j" || tok === "--jump" || tok === "-g" || tok === "--goto") {
        targetName = arg;
        goto = tok === "-g" || tok === "--goto";
      } else {
        const err = applyFlag(tok, neg, arg, base, slots, ctx);
        if (err !== undefined) return err;
      }
      neg = false;
      continue;
    }
    if (!tok.startsWith("--")) return `unexpected argument "${tok}"`;
    const name = tok.slice(2);
    let slot = optionOwner(slots, name);
    if (!slot) {
      const pname = base.proto ? PROTO_NAMES.get(base.proto.num) : undefined;
      const implicit = pname ? MATCH_MODULES.get(pname) : undefined;
      if (implicit && name in implicit.options && !slots.some((s) => s.module === pname)) {
        slot = { module: implicit.name, opts: [], raw: [] };
        slots.push(slot);
      }
    }
    if (!slot) {
      const last = slots[slots.length - 1];
      if (last && !MATCH_MODULES.has(last.module)) {
        const n = countArgs(args, i);
        last.raw.push(...(neg ? ["!"] : []), tok, ...args.slice(i + 1, i + 1 + n));
        i += n;
        neg = false;
        continue;
      }
      return `unknown option "${tok}"`;
    }
    if (slot.opts.some((o) => o.name === name)) return `${slot.module}: option "${tok}" can only be used once`;
    const arity = MATCH_MODULES.get(slot.module)?.options[name] ?? 0;
    const a = args.slice(i + 1, i + 1 + arity);
    if (a.length < arity) return `option "${tok}" needs an argument`;
    slot.opts.push({ name, args: a, neg });
    i += arity;
    neg = false;
  }
  return finishRule(base, slots, targetName, goto, targetOpts, ctx);
}

/** For unknown modules and targets: the arguments of an option run until the next option. */
function countArgs(args: readonly string[], i: number): number {
  let n = 0;
  while (i + 1 + n < args.length && !(args[i + 1 + n] as string).startsWith("-") && args[i + 1 + n] !== "!") n++;
  return n;
}

// A generic option other than -j/-g, written into `base` (or a new match slot); an error message, or undefined.
function applyFlag(tok: string, neg: boolean, arg: string, base: BaseFields, slots: Slot[], ctx: RuleContext): string | undefined {
  switch (tok) {
    case "-s":
    case "--source":
    case "--src":
    case "-d":
    case "--destination":
    case "--dst": {
      const c = parseCidrLoose(arg);
      if (!c.ok) return `host/network ${c.error}`;
      if (neg && c.value.len === 0) return `"! ${tok} ${arg}" can never match; the kernel (nf_tables) refuses it`;
      const t = { cidr: c.value, neg };
      if (tok.startsWith("-s") || tok.startsWith("--s")) base.src = t;
      else base.dst = t;
      return undefined;
    }
    case "-i":
    case "--in-interface":
      if (ctx.chain === "OUTPUT" || ctx.chain === "POSTROUTING") return `Can't use -i with ${ctx.chain}`;
      base.in = { name: arg, neg };
      return undefined;
    case "-o":
    case "--out-interface":
      if (ctx.chain === "INPUT" || ctx.chain === "PREROUTING") return `Can't use -o with ${ctx.chain}`;
      base.out = { name: arg, neg };
      return undefined;
    case "-p":
    case "--protocol": {
      const num = protoNumber(arg);
      if (num === undefined) return `unknown protocol "${arg}" specified`;
      base.proto = protoTest(num, neg);
      return undefined;
    }
    case "-f":
    case "--fragment":
      base.frag = { neg };
      return undefined;
    case "-m":
    case "--match":
      slots.push({ module: arg, opts: [], raw: [] });
      return undefined;
    default:
      // -c / --set-counters: counters are not kept.
      return undefined;
  }
}

function finishRule(base: BaseFields, slots: readonly Slot[], targetName: string | undefined, goto: boolean, targetOpts: readonly GivenOption[], ctx: RuleContext): Rule | string {
  const matches: Match[] = [];
  const proto = base.proto && !base.proto.neg ? base.proto.num : 0;
  for (const s of slots) {
    const mod = MATCH_MODULES.get(s.module);
    if (!mod) {
      matches.push({ kind: "unknown", module: s.module, args: s.raw });
      continue;
    }
    if ((s.module === "tcp" || s.module === "udp" || s.module === "icmp") && PROTO_NAMES.get(proto) !== s.module) {
      return `-m ${s.module} needs -p ${s.module}`;
    }
    const m = mod.build(s.opts, { proto });
    if (typeof m === "string") return `${s.module}: ${m}`;
    matches.push(m);
  }
  let target: Target | undefined;
  if (targetName !== undefined) {
    const isChain = ctx.isChain(targetName);
    if (goto && !isChain) return `goto to unknown chain "${targetName}"`;
    const t = buildTarget(targetName, targetOpts, goto, isChain, proto);
    if (typeof t === "string") return t;
    if ((t.kind === "DNAT" || t.kind === "SNAT" || t.kind === "MASQUERADE" || t.kind === "REDIRECT") && ctx.table !== "nat") {
      return `${t.kind} is only valid in the nat table`;
    }
    if (t.kind === "unknown" && !EXTENSION_TARGETS.has(targetName)) {
      return `jump to unknown chain "${targetName}" (no such chain in table ${ctx.table}, and no target extension of that name)`;
    }
    target = t;
  }
  const none = base.src === undefined && base.dst === undefined && base.in === undefined && base.out === undefined && base.proto === undefined && base.frag === undefined;
  return { base: none ? EMPTY_BASE : base, matches, target, line: ctx.line };
}
