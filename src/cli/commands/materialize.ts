/**
 * @module cli/commands/materialize
 * `podwire materialize [-f FILE...] --script | --apply [--prefix P] [-o json] | --destroy
 * [--prefix P]` and `podwire verify [-f FILE...] [--flows FILE] [--probes N] [--prefix P]`
 * (CLI.md "materialize"): the topology in real network namespaces, and the emulator held to it.
 */
import type { Command } from "commander";
import { load as yamlLoad } from "js-yaml";
import { applyPlan, destroyPrefix, materializeUnavailable } from "../../materialize/apply.js";
import { checkPrefix, materializePlan, MaterializeError } from "../../materialize/plan.js";
import { planScript } from "../../materialize/script.js";
import { defaultFlows, openLab, verifyTable, type Flow } from "../../materialize/verify.js";
import { TraceInputError } from "../../trace/endpoints.js";
import { loadTopologyFiles } from "../topology-input.js";
import { UsageError, type CliIo } from "../io.js";

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function guard<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof MaterializeError || e instanceof TraceInputError) throw new UsageError(e.message);
    throw e;
  }
}

/** Reads a flows file: a YAML list of `{from, to, proto}`. */
export function parseFlows(text: string, file: string): Flow[] {
  let doc: unknown;
  try {
    doc = yamlLoad(text);
  } catch (e) {
    const m = e as { mark?: { line: number }; reason?: string };
    throw new UsageError(`${file}:${(m.mark?.line ?? 0) + 1}: ${m.reason ?? "not YAML"}`);
  }
  if (!Array.isArray(doc)) throw new UsageError(`${file}: must be a list of flows ({from, to, proto})`);
  return doc.map((f, i) => {
    const r = f as Record<string, unknown>;
    if (typeof r["from"] !== "string" || typeof r["to"] !== "string") throw new UsageError(`${file}: flows[${i}]: needs from and to (strings)`);
    const proto = r["proto"] ?? "tcp";
    if (proto !== "tcp" && proto !== "udp") throw new UsageError(`${file}: flows[${i}].proto: "${String(proto)}" must be tcp or udp`);
    return { from: r["from"], to: r["to"], proto };
  });
}

/** Registers `materialize` and `verify`. */
export function register(program: Command, io: CliIo): void {
  program
    .command("materialize")
    .description("build the topology in real network namespaces (root), print the script, or remove it")
    .option("-f, --file <file>", "topology file or directory (repeatable; - is stdin)", collect)
    .option("--script", "print a bash script that builds it")
    .option("--apply", "build it now (root)")
    .option("--destroy", "remove exactly the namespaces the prefix owns")
    .option("--prefix <p>", "namespace prefix", "pw")
    .option("-o, --output <format>", "text | json", "text")
    .action((opts: { file?: string[]; script?: boolean; apply?: boolean; destroy?: boolean; prefix: string; output: string }) => {
      const modes = [opts.script, opts.apply, opts.destroy].filter(Boolean).length;
      if (modes !== 1) throw new UsageError("materialize: give exactly one of --script, --apply or --destroy");
      if (!["text", "json"].includes(opts.output)) throw new UsageError(`-o: "${opts.output}" must be text or json`);
      const prefix = guard(() => checkPrefix(opts.prefix));
      if (opts.destroy) {
        const why = materializeUnavailable();
        if (why) throw new UsageError(`materialize --destroy: ${why}`);
        const gone = destroyPrefix(prefix);
        io.stdout(opts.output === "json" ? `${JSON.stringify({ prefix, removed: gone })}\n` : `removed ${gone.length} namespaces${gone.length > 0 ? `: ${gone.join(" ")}` : ""}\n`);
        return;
      }
      const t = loadTopologyFiles(io, opts.file);
      const plan = guard(() => materializePlan(t, prefix));
      if (opts.script) {
        io.stdout(planScript(plan));
        return;
      }
      guard(() => applyPlan(plan));
      io.stdout(opts.output === "json" ? `${JSON.stringify(plan.manifest, null, 2)}\n` : `materialized ${plan.namespaces.length} namespaces (${prefix}-*); remove them with: podwire materialize --destroy --prefix ${prefix}\n`);
    });

  program
    .command("verify")
    .description("materialize, probe with real packets, trace the same flows, compare; exit 1 on any disagreement")
    .option("-f, --file <file>", "topology file or directory (repeatable; - is stdin)", collect)
    .option("--flows <file>", "a YAML list of {from, to, proto} (default: a generated set)")
    .option("--probes <n>", "real packets per flow", "3")
    .option("--prefix <p>", "namespace prefix", "pwv")
    .option("-o, --output <format>", "text | json", "text")
    .action(async (opts: { file?: string[]; flows?: string; probes: string; prefix: string; output: string }) => {
      if (!/^\d+$/.test(opts.probes) || Number(opts.probes) < 1 || Number(opts.probes) > 50) throw new UsageError(`--probes: "${opts.probes}" must be 1–50`);
      if (!["text", "json"].includes(opts.output)) throw new UsageError(`-o: "${opts.output}" must be text or json`);
      const prefix = guard(() => checkPrefix(opts.prefix));
      const why = materializeUnavailable();
      if (why) throw new UsageError(`verify: ${why}`);
      const t = loadTopologyFiles(io, opts.file);
      let flows: Flow[];
      if (opts.flows !== undefined) {
        const file = opts.flows;
        let text: string;
        try {
          text = (io.readFile as (p: string) => string)(file);
        } catch (e) {
          throw new UsageError(`--flows ${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        }
        flows = parseFlows(text, file);
      } else flows = defaultFlows(t);
      const lab = await guard(() => openLab(t, prefix));
      let rows;
      try {
        rows = flows.map((f) => guard(() => lab.check(f, Number(opts.probes))));
      } finally {
        lab.close();
      }
      io.stdout(opts.output === "json" ? `${JSON.stringify({ schema: "podwire.dev/verify/v1", rows }, null, 2)}\n` : verifyTable(rows));
      if (rows.some((r) => !r.agree)) throw new UsageError(`verify: ${rows.filter((r) => !r.agree).length} of ${rows.length} flows disagree`);
    });
}
