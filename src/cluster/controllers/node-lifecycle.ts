/**
 * @module cluster/controllers/node-lifecycle
 * The node lifecycle controller and the taint-eviction controller.
 *
 * - A node whose Lease has not been renewed for `nodeMonitorGracePeriod` (50 s, the default since
 *   v1.32) gets Ready=Unknown ("Kubelet stopped posting node status."), the taints
 *   `node.kubernetes.io/unreachable:NoSchedule` and `:NoExecute`, its pods Ready=False, and the
 *   event "Node NAME status is now: NodeNotReady". A node reporting Ready again loses the taints.
 * - Taint eviction: a pod that does not tolerate a NoExecute taint of its node is deleted at once;
 *   one tolerating it for `tolerationSeconds` (300 s, added by DefaultTolerationSeconds) is deleted
 *   when that time has passed since the taint was added ("Marking for deletion Pod ns/name"). On a
 *   dead node the deletion cannot complete: the pod stays Terminating until the kubelet returns.
 * @see k8s.io/kubernetes/pkg/controller/nodelifecycle/node_lifecycle_controller.go; pkg/controller/tainteviction
 */
import { keyOf } from "../api/meta.js";
import type { Node, NodeCondition, Pod, Taint } from "../api/types.js";
import { TAINT, toleratesTaint } from "../taints.js";
import { clockOf, timestamp } from "../time.js";
import { event, type Action, type Controller } from "./types.js";

/** `--node-monitor-grace-period` default: 50 s since v1.32 (kubernetes/kubernetes#126287; 40 s before). */
export const NODE_MONITOR_GRACE_MS = 50_000;

function readyCondition(n: Node): NodeCondition | undefined {
  return n.status?.conditions?.find((c) => c.type === "Ready");
}

const UNREACHABLE: readonly Taint["effect"][] = ["NoSchedule", "NoExecute"];

/** The node lifecycle controller. */
export const nodeLifecycleController: Controller = {
  name: "node-controller",
  keysFor(e) {
    return e.object.kind === "Node" && e.type !== "DELETED" ? [e.object.metadata.name] : [];
  },
  reconcile(key, view) {
    const node = view.get("Node", key);
    if (!node) return [];
    const now = view.now();
    const renew = view.leaseRenewTime(key);
    const ready = readyCondition(node);
    const actions: Action[] = [];
    // TaintNodesByCondition: spec.unschedulable ⇔ node.kubernetes.io/unschedulable:NoSchedule.
    const cordoned = node.spec.unschedulable === true;
    const hasCordonTaint = (node.spec.taints ?? []).some((t) => t.key === TAINT.unschedulable);
    if (cordoned !== hasCordonTaint) {
      const rest = (node.spec.taints ?? []).filter((t) => t.key !== TAINT.unschedulable);
      const next = cordoned ? [...rest, { key: TAINT.unschedulable, effect: "NoSchedule" as const, timeAdded: timestamp(now) }] : rest;
      return [{ type: "update", object: { ...node, spec: { ...node.spec, taints: next } } }];
    }
    const taints = node.spec.taints ?? [];
    const hasUnreachable = taints.some((t) => t.key === TAINT.unreachable);
    if (renew !== undefined && now - renew >= NODE_MONITOR_GRACE_MS) {
      if (ready?.status !== "Unknown") {
        const ts = timestamp(now);
        const conditions = (node.status?.conditions ?? []).map((c) => ({ ...c, status: "Unknown" as const, reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status.", lastTransitionTime: ts }));
        const newTaints = [...taints.filter((t) => t.key !== TAINT.unreachable && t.key !== TAINT.notReady), ...UNREACHABLE.map((effect) => ({ key: TAINT.unreachable, effect, timeAdded: ts }))];
        actions.push({ type: "update", object: { ...node, spec: { ...node.spec, taints: newTaints }, status: { ...node.status, conditions } } });
        actions.push(event(node, "Normal", "NodeNotReady", `Node ${key} status is now: NodeNotReady`, "node-controller"));
        for (const p of view.podsOnNode(key)) {
          if (p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) {
            const conds = (p.status.conditions ?? []).map((c) => (c.type === "Ready" || c.type === "ContainersReady" ? { ...c, status: "False" as const, lastTransitionTime: ts } : c));
            actions.push({ type: "update", object: { ...p, status: { ...p.status, conditions: conds } } });
            actions.push(event(p, "Warning", "NodeNotReady", "Node is not ready", "node-controller"));
          }
        }
      }
    } else if (renew !== undefined) {
      if (!view.leaseRenewing(key)) actions.push({ type: "requeue", key, at: renew + NODE_MONITOR_GRACE_MS, timer: "converge" });
      if (ready?.status === "True" && hasUnreachable) {
        actions.push({ type: "update", object: { ...node, spec: { ...node.spec, taints: taints.filter((t) => t.key !== TAINT.unreachable) } } });
      }
    }
    return actions;
  },
};

/** When a pod must leave a node with these taints: now, at a time, or never (undefined). */
export function evictionTime(pod: Pod, taints: readonly Taint[], now: number): number | undefined {
  let at: number | undefined;
  for (const t of taints) {
    if (t.effect !== "NoExecute") continue;
    const tols = (pod.spec.tolerations ?? []).filter((x) => toleratesTaint(x, t));
    if (tols.length === 0) return now;
    const secs = tols.map((x) => x.tolerationSeconds).filter((s): s is number => s !== undefined);
    if (secs.length < tols.length) continue;
    const added = t.timeAdded ? clockOf(t.timeAdded) : now;
    const due = added + Math.max(0, Math.min(...secs)) * 1000;
    at = at === undefined ? due : Math.min(at, due);
  }
  return at;
}

/** The taint-eviction controller; keys are pod keys. */
export const taintEvictionController: Controller = {
  name: "taint-eviction-controller",
  keysFor(e, view) {
    const o = e.object;
    if (o.kind === "Pod" && e.type !== "DELETED" && o.spec.nodeName) return [keyOf(o)];
    if (o.kind === "Node" && e.type !== "DELETED" && (o.spec.taints ?? []).some((t) => t.effect === "NoExecute")) return view.podsOnNode(o.metadata.name).map(keyOf);
    return [];
  },
  reconcile(key, view) {
    const pod = view.get("Pod", key);
    if (!pod || pod.metadata.deletionTimestamp || !pod.spec.nodeName) return [];
    const node = view.get("Node", pod.spec.nodeName);
    if (!node) return [];
    const now = view.now();
    const at = evictionTime(pod, node.spec.taints ?? [], now);
    if (at === undefined) return [];
    if (at > now) return [{ type: "requeue", key, at, timer: "wall" }];
    return [event(pod, "Normal", "TaintManagerEviction", `Marking for deletion Pod ${key}`, "taint-eviction-controller"), { type: "delete", kind: "Pod", key }];
  },
};
