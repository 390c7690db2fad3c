/**
 * The bench's command line, one parser for `bench/run.ts` and `bench/cluster.ts` (which run.ts
 * hands a single size to). A bad flag or value stops the bench before it measures anything, with
 * commander's one-line error and exit code 1, not a stack trace part-way through or a run at a
 * size nobody asked for (`--nodes abc` used to reach the topology builder as NaN nodes).
 */
import { Command, InvalidArgumentError } from "commander";

export interface ClusterSize {
  readonly nodes: number;
  readonly pods?: number;
  readonly services?: number;
}

export interface BenchArgs {
  /** One cluster size only (bench/cluster.ts). */
  readonly nodes?: number;
  readonly pods?: number;
  readonly services?: number;
  /** The generated kube-proxy dump's endpoints per Service (run.ts). */
  readonly endpoints?: number;
  /** Traces per flow kind in a cluster size. */
  readonly traces?: number;
  /** Cluster sizes (run.ts): nodes, and pods and Services when given (else 30 pods a node, a Service per 30 pods). */
  readonly sizes?: readonly ClusterSize[];
  readonly quick: boolean;
  readonly json: boolean;
}

/**
 * The generated topologies' limits (bench/cluster-gen.ts): node-0 is the control plane and node-1
 * the node every size traces from, and 10.128.0.0/9 in /22s holds 8,192 nodes' pod subnets.
 */
export const MIN_NODES = 2;
export const MAX_NODES = 8192;

function integer(min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`expected a whole number, got "${v}".`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `expected at least ${min}, got ${n}.` : `expected ${min} to ${max}, got ${n}.`);
    return n;
  };
}

// `N` or `N/PODS/SERVICES`, comma-separated: `100,1000,5000/150000/10000` is the table.
function sizeList(v: string): ClusterSize[] {
  const nodes = integer(MIN_NODES, MAX_NODES);
  const count = integer(1);
  return v.split(",").map((entry) => {
    const parts = entry.trim().split("/");
    try {
      if (parts.length === 1) return { nodes: nodes(parts[0] as string) };
      if (parts.length === 3) return { nodes: nodes(parts[0] as string), pods: count(parts[1] as string), services: count(parts[2] as string) };
      throw new InvalidArgumentError("expected NODES or NODES/PODS/SERVICES.");
    } catch (e) {
      throw new InvalidArgumentError(`"${entry}" in the list: ${(e as Error).message}`);
    }
  });
}

/**
 * Parses `argv` (without node and the script); exits 1 with one line on stderr when it is bad, or
 * with `throwOnError` throws commander's error (its message is that line) for a caller to handle.
 */
export function benchArgs(argv: readonly string[], name: string, throwOnError = false): BenchArgs {
  const p = new Command(name)
    .description("prints podwire's speed and memory figures (never asserts them)")
    .option("--nodes <n>", `one cluster size only, in nodes (${MIN_NODES}-${MAX_NODES})`, integer(MIN_NODES, MAX_NODES))
    .option("--pods <n>", "pods in that cluster (default 30 a node)", integer(1))
    .option("--services <n>", "Services (cluster: default a pod in 30; dump: default 10,000)", integer(1))
    .option("--endpoints <n>", "endpoints per Service in the generated kube-proxy dump (default 10)", integer(1))
    .option("--traces <n>", "traces per flow kind in a cluster size (default 60)", integer(1))
    .option("--sizes <list>", "cluster sizes, comma-separated, each NODES or NODES/PODS/SERVICES (default 100)", sizeList)
    .option("--quick", "a small run: a 1,000-Service dump and a 20-node cluster", false)
    .option("--json", "one JSON object per line", false)
    .helpOption("-h, --help")
    .allowExcessArguments(false)
    .showHelpAfterError(false);
  if (throwOnError) p.exitOverride().configureOutput({ writeErr: () => undefined });
  p.parse([...argv], { from: "user" });
  const o = p.opts<BenchArgs>();
  if (o.pods !== undefined && o.nodes === undefined) p.error("error: --pods needs --nodes (it sizes one cluster)");
  return o;
}
