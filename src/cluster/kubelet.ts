/**
 * @module cluster/kubelet
 * The kubelets, one per node, as a control loop over the pods bound to their node.
 *
 * For a new pod: admission (a pod bound by `nodeName` that does not fit is rejected, `OutOfcpu`),
 * then the sandbox: CNI ADD through the node's `PodNetwork` (hostNetwork pods use the node's
 * address), then for each container in order pull the image ("Pulling image \"nginx\"", a seeded
 * pull time, "Successfully pulled image \"nginx\" in 2.318s (2.318s including waiting)", or "Container
 * image \"nginx:1.27\" already present on machine" for IfNotPresent images the node has), create it
 * ("Created container: nginx") and start it ("Started container nginx"). Then Running and Ready,
 * reported at the next PLEG relist (once a second), as the real kubelet's status follows it.
 * Pods with restartPolicy OnFailure/Never (Jobs) run for `podwire.dev/run-for` (default 0s) and
 * succeed. A deleted pod is stopped ("Stopping container nginx"), CNI DEL runs, the pod is removed.
 * A stopped kubelet (failNode) does nothing and stops renewing its Lease.
 * The 1.30+ "Image size: N bytes." sentence of the Pulled event is left out: podwire has no images.
 * @see k8s.io/kubernetes/pkg/kubelet/{kubelet.go,kuberuntime/kuberuntime_manager.go,images/image_manager.go}
 */
import type { CniResult, PodNetwork } from "../cni/contract.js";
import type { Rng } from "../sim/rng.js";
import { keyOf } from "./api/meta.js";
import type { ContainerStatus, Node, NodeCondition, Pod, PodCondition } from "./api/types.js";
import { event, type Action, type Controller, type View } from "./controllers/types.js";
import { podRequests } from "./node-info.js";
import { filterNode } from "./scheduler.js";
import { parseDuration, timestamp } from "./time.js";
import { jsonEqual } from "./api/equal.js";

/** The PLEG's relist period: `genericPlegRelistPeriod = time.Second * 1` in pkg/kubelet/kubelet.go. */
export const PLEG_RELIST_MS = 1000;

/**
 * The first PLEG relist at or after `now`. Every kubelet relists once a second of virtual time
 * from the clock's start (podwire's nodes boot together), so pods that start on different nodes
 * within the same second report Running at the same moment, and the controllers that follow them
 * (ReplicaSet and Deployment status, EndpointSlices) reconcile once for all of them.
 */
function relistAt(now: number): number {
  return Math.ceil(now / PLEG_RELIST_MS) * PLEG_RELIST_MS;
}

/** Annotation: how long a run-to-completion pod runs before it succeeds. */
export const RUN_FOR_ANNOTATION = "podwire.dev/run-for";
/** The Kubernetes version podwire's control plane follows. */
export const KUBERNETES_VERSION = "v1.33.1";

interface Sandbox {
  readonly containerId: string;
  readonly ip?: string;
  readonly netns: string;
  /** Containers started so far. */
  started: number;
  /** Containers started as of the last PLEG relist: what the pod's status reports (see `relistAt`). */
  seen: number;
  /** A pull in progress: container index and when it completes. */
  pulling?: { readonly index: number; readonly done: number; readonly ms: number };
  startedAt?: number;
}

/** One node's kubelet state. */
export interface KubeletState {
  alive: boolean;
  /** Clock ms of the last Lease renewal when stopped. */
  stoppedAt?: number;
  readonly images: Set<string>;
  /** The node's pod network, read at each ADD (its configuration follows the node's podCIDR). */
  readonly network: () => PodNetwork | undefined;
  readonly nodeIp: string;
}

/** The kubelets of a cluster. */
export class Kubelets {
  readonly nodes = new Map<string, KubeletState>();
  private readonly sandboxes = new Map<string, Sandbox>();

  constructor(private readonly rng: Rng) {}

  /** Registers a node's kubelet. */
  add(node: string, nodeIp: string, network: () => PodNetwork | undefined): void {
    this.nodes.set(node, { alive: true, images: new Set(), network, nodeIp });
  }

  /** The Lease renew time (see View.leaseRenewTime). */
  leaseRenewTime(node: string, now: number): number | undefined {
    const k = this.nodes.get(node);
    if (!k) return undefined;
    return k.alive ? now : k.stoppedAt;
  }

  /** Whether the node's kubelet runs (and so keeps renewing its Lease). */
  running(node: string): boolean {
    return this.nodes.get(node)?.alive === true;
  }

  /** The sandbox of a pod, if the kubelet made one. */
  sandbox(podKey: string): { containerId: string; ip?: string; netns: string } | undefined {
    return this.sandboxes.get(podKey);
  }

  /** The control loop. Keys: pod keys, and `node:NAME` for node status. */
  controller(): Controller {
    return {
      name: "kubelet",
      keysFor: (e) => {
        const o = e.object;
        if (o.kind === "Pod" && (o.spec.nodeName || e.type === "DELETED")) return [keyOf(o)];
        if (o.kind === "Node" && e.type === "ADDED") return [`node:${o.metadata.name}`];
        return [];
      },
      reconcile: (key, view) => (key.startsWith("node:") ? this.syncNode(key.slice(5), view) : this.syncPod(key, view)),
    };
  }

  private syncNode(name: string, view: View): Action[] {
    const node = view.get("Node", name);
    const k = this.nodes.get(name);
    if (!node || !k || !k.alive) return [];
    const ready = node.status?.conditions?.find((c) => c.type === "Ready");
    if (ready?.status === "True") return [];
    const ts = timestamp(view.now());
    const cond = (type: string, status: "True" | "False", reason: string, message: string): NodeCondition => ({ type, status, reason, message, lastHeartbeatTime: ts, lastTransitionTime: ts });
    const conditions = [
      cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
      cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
      cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
      cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ];
    const actions: Action[] = [];
    const host = { host: name };
    if (!ready) {
      actions.push(event(node, "Normal", "Starting", "Starting kubelet.", "kubelet", host));
      for (const r of ["NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"]) actions.push(event(node, "Normal", r, `Node ${name} status is now: ${r}`, "kubelet", host));
      actions.push(event(node, "Normal", "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods", "kubelet", host));
      actions.push(event(node, "Normal", "RegisteredNode", `Node ${name} event: Registered Node ${name} in Controller`, "node-controller"));
    }
    actions.push({ type: "update", object: { ...node, status: { ...node.status, conditions } } as Node });
    actions.push(event(node, "Normal", "NodeReady", `Node ${name} status is now: NodeReady`, "kubelet", host));
    for (const p of view.podsOnNode(name)) actions.push({ type: "requeue", key: keyOf(p), at: view.now(), timer: "converge" });
    return actions;
  }

  private syncPod(key: string, view: View): Action[] {
    const pod = view.get("Pod", key);
    const sb = this.sandboxes.get(key);
    if (!pod) {
      if (sb) this.teardown(key, sb, undefined);
      return [];
    }
    const nodeName = pod.spec.nodeName;
    const k = nodeName ? this.nodes.get(nodeName) : undefined;
    if (!nodeName || !k || !k.alive) return [];
    const host = { host: nodeName };
    if (pod.metadata.deletionTimestamp) {
      const actions: Action[] = [];
      if (pod.status?.phase === "Running" || sb) for (const c of pod.spec.containers) actions.push(event(pod, "Normal", "Killing", `Stopping container ${c.name}`, "kubelet", host));
      if (sb) this.teardown(key, sb, k);
      actions.push({ type: "finalize-pod", key });
      return actions;
    }
    if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") {
      if (sb) this.teardown(key, sb, k);
      return [];
    }
    if (!sb) return this.startSandbox(pod, key, k, view);
    return this.progress(pod, key, sb, k, view);
  }

  private startSandbox(pod: Pod, key: string, k: KubeletState, view: View): Action[] {
    const nodeName = pod.spec.nodeName as string;
    const host = { host: nodeName };
    const info = view.nodeInfos.get(nodeName);
    if (info && pod.status?.conditions === undefined) {
      const own = podRequests(pod);
      const others = { ...info, pods: info.pods - 1, milliCpu: info.milliCpu - own.milliCpu, memory: info.memory - own.memory };
      const f = filterNode({ ...pod, spec: { ...pod.spec, nodeName } }, others);
      const resource = f?.reasons.find((r) => r.startsWith("Insufficient "))?.slice(13);
      if (resource) {
        const message = `Pod was rejected: Node didn't have enough resource: ${resource}`;
        return [
          { type: "update", object: { ...pod, status: { phase: "Failed", reason: `OutOf${resource}`, message } } },
          event(pod, "Warning", `OutOf${resource}`, `Node didn't have enough resource: ${resource}`, "kubelet", host),
        ];
      }
    }
    const containerId = hex64(this.rng);
    const netns = `cni-${uuidLike(this.rng)}`;
    let ip = k.nodeIp;
    const network = pod.spec.hostNetwork ? undefined : k.network();
    if (!pod.spec.hostNetwork && !network) {
      const msg = "network is not ready: container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized";
      return [event(pod, "Warning", "NetworkNotReady", msg, "kubelet", host)];
    }
    if (network) {
      let result: CniResult;
      try {
        result = network.add({ containerId, netns, ifName: "eth0", args: { K8S_POD_NAMESPACE: pod.metadata.namespace as string, K8S_POD_NAME: pod.metadata.name, K8S_POD_INFRA_CONTAINER_ID: containerId, K8S_POD_UID: pod.metadata.uid as string } });
      } catch (e) {
        const msg = `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "${containerId}": plugin type="${network.pluginType}" failed (add): ${e instanceof Error ? e.message : String(e)}`;
        return [event(pod, "Warning", "FailedCreatePodSandBox", msg, "kubelet", host)];
      }
      ip = (result.ips[0]?.address ?? "").split("/")[0] ?? "";
    }
    const sb: Sandbox = { containerId, ip, netns, started: 0, seen: 0 };
    this.sandboxes.set(key, sb);
    return this.progress(pod, key, sb, k, view);
  }

  private progress(pod: Pod, key: string, sb: Sandbox, k: KubeletState, view: View): Action[] {
    const host = { host: pod.spec.nodeName as string };
    const now = view.now();
    const actions: Action[] = [];
    const containers = pod.spec.containers;
    // When this pod needs its next sync: a pull's end, a run-to-completion pod's end.
    let wake: number | undefined;
    while (sb.started < containers.length) {
      const c = containers[sb.started] as Pod["spec"]["containers"][number];
      const image = c.image ?? "";
      if (sb.pulling && sb.pulling.index === sb.started) {
        if (now < sb.pulling.done) {
          wake = sb.pulling.done;
          break;
        }
        actions.push(event(pod, "Normal", "Pulled", `Successfully pulled image "${image}" in ${goSeconds(sb.pulling.ms)} (${goSeconds(sb.pulling.ms)} including waiting)`, "kubelet", host));
        k.images.add(image);
        delete sb.pulling;
      } else if (c.imagePullPolicy === "Never" || (c.imagePullPolicy !== "Always" && k.images.has(image))) {
        actions.push(event(pod, "Normal", "Pulled", `Container image "${image}" already present on machine`, "kubelet", host));
      } else {
        const ms = this.rng.int(800, 3500);
        sb.pulling = { index: sb.started, done: now + ms, ms };
        actions.push(event(pod, "Normal", "Pulling", `Pulling image "${image}"`, "kubelet", host));
        wake = now + ms;
        break;
      }
      actions.push(event(pod, "Normal", "Created", `Created container: ${c.name}`, "kubelet", host));
      actions.push(event(pod, "Normal", "Started", `Started container ${c.name}`, "kubelet", host));
      sb.started += 1;
    }
    if (sb.started >= containers.length) {
      sb.startedAt ??= now;
      if ((pod.spec.restartPolicy ?? "Always") !== "Always") {
        const runFor = parseDuration(pod.metadata.annotations?.[RUN_FOR_ANNOTATION] ?? "0s") ?? 0;
        if (now >= sb.startedAt + runFor) return [...actions, ...this.completedActions(pod, sb, now)];
        wake = sb.startedAt + runFor;
      }
    }
    // Containers just started reach the pod's status at the next PLEG relist, which finds them
    // running and triggers the sync that reports it. One timer per pod: the earlier of the two.
    const relist = relistAt(now);
    if (relist === now) sb.seen = sb.started;
    const next = sb.seen < sb.started ? Math.min(relist, wake ?? Infinity) : wake;
    if (next !== undefined) actions.push({ type: "requeue", key, at: next, timer: "converge" });
    return [...actions, ...this.statusActions(pod, sb, now)];
  }

  // Written out as literals (a pod's status is rebuilt at every sync, 150,000 pods at scale).
  private conditions(pod: Pod, ready: boolean, now: number, reason?: string): PodCondition[] {
    const ts = timestamp(now);
    const prev = pod.status?.conditions;
    // A condition keeps its transition time while its status stays the same.
    const since = (type: PodCondition["type"], status: "True" | "False"): string => {
      for (const c of prev ?? []) if (c.type === type) return c.status === status && c.lastTransitionTime ? c.lastTransitionTime : ts;
      return ts;
    };
    const r = reason ?? "ContainersNotReady";
    const gate = (type: PodCondition["type"]): PodCondition =>
      ready ? { type, status: "True", lastTransitionTime: since(type, "True") } : { type, status: "False", reason: r, lastTransitionTime: since(type, "False") };
    return [
      { type: "PodReadyToStartContainers", status: "True", lastTransitionTime: since("PodReadyToStartContainers", "True") },
      { type: "Initialized", status: "True", lastTransitionTime: since("Initialized", "True") },
      gate("Ready"),
      gate("ContainersReady"),
      { type: "PodScheduled", status: "True", lastTransitionTime: since("PodScheduled", "True") },
    ];
  }

  private statusActions(pod: Pod, sb: Sandbox, now: number): Action[] {
    const all = sb.seen >= pod.spec.containers.length;
    const statuses: ContainerStatus[] = pod.spec.containers.map((c, i) => ({
      name: c.name,
      image: c.image ?? "",
      ready: i < sb.seen,
      restartCount: 0,
      started: i < sb.seen,
      state: i < sb.seen ? { running: { startedAt: timestamp(sb.startedAt ?? now) } } : { waiting: { reason: "ContainerCreating" } },
    }));
    const phase = all ? ("Running" as const) : ("Pending" as const);
    const conditions = this.conditions(pod, all, now);
    const hostIP = this.nodes.get(pod.spec.nodeName as string)?.nodeIp ?? "";
    const startTime = pod.status?.startTime ?? timestamp(now);
    // The same keys in the same order either way (no spread of a conditional part).
    const status = sb.ip
      ? { ...pod.status, phase, conditions, hostIP, podIP: sb.ip, podIPs: [{ ip: sb.ip }], startTime, containerStatuses: statuses }
      : { ...pod.status, phase, conditions, hostIP, startTime, containerStatuses: statuses };
    if (jsonEqual(status, pod.status)) return [];
    return [{ type: "update", object: { ...pod, status } }];
  }

  private completedActions(pod: Pod, sb: Sandbox, now: number): Action[] {
    const statuses: ContainerStatus[] = pod.spec.containers.map((c) => ({ name: c.name, image: c.image ?? "", ready: false, restartCount: 0, started: false, state: { terminated: { exitCode: 0, reason: "Completed" } } }));
    const status = {
      ...pod.status,
      phase: "Succeeded" as const,
      conditions: this.conditions(pod, false, now, "PodCompleted"),
      hostIP: this.nodes.get(pod.spec.nodeName as string)?.nodeIp ?? "",
      ...(sb.ip ? { podIP: sb.ip, podIPs: [{ ip: sb.ip }] } : {}),
      startTime: pod.status?.startTime ?? timestamp(now),
      containerStatuses: statuses,
    };
    return [{ type: "update", object: { ...pod, status } }];
  }

  private teardown(key: string, sb: Sandbox, k: KubeletState | undefined): void {
    this.sandboxes.delete(key);
    const [ns = "", name = ""] = key.split("/");
    const network = k && sb.ip !== k.nodeIp ? k.network() : undefined;
    if (network) network.del({ containerId: sb.containerId, netns: sb.netns, ifName: "eth0", args: { K8S_POD_NAMESPACE: ns, K8S_POD_NAME: name, K8S_POD_INFRA_CONTAINER_ID: sb.containerId } });
  }
}

// Eight words, each as `toString(16).padStart(8, "0")` would write it, in one flat string.
const hexWords = Buffer.alloc(32);
function hex64(rng: Rng): string {
  for (let i = 0; i < 8; i += 1) hexWords.writeUInt32BE(rng.uint32(), i * 4);
  return hexWords.toString("hex");
}

function uuidLike(rng: Rng): string {
  const h = hex64(rng);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Go's `time.Duration.String()` for whole milliseconds: `2.318s`, `800ms`. */
export function goSeconds(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  return `${(ms / 1000).toFixed(3).replace(/\.?0+$/, "")}s`;
}
