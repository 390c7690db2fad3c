/**
 * @module cli/commands/iptables
 * `podwire iptables trace` and `podwire iptables save`: offline work on a real iptables-save
 * dump (CLI.md, "Offline tracing of a real dump"). Without `--rules` they use the built-in sample
 * (node-1 of the two-node flannel cluster in docs, samples/node-1.rules).
 */
import type { Command } from "commander";
import { fileURLToPath } from "node:url";
import { parseIpv4, type Ipv4 } from "../../net/addr.js";
import type { Proto } from "../../net/tuple.js";
import { formatSave, parseRestore, type Ruleset } from "../../netfilter/index.js";
import { iptablesTrace, iptablesTraceJson, iptablesTraceText } from "../../trace/iptables-trace.js";
import { UsageError, type CliIo } from "../io.js";

/** The sample dump shipped with podwire. */
export const SAMPLE_RULES = fileURLToPath(new URL("../../../samples/node-1.rules", import.meta.url));
/** The sample node's own addresses (eth0, cni0, flannel.1, lo). */
const SAMPLE_LOCAL = "192.168.1.10,10.244.0.1,10.244.0.0";

function loadRules(io: CliIo, path: string | undefined): { ruleset: Ruleset; name: string } {
  const file = path ?? SAMPLE_RULES;
  let text: string;
  try {
    text = (io.readFile as (p: string) => string)(file === "-" ? "/dev/stdin" : file);
  } catch (e) {
    throw new UsageError(`cannot read --rules ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const r = parseRestore(text);
  if (!r.ok) throw new UsageError(`${file}:${r.issue.line}: ${r.issue.message}`);
  return { ruleset: r.ruleset, name: file };
}

function addr(flag: string, text: string): Ipv4 {
  const a = parseIpv4(text);
  if (!a.ok) throw new UsageError(`${flag}: ${a.error}`);
  return a.value;
}

function endpoint(flag: string, text: string, needPort: boolean): { ip: Ipv4; port: number | undefined } {
  const [host = "", port, extra] = text.split(":");
  if (extra !== undefined) throw new UsageError(`${flag}: "${text}" is not IP[:PORT]`);
  const ip = addr(flag, host);
  if (port === undefined) {
    if (needPort) throw new UsageError(`${flag}: "${text}" needs a port (IP:PORT)`);
    return { ip, port: undefined };
  }
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw new UsageError(`${flag}: port "${port}" must be 1–65535`);
  return { ip, port: Number(port) };
}

interface TraceOpts {
  rules?: string;
  src?: string;
  dst?: string;
  proto: string;
  hook?: string;
  local?: string;
  in: string;
  out: string;
  allPaths?: boolean;
  seed: string;
  output: string;
}

function runTrace(io: CliIo, o: TraceOpts): void {
  const { ruleset } = loadRules(io, o.rules);
  const sample = o.rules === undefined;
  if (!["tcp", "udp", "icmp"].includes(o.proto)) throw new UsageError(`--proto: "${o.proto}" must be tcp, udp or icmp`);
  const proto = o.proto as Proto;
  const srcText = o.src ?? (sample ? "192.168.1.100:40000" : undefined);
  const dstText = o.dst ?? (sample ? "192.168.1.10:30080" : undefined);
  if (srcText === undefined || dstText === undefined) throw new UsageError("--src and --dst are required with --rules");
  const src = endpoint("--src", srcText, false);
  const dst = endpoint("--dst", dstText, proto !== "icmp");
  const localText = o.local ?? (sample ? SAMPLE_LOCAL : "");
  const local = localText === "" ? [] : localText.split(",").map((a) => addr("--local", a.trim()));
  if (o.hook !== undefined && o.hook !== "PREROUTING" && o.hook !== "OUTPUT") throw new UsageError(`--hook: "${o.hook}" must be PREROUTING or OUTPUT`);
  if (!/^\d+$/.test(o.seed)) throw new UsageError(`--seed: "${o.seed}" must be a non-negative integer`);
  if (o.output !== "text" && o.output !== "json") throw new UsageError(`-o: "${o.output}" must be text or json`);
  const sport = src.port ?? (proto === "icmp" ? 1 : 40000);
  const t = iptablesTrace({
    ruleset,
    tuple: { proto, src: src.ip, sport, dst: dst.ip, dport: dst.port ?? sport },
    local,
    ...(o.hook ? { hook: o.hook as "PREROUTING" | "OUTPUT" } : {}),
    inIface: o.in,
    outIface: o.out,
    allPaths: Boolean(o.allPaths),
    seed: Number(o.seed),
  });
  if (o.output === "json") {
    io.stdout(`${JSON.stringify(iptablesTraceJson(t), null, 2)}\n`);
    return;
  }
  if (sample && o.src === undefined && o.dst === undefined) {
    io.stdout("No --rules/--src/--dst given: tracing an external client to NodePort 30080 through the built-in sample dump (node-1 of a two-node flannel cluster, samples/node-1.rules).\n\n");
  }
  io.stdout(iptablesTraceText(t));
}

/** Registers `iptables trace` and `iptables save`. */
export function register(program: Command, io: CliIo): void {
  const ipt = program.command("iptables").description("work offline on an iptables-save dump from any machine");
  ipt
    .command("trace")
    .description("trace a connection's first packet through a dump, rule by rule")
    .option("--rules <file>", "iptables-save dump (default: the built-in sample node)")
    .option("--src <ip[:port]>", "packet source")
    .option("--dst <ip:port>", "packet destination")
    .option("--proto <proto>", "tcp, udp or icmp", "tcp")
    .option("--hook <hook>", "PREROUTING (arriving) or OUTPUT (local); default from --local")
    .option("--local <ips>", "the machine's own addresses, comma-separated")
    .option("--in <iface>", "interface the packet arrives on", "eth0")
    .option("--out <iface>", "interface a forwarded packet leaves by", "eth0")
    .option("--all-paths", "explore every random branch and report each with its probability")
    .option("--seed <n>", "seed for random choices", "1")
    .option("-o, --output <format>", "text or json", "text")
    .action((o: TraceOpts) => runTrace(io, o));
  ipt
    .command("save")
    .description("print a dump as the real iptables-save would print it back")
    .option("--rules <file>", "iptables-restore input (default: the built-in sample node)")
    .option("-t, --table <table>", "only this table")
    .action((o: { rules?: string; table?: string }) => {
      const { ruleset } = loadRules(io, o.rules);
      io.stdout(formatSave(ruleset, o.table ? { table: o.table } : {}));
    });
}
