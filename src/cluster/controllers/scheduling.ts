/**
 * @module cluster/controllers/scheduling
 * The scheduler as a control loop: every pending pod without a node (and `schedulerName:
 * default-scheduler`) is placed by `schedulePod` and bound ("Successfully assigned ns/pod to node"),
 * or left Pending with PodScheduled=False/Unschedulable and a `FailedScheduling` warning. Unschedulable
 * pods are retried when nodes or pods change, as the scheduling queue moves them back to active.
 */
import { controllerOf, keyOf, mapSelectorMatches } from "../api/meta.js";
import type { Pod } from "../api/types.js";
import type { Rng } from "../../sim/rng.js";
import { schedulePod } from "../scheduler.js";
import { timestamp } from "../time.js";
import { event, type Action, type Controller, type View } from "./types.js";
import { isPodActive } from "./pods.js";

function needsScheduling(p: Pod): boolean {
  return !p.spec.nodeName && !p.metadata.deletionTimestamp && (p.spec.schedulerName ?? "default-scheduler") === "default-scheduler" && isPodActive(p);
}

/** Pods per node that the system default spreading constraint counts for `pod`: same controller owner, else the same Services. */
function spreadCounts(pod: Pod, view: View): Map<string, number> {
  const counts = new Map<string, number>();
  const owner = controllerOf(pod);
  let peers: Pod[];
  if (owner) peers = view.ownedBy("Pod", owner.uid);
  else {
    const svcs = view.list("Service", pod.metadata.namespace).filter((s) => mapSelectorMatches(s.spec.selector ?? {}, pod.metadata.labels));
    if (svcs.length === 0) return counts;
    peers = view.list("Pod", pod.metadata.namespace).filter((p) => svcs.some((s) => mapSelectorMatches(s.spec.selector ?? {}, p.metadata.labels)));
  }
  for (const p of peers) if (p.spec.nodeName && !p.metadata.deletionTimestamp) counts.set(p.spec.nodeName, (counts.get(p.spec.nodeName) ?? 0) + 1);
  return counts;
}

/** The scheduler loop over a PRNG. */
export function schedulerController(rng: Rng): Controller {
  let startIndex = 0;
  const unschedulable = new Set<string>();
  return {
    name: "default-scheduler",
    keysFor(e) {
      const o = e.object;
      if (o.kind === "Pod") {
        if (e.type !== "DELETED" && needsScheduling(o)) return [keyOf(o)];
        if (e.type === "DELETED" || o.metadata.deletionTimestamp || o.status?.phase === "Succeeded" || o.status?.phase === "Failed") return [...unschedulable];
        return [];
      }
      if (o.kind === "Node") return [...unschedulable];
      return [];
    },
    reconcile(key, view) {
      const pod = view.get("Pod", key);
      if (!pod || !needsScheduling(pod)) {
        unschedulable.delete(key);
        return [];
      }
      const r = schedulePod({ pod, nodes: view.nodeInfos.list(), rng, startIndex, spreadCounts: spreadCounts(pod, view), nodeByName: (name) => view.nodeInfos.get(name) });
      startIndex = r.nextStartIndex;
      const now = timestamp(view.now());
      if (r.ok) {
        unschedulable.delete(key);
        const conditions = [{ type: "PodScheduled" as const, status: "True" as const, lastTransitionTime: now }];
        return [
          { type: "update", object: { ...pod, spec: { ...pod.spec, nodeName: r.node }, status: { ...pod.status, phase: "Pending", conditions } } },
          event(pod, "Normal", "Scheduled", `Successfully assigned ${key} to ${r.node}`, "default-scheduler"),
        ];
      }
      const already = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False" && c.message === r.message);
      unschedulable.add(key);
      if (already) return [];
      const actions: Action[] = [
        { type: "update", object: { ...pod, status: { ...pod.status, phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: r.message, lastTransitionTime: now }] } } },
        event(pod, "Warning", "FailedScheduling", r.message, "default-scheduler"),
      ];
      return actions;
    },
  };
}
