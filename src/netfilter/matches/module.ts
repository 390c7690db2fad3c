/**
 * @module netfilter/matches/module
 * The contract every match module implements: which options it takes (and how many arguments
 * each), how to build the typed match from the options given on one rule, and how iptables-save
 * prints it back. Modules are registered in a literal table (`registry.ts`); a module missing
 * from it still parses (kept verbatim) and a trace says it cannot evaluate it.
 */
import type { Match } from "../model.js";

/** One option as written on the rule: `[!] --name arg…`. */
export interface GivenOption {
  readonly name: string;
  readonly args: readonly string[];
  readonly neg: boolean;
}

/** Build context: what the rule's base says, which some modules need. */
export interface BuildContext {
  /** The rule's `-p` protocol number (0 when absent). */
  readonly proto: number;
}

/** A match module. */
export interface MatchModule<M extends Match = Match> {
  readonly name: string;
  /** Option name (without `--`) → number of arguments. */
  readonly options: Readonly<Record<string, number>>;
  /** Builds the match or returns an error message naming the problem. */
  build(opts: readonly GivenOption[], ctx: BuildContext): M | string;
  /** The text iptables-save prints for the match, starting with ` -m name`. */
  save(m: M): string;
}

/** The inversion prefix iptables prints before an option. */
export function bang(neg: boolean | undefined): string {
  return neg ? " !" : "";
}
