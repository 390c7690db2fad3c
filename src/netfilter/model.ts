/**
 * @module netfilter/model
 * The rule model: tables, chains, rules, and the match and target unions. It stands for the
 * kernel's x_tables (`struct ipt_entry` + `xt_entry_match` + `xt_entry_target`) as iptables-save
 * prints them. Rules keep their source line so errors and traces can point at it.
 *
 * Values are typed (addresses as uint32, ports as ranges, marks as value/mask) so evaluation never
 * re-reads text; the printer (`iptables-save.ts`) turns them back into the kernel's canonical text.
 */
import type { Cidr } from "../net/cidr.js";

/** The iptables tables, in the order `iptables-nft-save` prints them. */
export const TABLE_ORDER = ["mangle", "security", "raw", "filter", "nat"] as const;
export type TableName = (typeof TABLE_ORDER)[number];

/** The built-in chains of each table, in the order iptables lists them. */
export const BUILTIN_CHAINS: Readonly<Record<TableName, readonly Hook[]>> = {
  raw: ["PREROUTING", "OUTPUT"],
  mangle: ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
  nat: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
  filter: ["INPUT", "FORWARD", "OUTPUT"],
  security: ["INPUT", "FORWARD", "OUTPUT"],
};

/** Netfilter hooks. */
export type Hook = "PREROUTING" | "INPUT" | "FORWARD" | "OUTPUT" | "POSTROUTING";

/** An inclusive port range (a single port has lo === hi). */
export interface PortRange {
  readonly lo: number;
  readonly hi: number;
}

/** An address/prefix test, possibly negated. */
export interface AddrTest {
  readonly cidr: Cidr;
  readonly neg: boolean;
}

/** An interface-name test: `eth+` is a prefix wildcard. */
export interface IfaceTest {
  readonly name: string;
  readonly neg: boolean;
}

/** The fields every rule may test without a module (`-s -d -i -o -p -f`). */
/**
 * The tests iptables keeps in `struct ipt_ip`. Every field is present (undefined: no test), so
 * every rule's base has one object shape and the walk's reads of it stay monomorphic.
 */
export interface RuleBase {
  readonly src: AddrTest | undefined;
  readonly dst: AddrTest | undefined;
  readonly in: IfaceTest | undefined;
  readonly out: IfaceTest | undefined;
  /** Protocol number (0 = all) and whether the test is negated. */
  readonly proto: { readonly num: number; readonly neg: boolean } | undefined;
  readonly frag: { readonly neg: boolean } | undefined;
}

/** A rule base with no tests. */
export const NO_BASE_TESTS: RuleBase = Object.freeze({ src: undefined, dst: undefined, in: undefined, out: undefined, proto: undefined, frag: undefined });

/** Conntrack states as `--ctstate` names them (SNAT/DNAT are virtual states). */
export type CtState = "INVALID" | "NEW" | "ESTABLISHED" | "RELATED" | "UNTRACKED" | "SNAT" | "DNAT";

/** A negatable value. */
export interface Neg<T> {
  readonly v: T;
  readonly neg: boolean;
}

export type Match =
  | { readonly kind: "tcp"; readonly sport?: Neg<PortRange>; readonly dport?: Neg<PortRange>; readonly flags?: Neg<{ mask: number; comp: number }> }
  | { readonly kind: "udp"; readonly sport?: Neg<PortRange>; readonly dport?: Neg<PortRange> }
  | { readonly kind: "icmp"; readonly type?: Neg<{ type: number; code?: number; name?: string }> }
  | { readonly kind: "multiport"; readonly dir: "sports" | "dports" | "ports"; readonly ports: readonly PortRange[]; readonly neg: boolean }
  | { readonly kind: "comment"; readonly text: string }
  | { readonly kind: "statistic"; readonly mode: "random"; readonly probability: number; readonly neg: boolean }
  | { readonly kind: "statistic"; readonly mode: "nth"; readonly every: number; readonly packet: number; readonly neg: boolean }
  | { readonly kind: "mark" | "connmark"; readonly value: number; readonly mask: number; readonly neg: boolean }
  | { readonly kind: "conntrack"; readonly alias: "conntrack" | "state"; readonly tests: readonly CtTest[] }
  | { readonly kind: "addrtype"; readonly src?: Neg<readonly string[]>; readonly dst?: Neg<readonly string[]>; readonly limitIn: boolean; readonly limitOut: boolean }
  | RecentMatch
  | { readonly kind: "physdev"; readonly in?: Neg<string>; readonly out?: Neg<string>; readonly isIn?: boolean; readonly isOut?: boolean; readonly isBridged?: boolean; readonly negIsIn?: boolean; readonly negIsOut?: boolean; readonly negIsBridged?: boolean }
  | { readonly kind: "pkttype"; readonly type: string; readonly neg: boolean }
  | { readonly kind: "iprange"; readonly src?: Neg<{ from: number; to: number }>; readonly dst?: Neg<{ from: number; to: number }> }
  | { readonly kind: "limit"; readonly perSecond: number; readonly rateText: string; readonly burst: number }
  | { readonly kind: "nfacct"; readonly name: string }
  | { readonly kind: "set"; readonly name: string; readonly flags: readonly ("src" | "dst")[]; readonly neg: boolean; readonly extra: readonly string[] }
  | { readonly kind: "unknown"; readonly module: string; readonly args: readonly string[] };

/** One `--ct…` test inside a conntrack match. */
export type CtTest =
  | { readonly key: "ctstate"; readonly states: readonly CtState[]; readonly neg: boolean }
  | { readonly key: "ctproto"; readonly proto: number; readonly neg: boolean }
  /** Address tests keep host bits as written (`--ctorigdst 10.1.2.3/8` prints back as is); both sides are masked when compared. */
  | { readonly key: "ctorigsrc" | "ctorigdst" | "ctreplsrc" | "ctrepldst"; readonly addr: number; readonly len: number; readonly neg: boolean }
  | { readonly key: "ctorigsrcport" | "ctorigdstport" | "ctreplsrcport" | "ctrepldstport"; readonly range: PortRange; readonly neg: boolean }
  | { readonly key: "ctstatus"; readonly status: readonly string[]; readonly neg: boolean }
  | { readonly key: "ctexpire"; readonly range: PortRange; readonly neg: boolean }
  | { readonly key: "ctdir"; readonly dir: "ORIGINAL" | "REPLY" };

/** The `recent` match (xt_recent): per-name lists of source (or destination) addresses. */
export interface RecentMatch {
  readonly kind: "recent";
  readonly cmd: "set" | "rcheck" | "update" | "remove";
  readonly neg: boolean;
  readonly name: string;
  readonly seconds?: number;
  readonly reap: boolean;
  readonly hitcount?: number;
  readonly rttl: boolean;
  readonly mask: number;
  readonly side: "rsource" | "rdest";
}

/** A NAT range: addresses from..to and optional ports lo..hi. */
export interface NatRange {
  readonly from: number;
  readonly to: number;
  readonly ports?: PortRange;
}

export type Target =
  | { readonly kind: "ACCEPT" | "DROP" | "RETURN" | "QUEUE" | "TRACE" }
  | { readonly kind: "REJECT"; readonly with: string }
  | { readonly kind: "JUMP" | "GOTO"; readonly chain: string }
  | { readonly kind: "DNAT" | "SNAT"; readonly ranges: readonly NatRange[]; readonly random: boolean; readonly randomFully: boolean; readonly persistent: boolean }
  | { readonly kind: "MASQUERADE" | "REDIRECT"; readonly ports?: PortRange; readonly random: boolean; readonly randomFully: boolean }
  | { readonly kind: "MARK"; readonly value: number; readonly mask: number }
  | { readonly kind: "CONNMARK"; readonly mode: "set"; readonly value: number; readonly mask: number }
  | { readonly kind: "CONNMARK"; readonly mode: "save" | "restore"; readonly nfmask: number; readonly ctmask: number }
  | { readonly kind: "LOG"; readonly args: readonly string[] }
  | { readonly kind: "NFLOG"; readonly args: readonly string[] }
  | { readonly kind: "CT"; readonly notrack: boolean; readonly args: readonly string[] }
  | { readonly kind: "unknown"; readonly name: string; readonly args: readonly string[] };

/** A rule: base tests, matches in order, an optional target (a rule without -j only counts). */
export interface Rule {
  readonly base: RuleBase;
  readonly matches: readonly Match[];
  /** Present on every rule (undefined: no target), one object shape as for the base. */
  readonly target: Target | undefined;
  /** Line in the source text (1-based), 0 when built in code. */
  readonly line: number;
}

/** A chain. Built-in chains have a policy; user chains print as `-`. */
export interface Chain {
  readonly name: string;
  readonly policy?: "ACCEPT" | "DROP";
  readonly counters: readonly [number, number];
  readonly rules: readonly Rule[];
}

/** A table: chains by name in declaration order. */
export interface Table {
  readonly name: TableName;
  readonly chains: ReadonlyMap<string, Chain>;
}

/** A whole ruleset, as `iptables-save` covers it. */
export interface Ruleset {
  readonly tables: ReadonlyMap<TableName, Table>;
}

/** True for a table name iptables knows. */
export function isTableName(s: string): s is TableName {
  return (TABLE_ORDER as readonly string[]).includes(s);
}
