/**
 * One cluster size, measured (`npm run bench -- --nodes N --pods P --services S --json`): build and
 * settle a generated topology (bench/cluster-gen.ts) and its peak RSS; kube-proxy's rule
 * generation for one node and podwire's parse of it, next to the real `iptables-restore` of the
 * same text in a throwaway namespace (root only, else null); full traces (the kernels, not just
 * netfilter) for ClusterIP, NodePort, LoadBalancer and cross-node pod flows: p50/p99 and traces
 * per second, warm (nodes already synced) and cold (first reach of a node pays its sync). Prints one JSON object with the issue's fields, or a table row.
 * `kernelFirstPacketUs`: the real kernel answering a new connection through a ClusterIP with the
 * node's rules loaded (bench/kernel-first-packet.ts; null when not root), to the Service whose
 * rule is in the middle of nat KUBE-SERVICES; `sameFlowUs`: podwire answering that same
 * connection through the same two namespaces (bench/same-flow.ts), and its ratio to the kernel's.
 */
import { performance } from "node:perf_hooks";
import { benchArgs } from "./args.js";
import { clusterYaml } from "./cluster-gen.js";
import { kernelFigures } from "./kernel-first-packet.js";
import { referenceMs, spread } from "./machine.js";
import { podwireSameFlow } from "./same-flow.js";

type Lib = typeof import("../src/index.js");
const lib = (await import(new URL("../dist/index.js", import.meta.url).href)) as Lib;

const args = benchArgs(process.argv.slice(2), "bench/cluster");
const nodes = args.nodes ?? 100;
const pods = args.pods ?? nodes * 30;
const services = args.services ?? Math.max(1, Math.round(pods / 30));
const json = args.json;
/** Traces per flow kind (each set run cold, then warm). */
const tracesPerKind = args.traces ?? 60;
/**
 * Warm-up passes over each set before the warm figures. V8 optimises a function once it has run
 * enough, and a trace calls many functions once or a few times (resolving its ends, cloning the
 * network, explaining the hops): measured at 100 and 1,000 nodes, the p50 falls pass after pass
 * for about 30 passes of 60 traces (1,800 traces), then stays flat (at 100 nodes 386 µs in the
 * first warm pass, 234 µs in the fifth, 150 µs from the 30th on). The figures are that steady
 * state, over the next `MEASURED_PASSES`; `earlyP50us` is the p50 of passes 2-5, what a user
 * tracing a few hundred flows gets.
 */
const WARMUP_TRACES = 2400;
const MEASURED_PASSES = 20;

const yaml = clusterYaml({ nodes, pods, services });
// The machine's speed (bench/machine.ts): before the settle, and before each measured trace pass.
const settleReferenceMs = referenceMs();
const passReferenceMs: number[] = [];
const t0 = performance.now();
const topo = (() => {
  try {
    return lib.loadTopologyText(yaml, "bench");
  } catch (e) {
    // A size the generator cannot lay out (bench/args.ts bounds the flags): one line, exit 1.
    if (!(e instanceof lib.TopologyError)) throw e;
    process.stderr.write(`bench/cluster: the generated topology at ${nodes} nodes, ${pods} pods, ${services} Services: ${e.message.split("\n")[0]}\n`);
    process.exit(1);
  }
})();
const settleSeconds = (performance.now() - t0) / 1000;
const settleRssMB = process.resourceUsage().maxRSS / 1024;
// Progress on stderr (a large size runs for minutes); stdout stays the one result line.
const progress = (what: string): void => void process.stderr.write(`[bench ${nodes} nodes] ${what} (${(performance.now() / 1000).toFixed(1)} s, peak ${Math.round(process.resourceUsage().maxRSS / 1024)} MB)\n`);
progress(`settled in ${settleSeconds.toFixed(1)} s`);

const node = "node-1";
// The node's first sync (kube-proxy's rules generated and restored into its netfilter, flannel,
// sockets), then another node's first sync (which reuses the service ports' lines the first wrote,
// and the rules parsed from them), then kube-proxy's generation alone (the view makes the text
// again from the sync's inputs), every line written afresh and then reusing the blocks.
// Each timing starts from a collected heap, so it is not billed for the settle's garbage (a full
// collection of a 4 GB heap takes seconds here); what it allocates itself is still collected in it.
global.gc?.();
const s0 = performance.now();
topo.dataplane.node(node);
const nodeSyncSeconds = (performance.now() - s0) / 1000;
global.gc?.();
const n0 = performance.now();
topo.dataplane.node("node-2");
const nextNodeSyncSeconds = (performance.now() - n0) / 1000;
global.gc?.();
const g0 = performance.now();
const restore = topo.dataplane.kubeProxyRules(node, { shared: false }).restore;
const generateSeconds = (performance.now() - g0) / 1000;
const r0 = performance.now();
void topo.dataplane.kubeProxyRules(node).lines;
const sharedGenerateSeconds = (performance.now() - r0) / 1000;
const ruleLines = restore.split("\n").length;
global.gc?.();
const p0 = performance.now();
const parsed = lib.parseRestore(restore);
const parseSeconds = (performance.now() - p0) / 1000;
if (!parsed.ok) throw new Error(`kube-proxy's rules did not parse: ${parsed.issue.message}`);

const allPods = topo.cluster.list("Pod").filter((p) => p.status?.podIP && !p.spec.hostNetwork);
const svcs = topo.cluster.list("Service").filter((s) => s.metadata.name.startsWith("app-"));
const onNode1 = allPods.find((p) => p.spec.nodeName === node);
const elsewhere = allPods.filter((p) => p.spec.nodeName !== node);
if (!onNode1 || elsewhere.length === 0) {
  process.stderr.write(`bench/cluster: ${pods} pods over ${nodes} nodes left ${onNode1 ? "no pod on any other node" : `no pod on ${node}`}, which the pod flows start from; give more --pods\n`);
  process.exit(1);
}
// The real kernel with node-1's rules: iptables-restore, and new connections through a cluster IP.
// The kernel walks nat KUBE-SERVICES in order for a new connection, so the Service probed is the
// one whose cluster-IP rule sits in the middle of that chain (its typical case; the first Service
// would be its best), found in the text itself.
const natText = restore.slice(restore.indexOf("*nat\n"));
const servicesRules = natText.slice(0, natText.indexOf("\nCOMMIT")).split("\n").filter((l) => l.startsWith("-A KUBE-SERVICES "));
const clusterIpRules = servicesRules.map((l, i) => ({ i, m: / cluster IP" .*-d (\d+\.\d+\.\d+\.\d+)(?:\/32)? .*--dport (\d+)/.exec(l) })).filter((x) => x.m);
const probeRule = clusterIpRules[Math.floor(clusterIpRules.length / 2)];
const probeSvc = probeRule && svcs.find((x) => x.spec.clusterIP === probeRule.m?.[1]);
const probeSlices = probeSvc
  ? topo.cluster.list("EndpointSlice").filter((sl) => sl.metadata.labels?.["kubernetes.io/service-name"] === probeSvc.metadata.name && (sl.metadata.namespace ?? "default") === (probeSvc.metadata.namespace ?? "default"))
  : [];
const probeEps = probeSlices.flatMap((sl) => sl.endpoints.flatMap((e) => e.addresses));
const probeTarget =
  probeSvc && probeRule && probeEps.length > 0 ? { clusterIp: probeSvc.spec.clusterIP as string, port: Number(probeRule.m?.[2]), endpoints: probeEps, targetPort: probeSlices[0]?.ports?.[0]?.port ?? 8080 } : undefined;
// kube-proxy's restore text has no jumps from the built-in chains (it adds those with `iptables -I`).
const probeRules = { rules: restore.replace(/^\*filter\n/, "*filter\n:KUBE-SERVICES - [0:0]\n"), then: '*nat\n-I OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n-I POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING\nCOMMIT\n' };
const kernel = await kernelFigures(probeRules.rules, probeTarget, { then: probeRules.then });
const restoreSeconds = kernel?.restoreSeconds ?? null;

const flows: Record<string, () => { from: string; to: string }> = {
  clusterip: () => ({ from: `pod/${onNode1?.metadata.name}`, to: `svc/${svcs[Math.floor(Math.random() * svcs.length)]?.metadata.name}:80` }),
  nodeport: () => {
    const s = svcs.filter((x) => x.spec.type === "NodePort");
    return { from: "host/client", to: `node/${node}:${s[Math.floor(Math.random() * s.length)]?.spec.ports?.[0]?.nodePort ?? 0}` };
  },
  loadbalancer: () => {
    const s = svcs.filter((x) => x.status?.loadBalancer?.ingress?.[0]?.ip);
    return { from: "host/client", to: `lb/${s[Math.floor(Math.random() * s.length)]?.metadata.name}:80` };
  },
  // A pod on another node, drawn per trace as the Services' endpoints are: one fixed pair would
  // keep its destination node's state in the CPU's caches (measured at 100 nodes: best-pass p50
  // 125 µs to one pod, 170-190 µs to 60 pods on different nodes).
  crossnode: () => ({ from: `pod/${onNode1?.metadata.name}`, to: `pod/${elsewhere[Math.floor(Math.random() * elsewhere.length)]?.metadata.name}:8080` }),
};
const pct = (a: number[], p: number): number => a[Math.min(a.length - 1, Math.floor(p * a.length))] ?? 0;
const stats = (times: number[]): { p50: number; p99: number; perSecond: number } => {
  const t = [...times].sort((a, b) => a - b);
  return { p50: pct(t, 0.5), p99: pct(t, 0.99), perSecond: t.length / (t.reduce((a, b) => a + b, 0) / 1e6) };
};
// Each flow set runs first "cold": that pass includes bringing each node a packet first reaches
// up to date (its kube-proxy rules compiled and restored, lazily); then "warm": the same traces
// again, the cost of a trace once the nodes it crosses are synced.
const traces: Record<string, { p50: number; p99: number; perSecond: number; coldP50: number; coldP99: number; earlyP50: number; bestPassP50: number }> = {};
for (const [kind, mk] of Object.entries(flows)) {
  // A small size may have no Service of a type (every 4th is a NodePort, every 16th a LoadBalancer).
  if (kind === "loadbalancer" && !svcs.some((x) => x.status?.loadBalancer?.ingress?.[0]?.ip)) continue;
  if (kind === "nodeport" && !svcs.some((x) => x.spec.type === "NodePort")) continue;
  const set = Array.from({ length: tracesPerKind }, () => mk());
  const pass = (): number[] =>
    set.map((f, i) => {
      const s = performance.now();
      lib.trace(topo, { ...f, seed: i });
      return (performance.now() - s) * 1000;
    });
  progress(`${kind} traces`);
  const cold = stats(pass());
  // Warm: the same set again until the JIT has settled (WARMUP_TRACES), then MEASURED_PASSES more.
  pass();
  const early = stats(Array.from({ length: 4 }, () => pass()).flat());
  for (let done = 5 * set.length; done < WARMUP_TRACES; done += set.length) pass();
  const measured = Array.from({ length: MEASURED_PASSES }, () => {
    passReferenceMs.push(referenceMs());
    return pass();
  });
  const warm = stats(measured.flat());
  // The p50 of the fastest pass: the traces' cost when the host left the machine alone (bench/machine.ts).
  const bestPassP50 = Math.min(...measured.map((p) => stats(p).p50));
  traces[kind] = { ...warm, coldP50: cold.p50, coldP99: cold.p99, earlyP50: early.p50, bestPassP50 };
}
// The kernel's flow, to the same Service, through podwire's kernels (bench/same-flow.ts): its
// same two namespaces with this node's rules, not the cluster (that is the traces above).
progress("same flow as the kernel's");
const sameFlowUs = probeTarget ? podwireSameFlow(lib, probeRules, probeTarget, 2000) : null;
const peakRssMB = process.resourceUsage().maxRSS / 1024;
// What stays after a full collection (the traces' copies are garbage): settled cluster plus the nodes synced so far.
global.gc?.();
const liveHeapMB = process.memoryUsage().heapUsed / 1e6;
const endpoints = topo.cluster.list("EndpointSlice").reduce((n, s) => n + s.endpoints.length, 0);
const result = {
  nodes,
  pods,
  services,
  endpoints,
  settleSeconds: Number(settleSeconds.toFixed(2)),
  peakRssMB: Math.round(peakRssMB),
  settleRssMB: Math.round(settleRssMB),
  liveHeapMB: Math.round(liveHeapMB),
  ruleLines,
  nodeSyncSeconds: Number(nodeSyncSeconds.toFixed(3)),
  nextNodeSyncSeconds: Number(nextNodeSyncSeconds.toFixed(3)),
  generateSeconds: Number(generateSeconds.toFixed(3)),
  sharedGenerateSeconds: Number(sharedGenerateSeconds.toFixed(3)),
  parseSeconds: Number(parseSeconds.toFixed(3)),
  restoreSeconds: restoreSeconds === null ? null : Number(restoreSeconds.toFixed(3)),
  traceP50us: Math.round(traces["clusterip"]?.p50 ?? 0),
  traceP99us: Math.round(traces["clusterip"]?.p99 ?? 0),
  tracesPerSecond: Math.round(traces["clusterip"]?.perSecond ?? 0),
  traces: Object.fromEntries(Object.entries(traces).map(([k, v]) => [k, { p50us: Math.round(v.p50), p99us: Math.round(v.p99), bestPassP50us: Math.round(v.bestPassP50), earlyP50us: Math.round(v.earlyP50), coldP50us: Math.round(v.coldP50), coldP99us: Math.round(v.coldP99) }])),
  kernelFirstPacketUs: kernel?.firstPacketUs == null ? null : Math.round(kernel.firstPacketUs),
  kernelFloorUs: kernel?.floorUs == null ? null : Math.round(kernel.floorUs),
  // The probe's cluster-IP rule: its 1-based position in nat KUBE-SERVICES, and that chain's length.
  kernelProbeRule: probeRule ? probeRule.i + 1 : null,
  kernelProbeChainRules: servicesRules.length,
  // A whole ClusterIP trace (pod on one node to an endpoint on another and back, hops rendered)
  // over the kernel's one new connection in two namespaces: not the same flow.
  traceToKernelRatio: kernel?.firstPacketUs ? Number(((traces["clusterip"]?.p50 ?? 0) / kernel.firstPacketUs).toFixed(2)) : null,
  sameFlowUs: sameFlowUs === null ? null : Math.round(sameFlowUs),
  sameFlowToKernelRatio: kernel?.firstPacketUs && sameFlowUs !== null ? Number((sameFlowUs / kernel.firstPacketUs).toFixed(2)) : null,
  // bench/machine.ts's fixed workload: once before the settle, and its spread over the measured passes.
  machineReferenceMs: { beforeSettle: Number(settleReferenceMs.toFixed(2)), passes: spread(passReferenceMs) },
};
if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  const t = Object.entries(result.traces).map(([k, v]) => `${k} ${v.p50us}/${v.p99us} µs (best pass p50 ${v.bestPassP50us}, early p50 ${v.earlyP50us}, cold ${v.coldP50us}/${v.coldP99us})`).join(", ");
  process.stdout.write(`${String(nodes).padStart(6)} nodes ${String(pods).padStart(7)} pods ${String(services).padStart(6)} svcs  settle ${result.settleSeconds} s  peak ${result.peakRssMB} MB (${result.settleRssMB} MB at settle, ${result.liveHeapMB} MB live at the end)  rules ${ruleLines} lines: node sync ${result.nodeSyncSeconds} s (next node ${result.nextNodeSyncSeconds} s), generate ${result.generateSeconds} s (reusing blocks ${result.sharedGenerateSeconds} s), parse ${result.parseSeconds} s, real restore ${result.restoreSeconds ?? "n/a"} s  warm trace p50/p99: ${t}  ${result.tracesPerSecond} traces/s  kernel new connection ${result.kernelFirstPacketUs ?? "n/a"} µs (floor ${result.kernelFloorUs ?? "n/a"}; KUBE-SERVICES rule ${result.kernelProbeRule ?? "n/a"} of ${result.kernelProbeChainRules}), ClusterIP trace/kernel ${result.traceToKernelRatio ?? "n/a"}, same flow ${result.sameFlowUs ?? "n/a"} µs, /kernel ${result.sameFlowToKernelRatio ?? "n/a"}, machine reference ${result.machineReferenceMs.passes.min}-${result.machineReferenceMs.passes.max} ms\n`);
}
