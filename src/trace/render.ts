/**
 * @module trace/render
 * A trace as people read it (verdict first in one line, hops numbered and grouped by machine,
 * rules in iptables-save syntax with table/chain/position, the 5-tuple marked where it changes,
 * the VXLAN outer header at the encapsulation, the reply as its own section, then why — in
 * Kubernetes terms) and as `podwire.dev/trace/v1` JSON (CLI.md). Colour is emphasis only, and off
 * unless asked for.
 */
import type { Hop, PathOutcome, TraceResult } from "./tracer.js";

/** Rendering options. */
export interface TextOptions {
  readonly color?: boolean;
}

const at = (ip: string | undefined, port: number | null | undefined): string => `${ip ?? "?"}${port != null ? `:${port}` : ""}`;

function headline(o: PathOutcome): string {
  switch (o.verdict) {
    case "delivered": {
      const d = o.delivered;
      const who = d ? (d.kind === "pod" ? `pod ${d.namespace}/${d.name} on ${d.node ?? "?"}` : `${d.kind} ${d.name}`) : "?";
      return `reached ${who} at ${at(d?.ip, d?.port)}, which saw the source ${at(o.observedSource?.ip, o.observedSource?.port)}`;
    }
    case "rejected":
      return `rejected on ${o.drop?.node ?? o.drop?.netns ?? "?"}${o.drop?.chain ? ` by ${o.drop.table} ${o.drop.chain}` : ""}: ${o.reply ? `the sender got ${/^[AEIOU]/.test(o.reply.what) ? "an" : "a"} ${o.reply.what}` : "refused"}`;
    case "dropped":
      return `dropped on ${o.drop?.node ?? o.drop?.netns ?? "?"} (${o.drop?.stage ?? "?"}${o.drop?.chain ? `: ${o.drop.table} ${o.drop.chain}` : ""})`;
    case "no-route":
      return `no route on ${o.drop?.node ?? o.drop?.netns ?? "?"}`;
    case "loop":
      return "looped (hop limit)";
  }
}

function hopLines(hops: readonly Hop[], start: number, paint: (s: string, code: string) => string): { lines: string[]; next: number } {
  const lines: string[] = [];
  let n = start;
  let place = "";
  for (const h of hops) {
    if (h.where !== place) {
      place = h.where;
      lines.push(`  ${paint(h.where, "1")}${h.node && !h.where.startsWith("node ") ? `  (on ${h.node})` : ""}`);
    }
    const mark = h.changed ? paint("*", "33") : " ";
    lines.push(`  ${String(n).padStart(4)} ${mark} ${h.event.padEnd(16)} ${h.event === "drop" ? paint(h.detail, "31") : h.detail}`);
    if (h.packet && (h.event === "transmit" || h.event === "vxlan encap" || h.event === "deliver")) lines.push(`${" ".repeat(26)}${h.packet}`);
    for (const r of h.rules ?? []) {
      const pos = `${r.table} ${r.chain} #${r.index}`;
      lines.push(`${" ".repeat(26)}${pos.padEnd(34)} ${r.rule ?? `(policy)`}`);
      lines.push(`${" ".repeat(26)}${" ".repeat(34)} → ${r.verdict}`);
    }
    n += 1;
  }
  return { lines, next: n };
}

/** The text rendering. */
export function traceText(t: TraceResult, opts: TextOptions = {}): string {
  const paint = (s: string, code: string): string => (opts.color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const r = t.request;
  const pkt = r.proto === "icmp" ? `icmp ${r.src} > ${r.dst}` : `${r.proto} ${r.src}:${r.sport} > ${r.dst}:${r.dport}`;
  const v = t.verdict.toUpperCase();
  const out: string[] = [`${paint(v, t.verdict === "delivered" ? "1;32" : "1;31")}  ${pkt}  ${headline(t)}`];
  if (t.reply) out.push(`  reply: ${t.reply.what} ${t.reply.verdict}${t.reply.observedSource ? `, from ${at(t.reply.observedSource.ip, t.reply.observedSource.port)}` : t.reply.drop ? `: ${t.reply.drop.reason}` : ""}`);
  const src = t.source.kind === "external" ? `${t.source.ip} arriving at ${t.source.node}'s eth0` : `${t.source.kind} ${t.source.kind === "pod" ? `${t.source.namespace}/` : ""}${t.source.name}`;
  out.push("", `${paint("request", "1")}: ${src} → ${r.to}`);
  const req = hopLines(t.hops, 1, paint);
  out.push(...req.lines);
  if (t.reply && t.reply.hops.length > 0) {
    out.push("", `${paint("reply", "1")}: ${t.reply.what}`);
    out.push(...hopLines(t.reply.hops, req.next, paint).lines);
  }
  if (t.nat.length > 0) {
    out.push("", paint("nat", "1"));
    for (const n of t.nat) out.push(`  ${n.type.padEnd(10)} ${n.from} → ${n.to}  on ${n.node ?? "?"}${n.rule ? `\n${" ".repeat(13)}${n.rule}` : ""}`);
  }
  if (t.explanation.length > 0) out.push("", paint("why", "1"), ...t.explanation.map((l) => `  - ${l}`));
  if (t.paths) {
    out.push("", paint(`all paths (${t.paths.length})`, "1"));
    for (const p of t.paths) out.push(`  ${(p.probability * 100).toFixed(2).padStart(6)}%  ${p.verdict.padEnd(9)} ${headline(p)}`);
  }
  return `${out.join("\n")}\n`;
}

function outcomeJson(o: PathOutcome): Record<string, unknown> {
  return {
    verdict: o.verdict,
    delivered: o.delivered ? { kind: o.delivered.kind, ...(o.delivered.namespace ? { namespace: o.delivered.namespace } : {}), name: o.delivered.name, node: o.delivered.node ?? null, ip: o.delivered.ip, port: o.delivered.port, socket: o.delivered.socket } : null,
    observedSource: o.observedSource,
    drop: o.drop ? { node: o.drop.node, netns: o.drop.netns, stage: o.drop.stage, table: o.drop.table ?? null, chain: o.drop.chain ?? null, rule: o.drop.rule ?? null, reason: o.drop.reason } : null,
    reply: o.reply ? { verdict: o.reply.verdict, what: o.reply.what, observedSource: o.reply.observedSource, drop: o.reply.drop } : null,
    nat: o.nat,
    explanation: o.explanation,
  };
}

const hopJson = (h: Hop): Record<string, unknown> => ({ node: h.node, netns: h.netns, device: h.device, event: h.event, packet: h.packet, detail: h.detail, ...(h.rules ? { rules: h.rules } : {}), ...(h.changed ? { changed: true } : {}) });

/** The `podwire.dev/trace/v1` JSON object. */
export function traceJson(t: TraceResult): Record<string, unknown> {
  const r = t.request;
  return {
    schema: "podwire.dev/trace/v1",
    packet: { proto: r.proto, src: r.proto === "icmp" ? r.src : `${r.src}:${r.sport}`, dst: r.proto === "icmp" ? r.dst : `${r.dst}:${r.dport}` },
    from: r.from,
    to: r.to,
    ...outcomeJson(t),
    hops: t.hops.map(hopJson),
    replyHops: t.reply?.hops.map(hopJson) ?? [],
    ...(t.paths ? { paths: t.paths.map((p) => ({ probability: p.probability, ...outcomeJson(p) })) } : {}),
  };
}
