/**
 * `npm run bench` — prints figures (never asserts them):
 *  - parse + index of a generated kube-proxy dump (default 10,000 Services × 10 endpoints),
 *    next to the real `iptables-restore` loading the same text into a throwaway namespace
 *    (root only; null otherwise), and the ratio;
 *  - first-packet trace latency through that ruleset (ClusterIP and NodePort), p50/p99, traces/s;
 *  - the real kernel answering new connections through a cluster IP with the same rules loaded
 *    (bench/kernel-first-packet.ts; root only), and podwire's ClusterIP p50 over it (ratio);
 *  - podwire's emulated kernels answering the same connection through the same two namespaces
 *    (send + drain on a copy of the network: the full packet path and its reply), and its ratio to
 *    the real kernel's;
 *  - cluster sizes (bench/cluster.ts, one child process each so peak RSS is its own): build +
 *    settle, one node's kube-proxy rules generated and parsed (and the real iptables-restore of
 *    them), full traces through the kernels.
 * Options: --quick (1,000 × 10; cluster size 20), --services N, --endpoints N, --json (one JSON
 * object per line), --sizes 100,1000,5000/150000/10000 (cluster sizes: nodes, with 30 pods a node
 * and a Service per 30 pods, or nodes/pods/Services), or --nodes N [--pods P --services S] for
 * one cluster size only.
 */
import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import type { Ipv4 } from "../src/net/addr.js";
import { fileURLToPath } from "node:url";
import { benchArgs } from "./args.js";
import { kernelFigures } from "./kernel-first-packet.js";
import { kubeProxyDump } from "./kube-proxy-dump.js";
import { podwireSameFlow } from "./same-flow.js";

// A cluster size runs in its own process with a heap limit above V8's default (about 4 GB here):
// peak RSS is reported, not capped, so a size that needs more is measured rather than aborted.
// Its young generation is 64 MB a semi-space instead of 16: a trace allocates about 250 KB, so
// with the default a scavenge lands every 60 or so traces and, with a large old generation, costs
// 2-11 ms; four times fewer of them cost about a third of the total scavenge time (measured at
// 300 and 1,000 nodes), and fewer traces pay one.
// And V8's allocation-site pretenuring is off: building the cluster makes every site that also
// allocates during a trace (namespace copies, hops, rule hits) look long-lived, so V8 allocates
// a trace's objects in the old generation, where, dead, they keep the young ones they point to
// alive through each scavenge. Measured at 100 nodes: each scavenge kept 4 MB and took 8-10 ms
// with it, 0.2 MB and 2.2 ms without; at 5,000 nodes 15-17 ms against 7; settle time unchanged.
// The README says so, for library users.
const CLUSTER_HEAP = ["--max-old-space-size=8192", "--max-semi-space-size=64", "--no-allocation-site-pretenuring"];

const args = benchArgs(process.argv.slice(2), "npm run bench --");
// One cluster size only: hand over to bench/cluster.ts.
if (args.nodes !== undefined) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...CLUSTER_HEAP, fileURLToPath(new URL("./cluster.ts", import.meta.url)), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(r.status ?? 1);
}

// Measure the code users run: the compiled library in dist/ (npm run bench builds it first).
type Lib = typeof import("../src/index.js");
const lib = (await import(new URL("../dist/index.js", import.meta.url).href)) as Lib;
const { parseRestore } = lib;
const { traceFirstPacket } = lib.netfilter;
const ip = lib.net.ip;
const createRng = lib.createRng;

const quick = args.quick;
const services = args.services ?? (quick ? 1000 : 10000);
const endpoints = args.endpoints ?? 10;
const json = args.json;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

const dump = kubeProxyDump({ services, endpointsPerService: endpoints, nodePortEvery: 4 });
global.gc?.();
const rss0 = process.memoryUsage().rss;
const t0 = performance.now();
const parsed = parseRestore(dump.text);
const parseSeconds = (performance.now() - t0) / 1000;
if (!parsed.ok) throw new Error(`generated dump did not parse: line ${parsed.issue.line}: ${parsed.issue.message}`);
const ruleset = parsed.ruleset;
const rssMB = Math.max(0, (process.memoryUsage().rss - rss0) / 1e6);
const mid = Math.floor(services / 2);
const kernel = await kernelFigures(dump.text, { clusterIp: dump.clusterIp(mid), port: 80, endpoints: dump.endpoints(mid), targetPort: 8080 });
const restoreSeconds = kernel?.restoreSeconds ?? null;

const local: Ipv4[] = [ip("192.168.1.10")];
const rng = createRng(1);
function traceTimes(kind: "clusterip" | "nodeport", n: number): number[] {
  const times: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = Math.floor(rng.next() * services);
    const tuple =
      kind === "clusterip"
        ? { proto: "tcp" as const, src: ip("10.244.0.5"), sport: 40000, dst: ip(dump.clusterIp(i)), dport: 80 }
        : { proto: "tcp" as const, src: ip("192.168.1.100"), sport: 40000, dst: ip("192.168.1.10"), dport: dump.nodePort(i - (i % 4)) };
    const s = performance.now();
    traceFirstPacket({ ruleset, tuple, hook: "PREROUTING", local, inIface: "eth0", outIface: "eth0" }, () => rng.next() < 0.5);
    times.push((performance.now() - s) * 1000);
  }
  return times.sort((a, b) => a - b);
}
traceTimes("clusterip", 50); // warm-up
const rows = (["clusterip", "nodeport"] as const).map((kind) => {
  const tt = traceTimes(kind, quick ? 300 : 1000);
  const total = tt.reduce((a, b) => a + b, 0);
  return { kind, p50: percentile(tt, 0.5), p99: percentile(tt, 0.99), perSecond: tt.length / (total / 1e6) };
});

// The kernel's flow through podwire's kernels (bench/same-flow.ts), to the same Service.
const sameFlowUs = podwireSameFlow(lib, { rules: dump.text }, { clusterIp: dump.clusterIp(mid), port: 80, endpoints: dump.endpoints(mid), targetPort: 8080 }, quick ? 400 : 2000);

const result = {
  services,
  endpoints: services * endpoints,
  ruleLines: dump.lines,
  parseSeconds: Number(parseSeconds.toFixed(3)),
  parseRssMB: Number(rssMB.toFixed(0)),
  restoreSeconds: restoreSeconds === null ? null : Number(restoreSeconds.toFixed(3)),
  parseToRestoreRatio: restoreSeconds === null ? null : Number((parseSeconds / restoreSeconds).toFixed(3)),
  traceP50us: Number((rows[0]?.p50 ?? 0).toFixed(1)),
  traceP99us: Number((rows[0]?.p99 ?? 0).toFixed(1)),
  nodePortTraceP50us: Number((rows[1]?.p50 ?? 0).toFixed(1)),
  nodePortTraceP99us: Number((rows[1]?.p99 ?? 0).toFixed(1)),
  tracesPerSecond: Math.round(rows[0]?.perSecond ?? 0),
  kernelFirstPacketUs: kernel?.firstPacketUs == null ? null : Math.round(kernel.firstPacketUs),
  kernelFloorUs: kernel?.floorUs == null ? null : Math.round(kernel.floorUs),
  traceToKernelRatio: kernel?.firstPacketUs ? Number(((rows[0]?.p50 ?? 0) / kernel.firstPacketUs).toFixed(3)) : null,
  sameFlowUs: sameFlowUs === null ? null : Math.round(sameFlowUs),
  sameFlowToKernelRatio: kernel?.firstPacketUs && sameFlowUs !== null ? Number((sameFlowUs / kernel.firstPacketUs).toFixed(2)) : null,
};
if (json) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const lines = [
    `kube-proxy dump: ${services} Services × ${endpoints} endpoints = ${result.ruleLines} lines`,
    `  podwire parse + index     ${result.parseSeconds.toFixed(3)} s   (+${result.parseRssMB} MB RSS)`,
    `  real iptables-restore     ${result.restoreSeconds === null ? "n/a (needs root and namespaces)" : `${result.restoreSeconds.toFixed(3)} s`}`,
    `  ratio podwire / real      ${result.parseToRestoreRatio ?? "n/a"}`,
    `first-packet trace (PREROUTING → nat → filter → POSTROUTING):`,
    `  ClusterIP   p50 ${result.traceP50us} µs   p99 ${result.traceP99us} µs   ${result.tracesPerSecond} traces/s`,
    `  NodePort    p50 ${result.nodePortTraceP50us} µs   p99 ${result.nodePortTraceP99us} µs`,
    `real kernel, one new connection through a cluster IP with these rules loaded (connect → SYN-ACK, p50):`,
    `  with rules  ${result.kernelFirstPacketUs ?? "n/a"} µs   floor without rules ${result.kernelFloorUs ?? "n/a"} µs   podwire ClusterIP p50 / kernel ${result.traceToKernelRatio ?? "n/a"}`,
    `podwire, the same connection through the same two namespaces (emulated kernels, on a copy each time):`,
    `  p50 ${result.sameFlowUs ?? "failed (no SYN-ACK back)"} µs   podwire / kernel ${result.sameFlowToKernelRatio ?? "n/a"}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

// Cluster sizes, each in its own process.
const sizes = args.sizes ?? [{ nodes: quick ? 20 : 100 }];
if (!json) process.stdout.write("clusters (build + settle, one node's kube-proxy rules, traces through the kernels):\n");
for (const size of sizes) {
  const counts = [...(size.pods !== undefined ? ["--pods", String(size.pods)] : []), ...(size.services !== undefined ? ["--services", String(size.services)] : []), ...(args.traces !== undefined ? ["--traces", String(args.traces)] : [])];
  const r = spawnSync(process.execPath, [...process.execArgv, ...CLUSTER_HEAP, fileURLToPath(new URL("./cluster.ts", import.meta.url)), "--nodes", String(size.nodes), ...counts, ...(json ? ["--json"] : [])], { encoding: "utf8", timeout: 3_600_000, maxBuffer: 1 << 26 });
  process.stdout.write(r.status === 0 ? r.stdout : `  ${size.nodes} nodes: failed (${(r.stderr ?? "").trim().split("\n").pop() ?? r.status})\n`);
}
