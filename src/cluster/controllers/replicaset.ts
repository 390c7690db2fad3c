/**
 * @module cluster/controllers/replicaset
 * The ReplicaSet controller: keep `spec.replicas` active pods, creating from the template
 * (`SuccessfulCreate`, "Created pod: NAME") or deleting by rank (`SuccessfulDelete`), and report
 * status. Terminating pods do not count, so a pod stuck Terminating on a dead node is replaced.
 * @see k8s.io/kubernetes/pkg/controller/replicaset/replica_set.go
 */
import { keyOf, selectorMatches } from "../api/meta.js";
import type { ReplicaSet } from "../api/types.js";
import { event, ownerKeys, type Action, type Controller } from "./types.js";
import { deletionOrder, isPodActive, isPodReady, podFromTemplate } from "./pods.js";
import { jsonEqual } from "../api/equal.js";

/** The controller. */
export const replicaSetController: Controller = {
  name: "replicaset-controller",
  keysFor: ownerKeys("ReplicaSet", "Pod"),
  reconcile(key, view) {
    const rs = view.get("ReplicaSet", key);
    if (!rs || rs.metadata.deletionTimestamp) return [];
    const owned = view.ownedBy("Pod", rs.metadata.uid as string);
    const active = owned.filter(isPodActive);
    const want = rs.spec.replicas ?? 1;
    const actions: Action[] = [];
    if (active.length < want) {
      for (let i = active.length; i < want; i += 1) {
        actions.push({ type: "create", object: podFromTemplate(rs.spec.template, rs), onCreated: { object: rs, reason: "SuccessfulCreate", prefix: "Created pod: ", component: "replicaset-controller" } });
      }
    } else if (active.length > want) {
      const perNode = new Map<string, number>();
      for (const p of active) if (p.spec.nodeName) perNode.set(p.spec.nodeName, (perNode.get(p.spec.nodeName) ?? 0) + 1);
      for (const p of deletionOrder(active, perNode).slice(0, active.length - want)) {
        actions.push({ type: "delete", kind: "Pod", key: keyOf(p) });
        actions.push(event(rs, "Normal", "SuccessfulDelete", `Deleted pod: ${p.metadata.name}`, "replicaset-controller"));
      }
    }
    const labeled = active.filter((p) => selectorMatches(rs.spec.template.metadata?.labels ? { matchLabels: rs.spec.template.metadata.labels } : {}, p.metadata.labels)).length;
    const ready = active.filter(isPodReady).length;
    const status: ReplicaSet["status"] = { replicas: active.length, fullyLabeledReplicas: labeled, readyReplicas: ready, availableReplicas: ready, observedGeneration: rs.metadata.generation ?? 1 };
    if (!jsonEqual(status, rs.status ?? {})) actions.push({ type: "update", object: { ...rs, status } });
    return actions;
  },
};
