/**
 * @module cluster/controllers/pods
 * Pod helpers the controllers share (k8s `pkg/api/v1/pod` and `controller_utils.go`): readiness,
 * activeness, the pod a template stamps out, owner references, and the ranking a ReplicaSet uses to
 * choose which pods to delete on scale-down.
 */
import type { KubeObject, OwnerReference } from "../api/meta.js";
import type { Pod, PodTemplateSpec } from "../api/types.js";

/** The Ready condition is True. */
export function isPodReady(p: Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
}

/** Not terminating and not finished (`controller.IsPodActive`). */
export function isPodActive(p: Pod): boolean {
  return p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed" && !p.metadata.deletionTimestamp;
}

/** A controller owner reference to `owner`. */
export function ownerRef(owner: KubeObject): OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid as string, controller: true, blockOwnerDeletion: true };
}

/** `[ownerRef(owner)]`, one array for every pod made while the owner's stored version is the same. */
function ownerRefs(owner: KubeObject): OwnerReference[] {
  let refs = ownerRefsMemo.get(owner.metadata);
  if (!refs) {
    refs = [ownerRef(owner)];
    ownerRefsMemo.set(owner.metadata, refs);
  }
  return refs;
}
const ownerRefsMemo = new WeakMap<KubeObject["metadata"], OwnerReference[]>();

/** The pod a template stamps out (`controller.GetPodFromTemplate`): generateName `<owner>-`, template labels and annotations, owner reference. */
export function podFromTemplate(t: PodTemplateSpec, owner: KubeObject, extraLabels?: Readonly<Record<string, string>>): Pod {
  // Without extra labels the pods share the template's labels object (objects from the store are never changed).
  const own = t.metadata?.labels;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "",
      generateName: `${owner.metadata.name}-`,
      namespace: owner.metadata.namespace as string,
      labels: extraLabels === undefined && own ? own : { ...(own ?? {}), ...extraLabels },
      ...(t.metadata?.annotations ? { annotations: t.metadata.annotations } : {}),
      ownerReferences: ownerRefs(owner),
    },
    spec: t.spec,
  };
}

const PHASE_RANK: Readonly<Record<string, number>> = { Pending: 0, Unknown: 1, Running: 2 };

/**
 * Orders pods so that the first are the ones to delete (`ActivePodsWithRanks.Less`): unscheduled
 * before scheduled, pending before running, not ready before ready, pods on nodes crowded with
 * replicas of the same set before others, then the newest first.
 */
export function deletionOrder(pods: readonly Pod[], replicasOnNode: ReadonlyMap<string, number>): Pod[] {
  return [...pods].sort((a, b) => {
    const sa = a.spec.nodeName ? 1 : 0;
    const sb = b.spec.nodeName ? 1 : 0;
    if (sa !== sb) return sa - sb;
    const pa = PHASE_RANK[a.status?.phase ?? "Pending"] ?? 0;
    const pb = PHASE_RANK[b.status?.phase ?? "Pending"] ?? 0;
    if (pa !== pb) return pa - pb;
    const ra = isPodReady(a) ? 1 : 0;
    const rb = isPodReady(b) ? 1 : 0;
    if (ra !== rb) return ra - rb;
    const na = replicasOnNode.get(a.spec.nodeName ?? "") ?? 0;
    const nb = replicasOnNode.get(b.spec.nodeName ?? "") ?? 0;
    if (na !== nb) return nb - na;
    const ta = a.metadata.creationTimestamp ?? "";
    const tb = b.metadata.creationTimestamp ?? "";
    if (ta !== tb) return ta < tb ? 1 : -1;
    return a.metadata.name < b.metadata.name ? 1 : -1;
  });
}
