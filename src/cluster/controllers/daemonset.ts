/**
 * @module cluster/controllers/daemonset
 * The DaemonSet controller: one pod on every node that should run it (node affinity/selector of the
 * template, NoSchedule and NoExecute taints tolerated by the template plus the DaemonSet defaults),
 * pinned by a `metadata.name` node-affinity term and placed by the default scheduler, as since 1.12.
 * A pod keeps running on a node that later gets an untolerated NoSchedule taint; an untolerated
 * NoExecute taint or an affinity change removes it. Cordoned nodes still run daemon pods.
 * @see k8s.io/kubernetes/pkg/controller/daemon/{daemon_controller.go,util/daemonset_util.go}
 */
import { keyOf } from "../api/meta.js";
import type { DaemonSet, Node, Pod, Toleration } from "../api/types.js";
import { podTemplateHash } from "../names.js";
import { TAINT, firstUntolerated, nodeAffinityMatches } from "../taints.js";
import { event, ownerKeys, type Action, type Controller } from "./types.js";
import { isPodActive, isPodReady, podFromTemplate } from "./pods.js";
import { jsonEqual } from "../api/equal.js";

/** The tolerations the controller adds to every daemon pod (`AddOrUpdateDaemonPodTolerations`). */
export function daemonTolerations(hostNetwork: boolean): Toleration[] {
  const t: Toleration[] = [
    { key: TAINT.notReady, operator: "Exists", effect: "NoExecute" },
    { key: TAINT.unreachable, operator: "Exists", effect: "NoExecute" },
    { key: TAINT.diskPressure, operator: "Exists", effect: "NoSchedule" },
    { key: TAINT.memoryPressure, operator: "Exists", effect: "NoSchedule" },
    { key: TAINT.pidPressure, operator: "Exists", effect: "NoSchedule" },
    { key: TAINT.unschedulable, operator: "Exists", effect: "NoSchedule" },
  ];
  if (hostNetwork) t.push({ key: TAINT.networkUnavailable, operator: "Exists", effect: "NoSchedule" });
  return t;
}

function mergeTolerations(own: readonly Toleration[] | undefined, add: readonly Toleration[]): Toleration[] {
  const out = [...(own ?? [])];
  for (const t of add) if (!out.some((o) => o.key === t.key && o.effect === t.effect && o.operator === t.operator)) out.push(t);
  return out;
}

/** The pod the controller creates for `node`. */
export function daemonPod(ds: DaemonSet, node: string): Pod {
  const base = podFromTemplate(ds.spec.template, ds, { "controller-revision-hash": podTemplateHash(ds.spec.template), "pod-template-generation": String(ds.metadata.generation ?? 1) });
  return {
    ...base,
    spec: {
      ...base.spec,
      tolerations: mergeTolerations(base.spec.tolerations, daemonTolerations(base.spec.hostNetwork === true)),
      affinity: { ...(base.spec.affinity ?? {}), nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [node] }] }] } } },
    },
  };
}

/** `NodeShouldRunDaemonPod`: should a new pod go there, may an existing one stay. */
export function nodeShouldRun(ds: DaemonSet, node: Node): { shouldRun: boolean; shouldContinueRunning: boolean } {
  const pod = daemonPod(ds, node.metadata.name);
  if (!nodeAffinityMatches({ ...pod, spec: { ...pod.spec, affinity: ds.spec.template.spec.affinity ?? {} } }, node)) return { shouldRun: false, shouldContinueRunning: false };
  const tols = pod.spec.tolerations;
  if (firstUntolerated(node.spec.taints, tols, ["NoExecute"])) return { shouldRun: false, shouldContinueRunning: false };
  return { shouldRun: !firstUntolerated(node.spec.taints, tols, ["NoSchedule"]), shouldContinueRunning: true };
}

function daemonNode(p: Pod): string | undefined {
  return p.spec.nodeName ?? p.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms[0]?.matchFields?.[0]?.values?.[0];
}

const ownKeys = ownerKeys("DaemonSet", "Pod");

/** The controller. */
export const daemonSetController: Controller = {
  name: "daemonset-controller",
  keysFor(e, view) {
    if (e.object.kind === "Node") return view.list("DaemonSet").map(keyOf);
    return ownKeys(e);
  },
  reconcile(key, view) {
    const ds = view.get("DaemonSet", key);
    if (!ds || ds.metadata.deletionTimestamp) return [];
    const pods = view.ownedBy("Pod", ds.metadata.uid as string).filter(isPodActive);
    const byNode = new Map<string, Pod[]>();
    for (const p of pods) {
      const n = daemonNode(p) ?? "";
      byNode.set(n, [...(byNode.get(n) ?? []), p]);
    }
    const actions: Action[] = [];
    let desired = 0;
    let scheduled = 0;
    let ready = 0;
    let misscheduled = 0;
    for (const node of view.list("Node")) {
      const name = node.metadata.name;
      const { shouldRun, shouldContinueRunning } = nodeShouldRun(ds, node);
      const here = byNode.get(name) ?? [];
      byNode.delete(name);
      if (shouldRun) desired += 1;
      if (here.length > 0 && !shouldRun) misscheduled += 1;
      if (shouldRun && here.length === 0) {
        actions.push({ type: "create", object: daemonPod(ds, name), onCreated: { object: ds, reason: "SuccessfulCreate", prefix: "Created pod: ", component: "daemonset-controller" } });
      } else if (!shouldContinueRunning || here.length > 1) {
        for (const p of shouldContinueRunning ? here.slice(1) : here) {
          actions.push({ type: "delete", kind: "Pod", key: keyOf(p) });
          actions.push(event(ds, "Normal", "SuccessfulDelete", `Deleted pod: ${p.metadata.name}`, "daemonset-controller"));
        }
      }
      if (here.length > 0 && shouldContinueRunning) {
        scheduled += 1;
        if (here.some(isPodReady)) ready += 1;
      }
    }
    for (const orphans of byNode.values()) {
      for (const p of orphans) {
        actions.push({ type: "delete", kind: "Pod", key: keyOf(p) });
        actions.push(event(ds, "Normal", "SuccessfulDelete", `Deleted pod: ${p.metadata.name}`, "daemonset-controller"));
      }
    }
    const status: DaemonSet["status"] = { currentNumberScheduled: scheduled, desiredNumberScheduled: desired, numberAvailable: ready, numberMisscheduled: misscheduled, numberReady: ready, observedGeneration: ds.metadata.generation ?? 1, updatedNumberScheduled: scheduled };
    if (!jsonEqual(status, ds.status ?? {})) actions.push({ type: "update", object: { ...ds, status } });
    return actions;
  },
};
