/**
 * @module cluster/controllers/garbage-collector
 * The garbage collector's background cascading deletion: when an owner is gone, its dependents
 * (objects whose ownerReferences name its UID) are deleted, so deleting a Deployment removes its
 * ReplicaSets and, through them, their pods.
 * @see k8s.io/kubernetes/pkg/controller/garbagecollector
 */
import { keyOf } from "../api/meta.js";
import type { Kind } from "../api/types.js";
import type { Action, Controller } from "./types.js";

const DEPENDENT_KINDS: readonly Kind[] = ["ReplicaSet", "Pod", "Job", "EndpointSlice"];

/** The controller; keys are `uid` of deleted owners. */
export const garbageCollector: Controller = {
  name: "garbage-collector",
  keysFor(e) {
    return e.type === "DELETED" && e.object.metadata.uid ? [e.object.metadata.uid] : [];
  },
  reconcile(uid, view) {
    const actions: Action[] = [];
    for (const kind of DEPENDENT_KINDS) {
      for (const o of view.ownedBy(kind, uid)) {
        if (!o.metadata.deletionTimestamp) actions.push({ type: "delete", kind, key: keyOf(o) });
      }
    }
    return actions;
  },
};
