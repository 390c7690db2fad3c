/**
 * Scheduler filters and scores, one case per plugin, and the FitError text. The expected messages
 * are kube-scheduler's (v1.33 `FitError.Error()` with the DefaultPreemption post-filter tail, as
 * real `kubectl describe pod` shows: "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3
 * nodes are available: 3 No preemption victims found for incoming pod..").
 */
import { describe, expect, it } from "vitest";
import type { NodeSpec } from "../../src/cluster/cluster.js";
import fc from "fast-check";
import type { Node, Taint } from "../../src/cluster/api/types.js";
import type { NodeInfo } from "../../src/cluster/node-info.js";
import { podRequests } from "../../src/cluster/node-info.js";
import { filterNode, fitErrorMessage, numFeasibleNodesToFind, schedulePod, scoreNodes, selectHost } from "../../src/cluster/scheduler.js";
import { createRng } from "../../src/sim/rng.js";
import { firstUntolerated, preferredAffinityScore } from "../../src/cluster/taints.js";
import { event } from "../../src/cluster/controllers/types.js";
import { applyAll, pod, testCluster } from "../support/cluster.js";

const workers = (n: number, extra: Partial<NodeSpec> = {}): Omit<NodeSpec, "ip">[] => Array.from({ length: n }, (_, i) => ({ name: `worker-${i + 1}`, ...extra }));

interface Case {
  readonly name: string;
  readonly nodes: Omit<NodeSpec, "ip">[];
  readonly pod: ReturnType<typeof pod>;
  /** Where it lands, or the FailedScheduling message. */
  readonly want: { node: string } | { message: string };
}

const cases: Case[] = [
  {
    name: "NodeUnschedulable: a cordoned node is skipped",
    nodes: [{ name: "worker-1", unschedulable: true }, { name: "worker-2" }],
    pod: pod("p"),
    want: { node: "worker-2" },
  },
  {
    name: "NodeUnschedulable: nothing else left",
    nodes: [{ name: "worker-1", unschedulable: true }],
    pod: pod("p"),
    want: { message: "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.." },
  },
  {
    name: "TaintToleration: the control-plane taint keeps an ordinary pod off",
    nodes: [{ name: "cp", role: "control-plane" }],
    pod: pod("p"),
    want: { message: "0/1 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.." },
  },
  {
    name: "TaintToleration: a matching toleration lets it on",
    nodes: [{ name: "cp", role: "control-plane" }],
    pod: pod("p", { tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }] }),
    want: { node: "cp" },
  },
  {
    name: "TaintToleration: NoExecute counts, Equal compares the value",
    nodes: [{ name: "db", taints: [{ key: "dedicated", value: "db", effect: "NoExecute" }] }, { name: "gpu", taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] }],
    pod: pod("p", { tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }] }),
    want: { node: "gpu" },
  },
  {
    name: "TaintToleration: PreferNoSchedule only scores",
    nodes: [{ name: "a", taints: [{ key: "x", effect: "PreferNoSchedule" }] }, { name: "b" }],
    pod: pod("p"),
    want: { node: "b" },
  },
  {
    name: "NodeAffinity: nodeSelector",
    nodes: [{ name: "a" }, { name: "b", labels: { disk: "ssd" } }],
    pod: pod("p", { nodeSelector: { disk: "ssd" } }),
    want: { node: "b" },
  },
  {
    name: "NodeAffinity: required terms, no match",
    nodes: workers(2),
    pod: pod("p", { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }] } } } }),
    want: { message: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.." },
  },
  {
    name: "NodeAffinity: preferred terms win the score",
    nodes: [{ name: "a" }, { name: "b", labels: { zone: "z1" } }, { name: "c" }],
    pod: pod("p", { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, preference: { matchExpressions: [{ key: "zone", operator: "Exists" }] } }] } } }),
    want: { node: "b" },
  },
  {
    name: "NodeResourcesFit: Insufficient cpu everywhere",
    nodes: workers(3, { capacity: { cpu: "2" } }),
    pod: pod("p", { containers: [{ name: "app", image: "busybox", resources: { requests: { cpu: "3" } } }] }),
    want: { message: "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.." },
  },
  {
    name: "NodeResourcesFit: cpu and memory both counted per node; mixed with a taint",
    nodes: [{ name: "cp", role: "control-plane" }, ...workers(2, { capacity: { cpu: "1", memory: "1Gi" } })],
    pod: pod("p", { containers: [{ name: "app", image: "busybox", resources: { requests: { cpu: "2", memory: "2Gi" } } }] }),
    want: { message: "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu, 2 Insufficient memory. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.." },
  },
  {
    name: "NodeResourcesFit: pod count",
    nodes: workers(1, { capacity: { pods: 0 } }),
    pod: pod("p"),
    want: { message: "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.." },
  },
  {
    name: "NodeResourcesFit: LeastAllocated prefers the emptier node",
    nodes: [{ name: "small", capacity: { cpu: "2" } }, { name: "big", capacity: { cpu: "16" } }],
    pod: pod("p", { containers: [{ name: "app", image: "busybox", resources: { requests: { cpu: "1" } } }] }),
    want: { node: "big" },
  },
];

describe("scheduler filters and scores", () => {
  it.each(cases)("$name", ({ nodes, pod: p, want }) => {
    const c = testCluster(nodes);
    applyAll(c, [p]);
    const got = c.get("Pod", "default/p");
    if ("node" in want) {
      expect(got?.spec.nodeName).toBe(want.node);
    } else {
      expect(got?.spec.nodeName).toBeUndefined();
      expect(got?.status?.conditions?.[0]).toMatchObject({ type: "PodScheduled", status: "False", reason: "Unschedulable", message: want.message });
      const ev = c.events("default").filter((e) => e.reason === "FailedScheduling");
      expect(ev.map((e) => [e.type, e.message])).toEqual([["Warning", want.message]]);
    }
  });

  it("NodePorts: a second pod asking for the same hostPort goes elsewhere, then fails", () => {
    const c = testCluster(workers(2));
    const hp = (n: string) => pod(n, { containers: [{ name: "app", image: "nginx:1.27", ports: [{ containerPort: 80, hostPort: 8080 }] }] });
    applyAll(c, [hp("a"), hp("b"), hp("c")]);
    expect(new Set([c.get("Pod", "default/a")?.spec.nodeName, c.get("Pod", "default/b")?.spec.nodeName]).size).toBe(2);
    expect(c.get("Pod", "default/c")?.status?.conditions?.[0]?.message).toBe("0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod..");
  });

  it("a pending pod is scheduled once a node frees up (uncordon)", () => {
    const c = testCluster([{ name: "worker-1", unschedulable: true }]);
    applyAll(c, [pod("p")]);
    expect(c.get("Pod", "default/p")?.spec.nodeName).toBeUndefined();
    const n = c.get("Node", "worker-1");
    c.api.update({ ...n!, spec: { ...n!.spec, unschedulable: false, taints: [] } });
    c.settle();
    expect(c.get("Pod", "default/p")?.spec.nodeName).toBe("worker-1");
  });

  it("a pod bound by nodeName skips the scheduler; the kubelet rejects it when it does not fit (OutOfcpu)", () => {
    const c = testCluster(workers(1, { capacity: { cpu: "1" } }));
    applyAll(c, [pod("p", { nodeName: "worker-1", containers: [{ name: "app", image: "busybox", resources: { requests: { cpu: "2" } } }] })]);
    expect(c.get("Pod", "default/p")?.status).toMatchObject({ phase: "Failed", reason: "OutOfcpu", message: "Pod was rejected: Node didn't have enough resource: cpu" });
  });

  it("spreads replicas over equal nodes (LeastAllocated + system default topology spreading)", () => {
    const c = testCluster(workers(3));
    applyAll(c, [{ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "w" }, spec: { replicas: 6, selector: { matchLabels: { app: "w" } }, template: { metadata: { labels: { app: "w" } }, spec: { containers: [{ name: "w", image: "nginx" }] } } } }]);
    const per = new Map<string, number>();
    for (const p of c.list("Pod")) per.set(p.spec.nodeName ?? "", (per.get(p.spec.nodeName ?? "") ?? 0) + 1);
    expect([...per.values()]).toEqual([2, 2, 2]);
  });

  it("numFeasibleNodesToFind follows the adaptive percentage (50 - n/125, at least 5%, at least 100 nodes)", () => {
    expect([50, 99, 100, 1000, 5000, 6000].map(numFeasibleNodesToFind)).toEqual([50, 99, 100, 420, 500, 300]);
    expect(fitErrorMessage(0, [])).toBe("no nodes available to schedule pods");
  });
});

// The scores plugin by plugin, in the framework's structure (each plugin's raw scores, then its
// NormalizeScore, then the weighted sum): podwire's earlier, straightforward form, kept as the
// reference the one-loop form must equal. (The plugins' formulas themselves are the ones
// scheduler.ts cites from kube-scheduler; this test checks the rewrite, not them.)
function referenceScores(p: ReturnType<typeof pod>, nodes: readonly NodeInfo[], counts?: ReadonlyMap<string, number>): number[] {
  const req = podRequests(p);
  const la = (r: number, c: number): number => (c === 0 || r > c ? 0 : Math.floor(((c - r) * 100) / c));
  const least = nodes.map((i) => Math.floor((la(i.nonZeroMilliCpu + req.nonZeroMilliCpu, i.allocMilliCpu) + la(i.nonZeroMemory + req.nonZeroMemory, i.allocMemory)) / 2));
  const balanced = nodes.map((i) => {
    const fc2 = i.allocMilliCpu > 0 ? Math.min(1, (i.milliCpu + req.milliCpu) / i.allocMilliCpu) : 1;
    const fm = i.allocMemory > 0 ? Math.min(1, (i.memory + req.memory) / i.allocMemory) : 1;
    return Math.trunc((1 - Math.abs(fc2 - fm) / 2) * 100);
  });
  const preferRaw = nodes.map((i) => preferredAffinityScore(p, i.node));
  const preferMax = Math.max(0, ...preferRaw);
  const prefer = preferRaw.map((x) => (preferMax === 0 ? 0 : Math.floor((x * 100) / preferMax)));
  const taintRaw = nodes.map((i) => (i.node.spec.taints ?? []).filter((t) => t.effect === "PreferNoSchedule" && firstUntolerated([t], p.spec.tolerations, ["PreferNoSchedule"])).length);
  const taintMax = Math.max(0, ...taintRaw);
  const taint = taintRaw.map((c) => (taintMax === 0 ? 100 : 100 - Math.floor((c * 100) / taintMax)));
  const raw = nodes.map((i) => Math.round((counts?.get(i.name) ?? 0) * Math.log(nodes.length + 2) + 2));
  const spread = counts ? raw.map((x) => Math.floor((100 * (Math.max(...raw) + Math.min(...raw) - x)) / Math.max(...raw))) : nodes.map(() => 0);
  return nodes.map((_, k) => (least[k] as number) + (balanced[k] as number) + 2 * (prefer[k] as number) + 2 * (spread[k] as number) + 3 * (taint[k] as number));
}

describe("scoring", () => {
  it("equals the plugin-by-plugin scores for any nodes, requests, taints, affinity and spreading (fast-check)", () => {
    const taint = fc.record({ key: fc.constantFrom("a", "b"), value: fc.constantFrom("", "x"), effect: fc.constantFrom("PreferNoSchedule", "NoSchedule") }) as fc.Arbitrary<Taint>;
    const info = fc.record({
      cpu: fc.integer({ min: 0, max: 8000 }),
      mem: fc.integer({ min: 0, max: 16e9 }),
      usedCpu: fc.integer({ min: 0, max: 9000 }),
      usedMem: fc.integer({ min: 0, max: 17e9 }),
      taints: fc.array(taint, { maxLength: 3 }),
      zone: fc.constantFrom("z1", "z2"),
      pods: fc.integer({ min: 0, max: 5 }),
    });
    fc.assert(
      fc.property(fc.array(info, { minLength: 1, maxLength: 12 }), fc.boolean(), fc.boolean(), fc.boolean(), (specs, spreading, preferring, tolerating) => {
        const nodes: NodeInfo[] = specs.map((x, i) => ({
          name: `n${i}`,
          node: { apiVersion: "v1", kind: "Node", metadata: { name: `n${i}`, labels: { zone: x.zone } }, spec: { taints: x.taints } } as Node,
          allocMilliCpu: x.cpu,
          allocMemory: x.mem,
          allocPods: 110,
          milliCpu: x.usedCpu,
          memory: x.usedMem,
          nonZeroMilliCpu: x.usedCpu + 100,
          nonZeroMemory: x.usedMem + 200 * 1024 * 1024,
          pods: x.pods,
          hostPorts: new Map(),
          podKeys: new Set(),
          plain: x.taints.length === 0,
          spreadCycle: 0,
          spreadCount: 0,
        }));
        const p = pod("p", {
          containers: [{ name: "app", image: "busybox:1.36", resources: { requests: { cpu: "250m", memory: "64Mi" } } }],
          ...(preferring ? { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 7, preference: { matchExpressions: [{ key: "zone", operator: "In", values: ["z1"] }] } }] } } } : {}),
          ...(tolerating ? { tolerations: [{ key: "a", operator: "Exists", effect: "PreferNoSchedule" }] } : {}),
        });
        const counts = spreading ? new Map(specs.map((x, i) => [`n${i}`, x.pods] as const)) : undefined;
        expect(scoreNodes(p, nodes, counts)).toEqual(referenceScores(p, nodes, counts));
      }),
    );
  });
});

describe("placing a pod", () => {
  // The framework's cycle written out plainly: every filter on every node from the start index
  // until numFeasibleNodesToFind fit, the plugin-by-plugin scores, then selectHost. schedulePod's
  // shortcuts (resources only for a plain pod on a plain node, spreading counts read from scratch
  // fields, no taint read on an untainted node) must give its answer.
  function reference(p: ReturnType<typeof pod>, nodes: readonly NodeInfo[], startIndex: number, seed: number, counts?: ReadonlyMap<string, number>): string | undefined {
    const want = numFeasibleNodesToFind(nodes.length);
    const feasible: NodeInfo[] = [];
    for (let k = 0; k < nodes.length && feasible.length < want; k += 1) {
      const info = nodes[(startIndex + k) % nodes.length] as NodeInfo;
      if (!filterNode(p, info)) feasible.push(info);
    }
    if (feasible.length <= 1) return feasible[0]?.name;
    return feasible[selectHost(referenceScores(p, feasible, counts), createRng(seed))]?.name;
  }

  it("lands where every filter and score, run in full on every node, puts it (fast-check)", () => {
    const taint = fc.record({ key: fc.constantFrom("a", "b"), value: fc.constantFrom("", "x"), effect: fc.constantFrom("PreferNoSchedule", "NoSchedule", "NoExecute") }) as fc.Arbitrary<Taint>;
    const info = fc.record({
      cpu: fc.integer({ min: 0, max: 8000 }),
      usedCpu: fc.integer({ min: 0, max: 9000 }),
      taints: fc.array(taint, { maxLength: 2 }),
      unschedulable: fc.boolean(),
      zone: fc.constantFrom("z1", "z2"),
      pods: fc.integer({ min: 0, max: 5 }),
      full: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(info, { minLength: 1, maxLength: 140 }),
        fc.record({ selector: fc.boolean(), tolerating: fc.boolean(), spreading: fc.boolean(), named: fc.boolean(), start: fc.nat(300), seed: fc.nat() }),
        (specs, o) => {
          const nodes: NodeInfo[] = specs.map((x, i) => {
            const node = { apiVersion: "v1", kind: "Node", metadata: { name: `n${i}`, labels: { zone: x.zone } }, spec: { taints: x.taints, ...(x.unschedulable ? { unschedulable: true } : {}) } } as Node;
            return {
              name: `n${i}`,
              node,
              allocMilliCpu: x.cpu,
              allocMemory: 16e9,
              allocPods: x.full ? x.pods : 110,
              milliCpu: x.usedCpu,
              memory: 0,
              nonZeroMilliCpu: x.usedCpu + 100,
              nonZeroMemory: 200 * 1024 * 1024,
              pods: x.pods,
              hostPorts: new Map(),
              podKeys: new Set(),
              plain: !x.unschedulable && x.taints.length === 0,
              spreadCycle: 0,
              spreadCount: 0,
            };
          });
          const p = pod("p", {
            containers: [{ name: "app", image: "busybox:1.36", resources: { requests: { cpu: "250m" } } }],
            ...(o.selector ? { nodeSelector: { zone: "z1" } } : {}),
            ...(o.named ? { nodeName: `n${o.start % specs.length}` } : {}),
            ...(o.tolerating ? { tolerations: [{ key: "a", operator: "Exists" }] } : {}),
          });
          const counts = o.spreading ? new Map(specs.map((x, i) => [`n${i}`, x.pods] as const).filter(([, c]) => c > 0)) : undefined;
          const got = schedulePod({ pod: p, nodes, rng: createRng(o.seed), startIndex: o.start, ...(counts ? { spreadCounts: counts } : {}) });
          expect(got.ok ? got.node : undefined).toBe(reference(p, nodes, o.start, o.seed, counts));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("the event recorder", () => {
  // client-go's EventCorrelator: an identical event (same object, reason, message, source) bumps
  // the stored one's count; any difference makes a new Event.
  it("aggregates identical events and keeps different ones apart", () => {
    const c = testCluster(workers(1));
    applyAll(c, [pod("p")]);
    const p = c.get("Pod", "default/p");
    if (!p) throw new Error("no pod");
    const rec = (message: string, host?: string): void => c.runtime.record(event(p, "Warning", "BackOff", message, "kubelet", host ? { host } : {}));
    rec("Back-off restarting failed container", "worker-1");
    rec("Back-off restarting failed container", "worker-1");
    rec("Back-off restarting failed container", "worker-1");
    rec("Back-off restarting failed container");
    rec("Back-off pulling image");
    const got = c.events("default").filter((e) => e.reason === "BackOff").map((e) => [e.message, e.source.host ?? "", e.count]);
    expect(got.sort()).toEqual([
      ["Back-off pulling image", "", 1],
      ["Back-off restarting failed container", "", 1],
      ["Back-off restarting failed container", "worker-1", 3],
    ]);
  });
});
