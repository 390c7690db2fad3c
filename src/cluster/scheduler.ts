/**
 * @module cluster/scheduler
 * kube-scheduler's default profile, for one pod at a time, as a pure function of the pod, the node
 * infos and a PRNG.
 *
 * Filters, in the framework's order, stopping at the first that fails for a node:
 * NodeUnschedulable, NodeName, TaintToleration (NoSchedule, NoExecute), NodeAffinity (nodeSelector +
 * required affinity), NodePorts, NodeResourcesFit (pod count, cpu, memory).
 * Scores, weighted as the default profile: NodeResourcesFit/LeastAllocated ×1, BalancedAllocation ×1,
 * NodeAffinity (preferred) ×2, PodTopologySpread (the system default constraints) ×2,
 * TaintToleration (PreferNoSchedule) ×3. Ties go to the PRNG, as `selectHost`'s reservoir sampling.
 * Large clusters score only `numFeasibleNodesToFind` nodes, starting where the last cycle stopped.
 *
 * An unschedulable pod gets the real FitError text, preemption tail included:
 * `0/3 nodes are available: 1 node(s) had untolerated taint {…}, 2 Insufficient cpu. preemption: 0/3
 * nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for
 * incoming pod..` (priorities are not modelled, so preemption never finds a victim).
 * @see k8s.io/kubernetes/pkg/scheduler/schedule_one.go; framework/types.go (FitError)
 */
import type { Pod, Taint, Toleration } from "./api/types.js";
import type { Rng } from "../sim/rng.js";
import { podHostPorts, podRequests, type NodeInfo, type PodRequests } from "./node-info.js";
import { TAINT, firstUntolerated, formatTaintForMessage, nodeAffinityMatches, preferredAffinityScore } from "./taints.js";

/** Filter failure reasons, worded as the plugins word them. */
export const REASON = {
  unschedulable: "node(s) were unschedulable",
  nodeName: "node(s) didn't match the requested node name",
  affinity: "node(s) didn't match Pod's node affinity/selector",
  ports: "node(s) didn't have free ports for the requested pod ports",
  tooManyPods: "Too many pods",
  cpu: "Insufficient cpu",
  memory: "Insufficient memory",
} as const;

/** What the scheduler needs besides the node infos. */
export interface ScheduleInput {
  readonly pod: Pod;
  readonly nodes: readonly NodeInfo[];
  readonly rng: Rng;
  /** Where the last cycle stopped (`nextStartNodeIndex`). */
  readonly startIndex: number;
  /** How many pods matching the pod's spreading selector run on each node (PodTopologySpread). */
  readonly spreadCounts?: ReadonlyMap<string, number>;
  /** The info of a node by name (the cache's), to find the nodes `spreadCounts` names; default: a search of `nodes`. */
  readonly nodeByName?: (name: string) => NodeInfo | undefined;
}

/** A placement, or the FitError message. */
export type ScheduleResult =
  | { readonly ok: true; readonly node: string; readonly nextStartIndex: number; readonly evaluated: number }
  | { readonly ok: false; readonly message: string; readonly nextStartIndex: number };

interface Failure {
  readonly reasons: readonly string[];
  /** UnschedulableAndUnresolvable: preemption cannot help. */
  readonly unresolvable: boolean;
}

const NO_TOLERATIONS: readonly Toleration[] = [];
/** TaintToleration's filter considers these effects (PreferNoSchedule only scores). */
const FILTER_EFFECTS: readonly Taint["effect"][] = ["NoSchedule", "NoExecute"];

/** The filters for one node; undefined when the node fits. */
export function filterNode(pod: Pod, info: NodeInfo, req: PodRequests = podRequests(pod), hostPorts: readonly string[] = podHostPorts(pod)): Failure | undefined {
  const node = info.node;
  const tols = pod.spec.tolerations ?? NO_TOLERATIONS;
  if (node.spec.unschedulable === true) {
    const ok = tols.some((t) => (t.key === TAINT.unschedulable || (!t.key && t.operator === "Exists")) && (!t.effect || t.effect === "NoSchedule"));
    if (!ok) return { reasons: [REASON.unschedulable], unresolvable: true };
  }
  if (pod.spec.nodeName && pod.spec.nodeName !== info.name) return { reasons: [REASON.nodeName], unresolvable: true };
  const taint = firstUntolerated(node.spec.taints, tols, FILTER_EFFECTS);
  if (taint) return { reasons: [`node(s) had untolerated taint ${formatTaintForMessage(taint)}`], unresolvable: true };
  if (!nodeAffinityMatches(pod, node)) return { reasons: [REASON.affinity], unresolvable: true };
  for (const hp of hostPorts) {
    if (hostPortConflict(hp, info.hostPorts)) return { reasons: [REASON.ports], unresolvable: false };
  }
  return resourcesFit(info, req);
}

/** NodeResourcesFit's filter: undefined when the pod's requests fit what is left. */
function resourcesFit(info: NodeInfo, req: PodRequests): Failure | undefined {
  const pods = info.pods + 1 > info.allocPods;
  const cpu = req.milliCpu > 0 && info.milliCpu + req.milliCpu > info.allocMilliCpu;
  const memory = req.memory > 0 && info.memory + req.memory > info.allocMemory;
  if (!pods && !cpu && !memory) return undefined;
  const reasons: string[] = [];
  if (pods) reasons.push(REASON.tooManyPods);
  if (cpu) reasons.push(REASON.cpu);
  if (memory) reasons.push(REASON.memory);
  return { reasons, unresolvable: false };
}

function hostPortConflict(want: string, used: ReadonlyMap<string, number>): boolean {
  const [proto, ip, port] = want.split("/");
  for (const u of used.keys()) {
    const [p2, ip2, port2] = u.split("/");
    if (p2 !== proto || port2 !== port) continue;
    if (ip === "0.0.0.0" || ip2 === "0.0.0.0" || ip === ip2) return true;
  }
  return false;
}

/** `numFeasibleNodesToFind` with the default adaptive percentage. */
export function numFeasibleNodesToFind(all: number): number {
  if (all < 100) return all;
  const pct = Math.max(5, 50 - Math.floor(all / 125));
  return Math.max(100, Math.floor((all * pct) / 100));
}

/** The FitError message for a pod no node fits. */
export function fitErrorMessage(total: number, failures: readonly Failure[]): string {
  if (total === 0) return "no nodes available to schedule pods";
  const hist = new Map<string, number>();
  for (const f of failures) for (const r of f.reasons) hist.set(r, (hist.get(r) ?? 0) + 1);
  const reasons = [...hist].map(([r, n]) => `${n} ${r}`).sort();
  const notHelpful = failures.filter((f) => f.unresolvable).length;
  const noVictims = failures.length - notHelpful;
  const post = [notHelpful > 0 ? `${notHelpful} Preemption is not helpful for scheduling` : "", noVictims > 0 ? `${noVictims} No preemption victims found for incoming pod` : ""].filter((x) => x).sort();
  return `0/${total} nodes are available: ${reasons.join(", ")}. preemption: 0/${total} nodes are available: ${post.join(", ")}..`;
}

/**
 * Whether only a node's resources can keep this pod off a `plain` node (NodeInfo.plain: schedulable,
 * untainted): no nodeName, no nodeSelector or required node affinity, no host ports. For such a
 * pod on such a node the filters before NodeResourcesFit pass whatever the tolerations, so
 * `schedulePod` runs that one (at 5,000 nodes the scheduler filters 500 nodes per pod).
 */
function onlyResources(pod: Pod, hostPorts: readonly string[]): boolean {
  return !pod.spec.nodeName && !pod.spec.nodeSelector && !pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution && hostPorts.length === 0;
}

/** The cycle number `stampSpread` marks NodeInfo scratch fields with. */
let spreadCycle = 0;

// Writes each node's spreading count into its NodeInfo's scratch fields for this cycle (a field
// read while scoring, not a lookup by name per node), and returns the cycle.
function stampSpread(nodes: readonly NodeInfo[], counts: ReadonlyMap<string, number>, byName?: (name: string) => NodeInfo | undefined): number {
  spreadCycle += 1;
  const find = byName ?? ((name: string) => nodes.find((i) => i.name === name));
  for (const [name, c] of counts) {
    const info = find(name);
    if (info) {
      info.spreadCycle = spreadCycle;
      info.spreadCount = c;
    }
  }
  return spreadCycle;
}

/** Schedules one pod. */
export function schedulePod(input: ScheduleInput): ScheduleResult {
  const { pod, nodes } = input;
  const n = nodes.length;
  if (n === 0) return { ok: false, message: fitErrorMessage(0, []), nextStartIndex: 0 };
  const want = numFeasibleNodesToFind(n);
  const req = podRequests(pod);
  const hostPorts = podHostPorts(pod);
  const simple = onlyResources(pod, hostPorts);
  const feasible: NodeInfo[] = [];
  const failures: Failure[] = [];
  let processed = 0;
  let at = input.startIndex % n;
  for (let k = 0; k < n && feasible.length < want; k += 1) {
    const info = nodes[at] as NodeInfo;
    at = at + 1 === n ? 0 : at + 1;
    processed += 1;
    const f = simple && info.plain ? resourcesFit(info, req) : filterNode(pod, info, req, hostPorts);
    if (f) failures.push(f);
    else feasible.push(info);
  }
  const nextStartIndex = (input.startIndex + processed) % n;
  if (feasible.length === 0) return { ok: false, message: fitErrorMessage(n, failures), nextStartIndex };
  if (feasible.length === 1) return { ok: true, node: (feasible[0] as NodeInfo).name, nextStartIndex, evaluated: processed };
  const scores = scoreStamped(pod, feasible, input.spreadCounts ? stampSpread(nodes, input.spreadCounts, input.nodeByName) : undefined);
  return { ok: true, node: (feasible[selectHost(scores, input.rng)] as NodeInfo).name, nextStartIndex, evaluated: processed };
}

/** `selectHost`: the position of the highest score, ties broken by reservoir sampling on the PRNG. */
export function selectHost(scores: readonly number[], rng: Rng): number {
  let best = 0;
  let count = 1;
  for (let i = 1; i < scores.length; i += 1) {
    if ((scores[i] as number) > (scores[best] as number)) {
      best = i;
      count = 1;
    } else if (scores[i] === scores[best]) {
      count += 1;
      if (rng.int(0, count - 1) === 0) best = i;
    }
  }
  return best;
}

/**
 * The weighted total score of each feasible node (same order): NodeResourcesFit (LeastAllocated,
 * weight 1), NodeResourcesBalancedAllocation (1), NodeAffinity (2), PodTopologySpread (2) and
 * TaintToleration (3), each normalised as kube-scheduler does. PodTopologySpread is the system
 * default constraint on `kubernetes.io/hostname` (maxSkew 3, ScheduleAnyway): raw score
 * `count·log(domains+2) + (maxSkew-1)`, normalised so the emptiest node gets the most (the zone
 * constraint applies only where nodes carry zone labels; podwire's nodes do not by default, and it
 * is not modelled). At 5,000 nodes the scheduler
 * scores 500 nodes per pod, so this makes two passes and a few arrays, no per-node allocation.
 */
export function scoreNodes(pod: Pod, nodes: readonly NodeInfo[], spreadCounts?: ReadonlyMap<string, number>): number[] {
  return scoreStamped(pod, nodes, spreadCounts ? stampSpread(nodes, spreadCounts) : undefined);
}

// scoreNodes with the spreading counts in the nodes' scratch fields (`cycle`: see stampSpread).
function scoreStamped(pod: Pod, nodes: readonly NodeInfo[], cycle: number | undefined): number[] {
  const req = podRequests(pod);
  const n = nodes.length;
  const total = new Array<number>(n);
  const preferring = (pod.spec.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0;
  const preferRaw = preferring ? new Array<number>(n) : undefined;
  let preferMax = 0;
  let taintRaw: number[] | undefined;
  let taintMax = 0;
  const weight = cycle !== undefined ? Math.log(n + 2) : 0;
  const spreadRaw = cycle !== undefined ? new Array<number>(n) : undefined;
  let spreadMin = Infinity;
  let spreadMax = -Infinity;
  for (let k = 0; k < n; k += 1) {
    const i = nodes[k] as NodeInfo;
    const cpu = leastAllocated(i.nonZeroMilliCpu + req.nonZeroMilliCpu, i.allocMilliCpu);
    const mem = leastAllocated(i.nonZeroMemory + req.nonZeroMemory, i.allocMemory);
    const fc = i.allocMilliCpu > 0 ? Math.min(1, (i.milliCpu + req.milliCpu) / i.allocMilliCpu) : 1;
    const fm = i.allocMemory > 0 ? Math.min(1, (i.memory + req.memory) / i.allocMemory) : 1;
    total[k] = Math.floor((cpu + mem) / 2) + Math.trunc((1 - Math.abs(fc - fm) / 2) * 100);
    if (preferRaw) {
      const p = preferredAffinityScore(pod, i.node);
      preferRaw[k] = p;
      if (p > preferMax) preferMax = p;
    }
    const taints = i.plain ? undefined : i.node.spec.taints;
    if (taints && taints.length > 0) {
      let c = 0;
      for (const t of taints) if (t.effect === "PreferNoSchedule" && firstUntolerated([t], pod.spec.tolerations, ["PreferNoSchedule"])) c += 1;
      if (c > 0) {
        taintRaw ??= new Array<number>(n).fill(0);
        taintRaw[k] = c;
        if (c > taintMax) taintMax = c;
      }
    }
    if (spreadRaw) {
      const r = Math.round((i.spreadCycle === cycle ? i.spreadCount : 0) * weight + 2);
      spreadRaw[k] = r;
      if (r < spreadMin) spreadMin = r;
      if (r > spreadMax) spreadMax = r;
    }
  }
  for (let k = 0; k < n; k += 1) {
    const prefer = preferRaw && preferMax > 0 ? Math.floor(((preferRaw[k] as number) * 100) / preferMax) : 0;
    const spread = spreadRaw ? (spreadMax === 0 ? 100 : Math.floor((100 * (spreadMax + spreadMin - (spreadRaw[k] as number))) / spreadMax)) : 0;
    const taint = taintMax === 0 ? 100 : 100 - Math.floor((((taintRaw as number[])[k] as number) * 100) / taintMax);
    total[k] = (total[k] as number) + 2 * prefer + 2 * spread + 3 * taint;
  }
  return total;
}

function leastAllocated(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return Math.floor(((capacity - requested) * 100) / capacity);
}

