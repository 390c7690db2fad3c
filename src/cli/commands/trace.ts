/**
 * @module cli/commands/trace
 * `podwire trace [-f FILE...] --from SRC --to DST [--proto tcp|udp|icmp] [--sport N]
 * [--at node/NAME] [--all-paths] [--seed N] [-o text|json]` (CLI.md "trace"). Without
 * `--from`/`--to` it traces a representative flow of the topology (a pod to a Service) and says so.
 */
import type { Command } from "commander";
import type { Pod, Service } from "../../cluster/api/types.js";
import type { Proto } from "../../net/tuple.js";
import { TraceInputError } from "../../trace/endpoints.js";
import { traceJson, traceText } from "../../trace/render.js";
import { trace } from "../../trace/tracer.js";
import type { Topology } from "../../topology/build.js";
import { loadTopologyFiles } from "../topology-input.js";
import { UsageError, type CliIo } from "../io.js";

interface TraceOpts {
  file?: string[];
  from?: string;
  to?: string;
  proto: string;
  sport?: string;
  at?: string;
  allPaths?: boolean;
  seed: string;
  output: string;
}

/** A pod → Service flow of the topology: a running pod outside kube-system to a Service of another app. */
export function representativeFlow(t: Topology): { from: string; to: string; proto: Proto } | undefined {
  const pods = (t.cluster.list("Pod") as Pod[]).filter((p) => p.status?.phase === "Running" && !p.spec.hostNetwork);
  const services = (t.cluster.list("Service") as Service[]).filter((s) => s.spec.clusterIP && s.spec.clusterIP !== "None" && s.metadata.name !== "kubernetes" && (s.spec.ports?.length ?? 0) > 0);
  const pod = pods.find((p) => p.metadata.namespace !== "kube-system" && !services.some((s) => s.spec.selector && Object.entries(s.spec.selector).every(([k, v]) => p.metadata.labels?.[k] === v))) ?? pods[0];
  const svc = services.find((s) => s.metadata.namespace !== "kube-system" && (s.spec.type ?? "ClusterIP") === "ClusterIP") ?? services[0];
  if (!pod || !svc) return undefined;
  const port = svc.spec.ports?.[0];
  return { from: `pod/${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`, to: `svc/${svc.metadata.namespace ?? "default"}/${svc.metadata.name}:${port?.port ?? 80}`, proto: (port?.protocol ?? "TCP").toLowerCase() as Proto };
}

/** Registers `trace`. */
export function register(program: Command, io: CliIo): void {
  program
    .command("trace")
    .description("trace a packet and its reply through the topology, device by device and rule by rule")
    .option("-f, --file <file>", "topology file or directory (repeatable; - is stdin)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--from <src>", "pod/[NS/]NAME, node/NAME, host/NAME or an IPv4 address")
    .option("--to <dst>", "IP:PORT, svc/[NS/]NAME:PORT, lb/[NS/]NAME:PORT, pod/…:PORT, node/NAME:PORT, host/NAME:PORT, NAME.NS.svc.cluster.local:PORT")
    .option("--proto <proto>", "tcp | udp | icmp", "tcp")
    .option("--sport <port>", "source port (default: seeded, 32768–60999)")
    .option("--at <node>", "node/NAME where a bare outside address enters")
    .option("--all-paths", "explore every random branch and report each outcome with its probability")
    .option("--seed <n>", "seed for random choices", "1")
    .option("-o, --output <format>", "text | json", "text")
    .action((opts: TraceOpts) => {
      if (!["tcp", "udp", "icmp"].includes(opts.proto)) throw new UsageError(`--proto: "${opts.proto}" must be tcp, udp or icmp`);
      if (!["text", "json"].includes(opts.output)) throw new UsageError(`-o: "${opts.output}" must be text or json`);
      if (!/^\d+$/.test(opts.seed)) throw new UsageError(`--seed: "${opts.seed}" must be a whole number`);
      if (opts.sport !== undefined && (!/^\d+$/.test(opts.sport) || Number(opts.sport) < 1 || Number(opts.sport) > 65535)) throw new UsageError(`--sport: "${opts.sport}" must be 1–65535`);
      if ((opts.from === undefined) !== (opts.to === undefined)) throw new UsageError(opts.from === undefined ? "--from: give it with --to (or neither, for a representative flow)" : "--to: give it with --from (or neither, for a representative flow)");
      const t = loadTopologyFiles(io, opts.file);
      let from = opts.from;
      let to = opts.to;
      let proto = opts.proto as Proto;
      let notice = "";
      if (from === undefined || to === undefined) {
        const f = representativeFlow(t);
        if (!f) throw new UsageError("trace: the topology has no running pod and Service to trace between; give --from and --to");
        ({ from, to, proto } = f);
        notice = `No --from/--to given: tracing ${from} → ${to} (${proto}), a representative flow of the topology.\n\n`;
      }
      let result;
      try {
        result = trace(t, { from, to, proto, ...(opts.sport !== undefined ? { sport: Number(opts.sport) } : {}), ...(opts.at !== undefined ? { at: opts.at } : {}), allPaths: opts.allPaths === true, seed: Number(opts.seed) });
      } catch (e) {
        if (e instanceof TraceInputError) throw new UsageError(e.message);
        throw e;
      }
      if (opts.output === "json") io.stdout(`${JSON.stringify(traceJson(result), null, 2)}\n`);
      else io.stdout(notice + traceText(result, { color: io.isTTY && io.env["NO_COLOR"] === undefined }));
    });
}
