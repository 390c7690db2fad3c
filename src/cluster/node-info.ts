/**
 * @module cluster/node-info
 * Per-node aggregates the scheduler and kubelet admission read (the scheduler cache's `NodeInfo`):
 * allocatable, the sum of requests of the pods bound to the node (actual and "non-zero", which
 * counts a container without requests as 100m cpu / 200 MB as the scheduler does for scoring), and
 * the host ports in use. Kept up to date from the store's watch, so placing pod 150,000 does not
 * rescan 149,999 pods.
 * @see k8s.io/kubernetes/pkg/scheduler/framework/types.go (NodeInfo); pkg/scheduler/util/pod_resources.go
 */
import { keyOf } from "./api/meta.js";
import { milliValue, parseQuantity } from "./api/quantity.js";
import type { Node, Pod } from "./api/types.js";
import type { WatchEvent } from "./store.js";

/** Defaults the scheduler assumes for scoring when a container requests nothing. */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
/** 200 MB, as `schedutil.DefaultMemoryRequest`. */
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

/** A pod's summed container requests: milli-cpu, memory bytes, and the non-zero variants. */
export interface PodRequests {
  readonly milliCpu: number;
  readonly memory: number;
  readonly nonZeroMilliCpu: number;
  readonly nonZeroMemory: number;
}

/** Sums a pod's requests (max of init containers and the sum of app containers, as the scheduler does). */
export function podRequests(p: Pod): PodRequests {
  // A pod's spec from the store never changes, and a status update keeps the spec object: the
  // scheduler asks once per node it filters and scores, the cache once per write.
  const had = requestsMemo.get(p.spec);
  if (had) return had;
  const r = computeRequests(p);
  requestsMemo.set(p.spec, r);
  return r;
}
const requestsMemo = new WeakMap<Pod["spec"], PodRequests>();

function computeRequests(p: Pod): PodRequests {
  let cpu = 0;
  let mem = 0;
  let nzCpu = 0;
  let nzMem = 0;
  for (const c of p.spec.containers) {
    const r = c.resources?.requests ?? {};
    const cc = r["cpu"] !== undefined ? (milliValue(r["cpu"]) ?? 0) : undefined;
    const mm = r["memory"] !== undefined ? (parseQuantity(r["memory"]) ?? 0) : undefined;
    cpu += cc ?? 0;
    mem += mm ?? 0;
    nzCpu += cc ?? DEFAULT_MILLI_CPU_REQUEST;
    nzMem += mm ?? DEFAULT_MEMORY_REQUEST;
  }
  for (const c of p.spec.initContainers ?? []) {
    const r = c.resources?.requests ?? {};
    cpu = Math.max(cpu, r["cpu"] !== undefined ? (milliValue(r["cpu"]) ?? 0) : 0);
    mem = Math.max(mem, r["memory"] !== undefined ? (parseQuantity(r["memory"]) ?? 0) : 0);
  }
  return { milliCpu: cpu, memory: mem, nonZeroMilliCpu: nzCpu, nonZeroMemory: nzMem };
}

/** Host ports a pod claims: `proto/hostIP/port`. */
export function podHostPorts(p: Pod): readonly string[] {
  const had = hostPortsMemo.get(p.spec);
  if (had) return had;
  const out: string[] = [];
  for (const c of p.spec.containers) {
    for (const port of c.ports ?? []) {
      if (port.hostPort) out.push(`${port.protocol ?? "TCP"}/${port.hostIP ?? "0.0.0.0"}/${port.hostPort}`);
    }
  }
  hostPortsMemo.set(p.spec, out);
  return out;
}
const hostPortsMemo = new WeakMap<Pod["spec"], readonly string[]>();

/** One node's aggregates. */
export interface NodeInfo {
  readonly name: string;
  node: Node;
  allocMilliCpu: number;
  allocMemory: number;
  allocPods: number;
  milliCpu: number;
  memory: number;
  nonZeroMilliCpu: number;
  nonZeroMemory: number;
  pods: number;
  readonly hostPorts: Map<string, number>;
  readonly podKeys: Set<string>;
  /** The node is schedulable and has no taints: only resources and the pod's own terms can keep a pod off it. */
  plain: boolean;
  /** Scratch for one scheduling cycle (scheduler.ts): this node's spreading count, valid when `spreadCycle` is the cycle's. */
  spreadCycle: number;
  spreadCount: number;
}

/** Whether a pod still occupies its node (bound and not finished). */
export function occupiesNode(p: Pod): boolean {
  return !!p.spec.nodeName && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed";
}

/** The cache, fed by the store's watch. */
export class NodeInfoCache {
  private readonly infos = new Map<string, NodeInfo>();
  private readonly podNode = new Map<string, { node: string; req: PodRequests; ports: readonly string[] }>();
  private sorted: NodeInfo[] | undefined;

  /** Applies one store change. */
  observe(e: WatchEvent): void {
    const o = e.object;
    if (o.kind === "Node") {
      if (e.type === "DELETED") this.infos.delete(o.metadata.name);
      else this.upsertNode(o);
      this.sorted = undefined;
    } else if (o.kind === "Pod") {
      const key = keyOf(o);
      const occupies = e.type !== "DELETED" && occupiesNode(o);
      // Most writes are status updates of a bound pod: same node, same requests, nothing to move.
      const had = this.podNode.get(key);
      if (occupies && had && had.node === o.spec.nodeName && had.req === podRequests(o) && had.ports === podHostPorts(o) && this.infos.get(had.node)?.podKeys.has(key)) return;
      this.removePod(key);
      if (occupies) this.addPod(key, o);
    }
  }

  /** The info of a node. */
  get(name: string): NodeInfo | undefined {
    return this.infos.get(name);
  }

  /** All node infos, sorted by node name (cached until a node is added or removed). */
  list(): readonly NodeInfo[] {
    this.sorted ??= [...this.infos.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return this.sorted;
  }

  private upsertNode(n: Node): void {
    const alloc = n.status?.allocatable ?? n.status?.capacity ?? {};
    const cur = this.infos.get(n.metadata.name);
    const info: NodeInfo = cur ?? {
      name: n.metadata.name,
      node: n,
      allocMilliCpu: 0,
      allocMemory: 0,
      allocPods: 0,
      milliCpu: 0,
      memory: 0,
      nonZeroMilliCpu: 0,
      nonZeroMemory: 0,
      pods: 0,
      hostPorts: new Map(),
      podKeys: new Set(),
      plain: false,
      spreadCycle: 0,
      spreadCount: 0,
    };
    info.node = n;
    info.plain = n.spec.unschedulable !== true && (n.spec.taints?.length ?? 0) === 0;
    info.allocMilliCpu = milliValue(alloc["cpu"] ?? "0") ?? 0;
    info.allocMemory = parseQuantity(alloc["memory"] ?? "0") ?? 0;
    info.allocPods = parseQuantity(alloc["pods"] ?? "0") ?? 0;
    this.infos.set(n.metadata.name, info);
  }

  private addPod(key: string, p: Pod): void {
    const name = p.spec.nodeName as string;
    const info = this.infos.get(name);
    const req = podRequests(p);
    const ports = podHostPorts(p);
    this.podNode.set(key, { node: name, req, ports });
    if (!info) return;
    info.milliCpu += req.milliCpu;
    info.memory += req.memory;
    info.nonZeroMilliCpu += req.nonZeroMilliCpu;
    info.nonZeroMemory += req.nonZeroMemory;
    info.pods += 1;
    info.podKeys.add(key);
    for (const hp of ports) info.hostPorts.set(hp, (info.hostPorts.get(hp) ?? 0) + 1);
  }

  private removePod(key: string): void {
    const had = this.podNode.get(key);
    if (!had) return;
    this.podNode.delete(key);
    const info = this.infos.get(had.node);
    // A pod bound before its node was known was never counted in it.
    if (!info?.podKeys.has(key)) return;
    info.milliCpu -= had.req.milliCpu;
    info.memory -= had.req.memory;
    info.nonZeroMilliCpu -= had.req.nonZeroMilliCpu;
    info.nonZeroMemory -= had.req.nonZeroMemory;
    info.pods -= 1;
    info.podKeys.delete(key);
    for (const hp of had.ports) {
      const n = (info.hostPorts.get(hp) ?? 1) - 1;
      if (n <= 0) info.hostPorts.delete(hp);
      else info.hostPorts.set(hp, n);
    }
  }
}
