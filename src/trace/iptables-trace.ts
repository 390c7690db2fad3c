/**
 * @module trace/iptables-trace
 * Offline tracing of a real `iptables-save` dump: one packet through the tables a real kernel
 * would use for a connection's first packet (netfilter/first-packet.ts), with one seeded
 * choice at each `statistic` rule or, with `allPaths`, every branch and its probability.
 * Renders the result as text for people and as `podwire.dev/iptables-trace/v1` JSON.
 */
import type { Ipv4 } from "../net/addr.js";
import { formatEndpoint, type Tuple } from "../net/tuple.js";
import { formatRule } from "../netfilter/iptables-save.js";
import type { Ruleset } from "../netfilter/model.js";
import { explore, randomChooser } from "../netfilter/explore.js";
import { traceFirstPacket, type FirstPacketResult } from "../netfilter/first-packet.js";
import type { RuleHit } from "../netfilter/traverse.js";
import { createRng } from "../sim/rng.js";

/** Inputs of an offline trace. */
export interface IptablesTraceInput {
  readonly ruleset: Ruleset;
  readonly tuple: Tuple;
  readonly local: readonly Ipv4[];
  /** Defaults: OUTPUT when the source is local, else PREROUTING. */
  readonly hook?: "PREROUTING" | "OUTPUT";
  readonly inIface?: string;
  readonly outIface?: string;
  readonly allPaths?: boolean;
  readonly seed?: number;
}

/** The result: the seeded (or first) path, and every path with `allPaths`. */
export interface IptablesTrace {
  readonly input: IptablesTraceInput;
  readonly hook: "PREROUTING" | "OUTPUT";
  readonly main: FirstPacketResult;
  readonly paths?: readonly { readonly probability: number; readonly result: FirstPacketResult }[];
}

/** Runs the trace. */
export function iptablesTrace(input: IptablesTraceInput): IptablesTrace {
  const hook = input.hook ?? (input.local.includes(input.tuple.src) ? "OUTPUT" : "PREROUTING");
  const fp = { ruleset: input.ruleset, tuple: input.tuple, hook, local: input.local, inIface: input.inIface ?? "eth0", outIface: input.outIface ?? "eth0" } as const;
  const rng = createRng(input.seed ?? 1);
  const main = traceFirstPacket(fp, randomChooser(() => rng.next()));
  if (!input.allPaths) return { input, hook, main };
  const paths = explore((choose) => traceFirstPacket(fp, choose));
  return { input, hook, main, paths };
}

function hitJson(h: RuleHit): Record<string, unknown> {
  return { table: h.table, chain: h.chain, index: h.index, rule: h.rule.line === 0 ? null : formatRule(h.chain, h.rule), verdict: h.verdict, ...(h.unknown ? { notEvaluated: h.unknown } : {}) };
}

function snatText(r: FirstPacketResult): string | null {
  if (!r.snat) return null;
  return r.snat.to === "masquerade" ? "masquerade" : r.snat.to;
}

/** The `podwire.dev/iptables-trace/v1` JSON object. */
export function iptablesTraceJson(t: IptablesTrace): Record<string, unknown> {
  const m = t.main;
  return {
    schema: "podwire.dev/iptables-trace/v1",
    packet: { proto: t.input.tuple.proto, src: formatEndpoint(t.input.tuple.src, t.input.tuple.sport), dst: formatEndpoint(t.input.tuple.dst, t.input.tuple.dport), hook: t.hook },
    verdict: m.verdict,
    delivery: m.delivery,
    ...(m.rejectWith ? { rejectWith: m.rejectWith } : {}),
    dnat: m.dnat?.to ?? null,
    snat: snatText(m),
    rules: m.steps.flatMap((s) => s.result.hits.map(hitJson)),
    notEvaluated: m.unknowns,
    ...(m.error ? { error: m.error } : {}),
    ...(t.paths
      ? { paths: t.paths.map((p) => ({ probability: p.probability, verdict: p.result.verdict, dnat: p.result.dnat?.to ?? null, snat: snatText(p.result) })) }
      : {}),
  };
}

function verdictLine(t: IptablesTrace): string {
  const m = t.main;
  const tu = t.input.tuple;
  const what = m.verdict === "accept" ? (m.delivery === "local" ? "ACCEPT, delivered locally" : "ACCEPT, forwarded") : m.verdict === "reject" ? `REJECT (${m.rejectWith ?? ""})` : m.verdict === "drop" ? "DROP" : `ERROR: ${m.error ?? ""}`;
  const nat: string[] = [];
  if (m.dnat) nat.push(`DNAT to ${m.dnat.to}`);
  if (m.snat) nat.push(m.snat.to === "masquerade" ? "MASQUERADE (address of the outgoing interface)" : `${m.snat.kind} to ${m.snat.to}`);
  return `${what}: ${tu.proto} ${formatEndpoint(tu.src, tu.sport)} > ${formatEndpoint(tu.dst, tu.dport)}${nat.length ? ` — ${nat.join(", ")}` : ""}`;
}

/** Human-readable text: verdict first, then every rule that matched, hook by hook. */
export function iptablesTraceText(t: IptablesTrace): string {
  const out = [verdictLine(t), `first packet of a new connection, entering at ${t.hook} (in ${t.input.inIface ?? "eth0"}, out ${t.input.outIface ?? "eth0"})`, ""];
  let lastHook = "";
  for (const s of t.main.steps) {
    if (s.result.hits.every((h) => h.rule.line === 0 && h.index === 1 && h.verdict === "policy ACCEPT")) continue;
    if (s.hook !== lastHook) {
      out.push(s.hook);
      lastHook = s.hook;
    }
    for (const h of s.result.hits) {
      // An empty built-in chain's policy is noise in text; JSON keeps it.
      if (h.rule.line === 0 && h.index === 1 && h.verdict === "policy ACCEPT") continue;
      const where = `${h.table} ${h.chain} #${h.index}`;
      const text = h.rule.line === 0 ? "(end of chain)" : formatRule(h.chain, h.rule);
      out.push(`  ${where.padEnd(34)} ${text}`);
      out.push(`  ${"".padEnd(34)} → ${h.verdict}${h.unknown ? ` — cannot evaluate ${h.unknown}` : ""}`);
    }
  }
  for (const u of t.main.unknowns) out.push(`note: ${u}`);
  if (t.paths) {
    out.push("", `all paths (${t.paths.length}):`);
    for (const p of t.paths) {
      const r = p.result;
      const nat = [r.dnat ? `DNAT ${r.dnat.to}` : "", snatText(r) ? `SNAT ${snatText(r) ?? ""}` : ""].filter(Boolean).join(", ");
      out.push(`  ${(p.probability * 100).toFixed(2).padStart(6)}%  ${r.verdict.toUpperCase()}${nat ? `  ${nat}` : ""}`);
    }
  }
  return `${out.join("\n")}\n`;
}
