/**
 * @module cluster/controllers/deployment
 * The Deployment controller: one ReplicaSet per pod template, named `<deployment>-<pod-template-hash>`;
 * a first rollout creates it at full size ("Scaled up replica set web-6d4cf56db6 from 0 to 3"),
 * `kubectl scale` resizes it, a template change rolls out under maxSurge / maxUnavailable (25% / 25%
 * by default), old sets scaled to 0 are kept (revision history).
 * @see k8s.io/kubernetes/pkg/controller/deployment/{sync.go,rolling.go}
 */
import type { LabelSelector } from "../api/meta.js";
import type { Deployment, ReplicaSet } from "../api/types.js";
import { podTemplateHash } from "../names.js";
import { event, ownerKeys, type Action, type Controller } from "./types.js";
import { ownerRef } from "./pods.js";
import { jsonEqual } from "../api/equal.js";

/** Resolves `25%` or `1` against a replica count (`intstr.GetScaledValueFromIntOrPercent`). */
export function scaledValue(v: unknown, total: number, roundUp: boolean): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && /^\d+%$/.test(v)) {
    const x = (Number(v.slice(0, -1)) * total) / 100;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  }
  if (typeof v === "string" && /^\d+$/.test(v)) return Number(v);
  return 0;
}

function surgeAndUnavailable(d: Deployment, replicas: number): { surge: number; unavailable: number } {
  const ru = (d.spec.strategy as { rollingUpdate?: { maxSurge?: unknown; maxUnavailable?: unknown } } | undefined)?.rollingUpdate;
  const surge = scaledValue(ru?.maxSurge ?? "25%", replicas, true);
  let unavailable = scaledValue(ru?.maxUnavailable ?? "25%", replicas, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

function newReplicaSet(d: Deployment, hash: string, replicas: number, revision: number): ReplicaSet {
  const t = d.spec.template;
  const labels = { ...(t.metadata?.labels ?? {}), "pod-template-hash": hash };
  const selector: LabelSelector = { ...d.spec.selector, matchLabels: { ...(d.spec.selector.matchLabels ?? {}), "pod-template-hash": hash } };
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name: `${d.metadata.name}-${hash}`,
      namespace: d.metadata.namespace as string,
      labels,
      annotations: { "deployment.kubernetes.io/desired-replicas": String(d.spec.replicas ?? 1), "deployment.kubernetes.io/max-replicas": String((d.spec.replicas ?? 1) + surgeAndUnavailable(d, d.spec.replicas ?? 1).surge), "deployment.kubernetes.io/revision": String(revision) },
      ownerReferences: [ownerRef(d)],
    },
    spec: { replicas, selector, template: { ...t, metadata: { ...(t.metadata ?? {}), labels } } },
  };
}

function scaleEvent(d: Deployment, rs: ReplicaSet, from: number, to: number): Action {
  return event(d, "Normal", "ScalingReplicaSet", `Scaled ${to > from ? "up" : "down"} replica set ${rs.metadata.name} from ${from} to ${to}`, "deployment-controller");
}

function revisionOf(rs: ReplicaSet): number {
  return Number(rs.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? "0");
}

/** The controller. */
export const deploymentController: Controller = {
  name: "deployment-controller",
  keysFor: ownerKeys("Deployment", "ReplicaSet"),
  reconcile(key, view) {
    const d = view.get("Deployment", key);
    if (!d || d.metadata.deletionTimestamp) return [];
    const all = view.ownedBy("ReplicaSet", d.metadata.uid as string);
    const hash = podTemplateHash(d.spec.template, d.status?.collisionCount ?? 0);
    const replicas = d.spec.replicas ?? 1;
    const actions: Action[] = [];
    const current = all.find((rs) => rs.metadata.labels?.["pod-template-hash"] === hash);
    const old = all.filter((rs) => rs !== current);
    const { surge, unavailable } = surgeAndUnavailable(d, replicas);
    const total = all.reduce((n, rs) => n + (rs.spec.replicas ?? 0), 0);
    if (d.spec.paused) return [];
    if (!current) {
      const maxTotal = replicas + surge;
      const size = old.length === 0 ? replicas : Math.max(0, Math.min(replicas, maxTotal - total));
      const revision = Math.max(0, ...all.map(revisionOf)) + 1;
      const rs = newReplicaSet(d, hash, size, revision);
      actions.push({ type: "create", object: rs });
      actions.push(scaleEvent(d, rs, 0, size));
      return actions;
    }
    const cur = current.spec.replicas ?? 0;
    const oldActive = old.filter((rs) => (rs.spec.replicas ?? 0) > 0);
    if (oldActive.length === 0) {
      if (cur !== replicas) {
        actions.push({ type: "update", object: { ...current, spec: { ...current.spec, replicas } } });
        actions.push(scaleEvent(d, current, cur, replicas));
      }
    } else {
      const maxTotal = replicas + surge;
      if (cur < replicas && total < maxTotal) {
        const to = Math.min(replicas, cur + (maxTotal - total));
        actions.push({ type: "update", object: { ...current, spec: { ...current.spec, replicas: to } } });
        actions.push(scaleEvent(d, current, cur, to));
      }
      const minAvailable = replicas - unavailable;
      const newUnavailable = cur - (current.status?.availableReplicas ?? 0);
      let budget = total - minAvailable - newUnavailable;
      for (const rs of [...oldActive].sort((a, b) => revisionOf(a) - revisionOf(b))) {
        if (budget <= 0) break;
        const from = rs.spec.replicas ?? 0;
        const to = Math.max(0, from - budget);
        budget -= from - to;
        actions.push({ type: "update", object: { ...rs, spec: { ...rs.spec, replicas: to } } });
        actions.push(scaleEvent(d, rs, from, to));
      }
    }
    const ready = all.reduce((n, rs) => n + (rs.status?.readyReplicas ?? 0), 0);
    const available = all.reduce((n, rs) => n + (rs.status?.availableReplicas ?? 0), 0);
    const have = all.reduce((n, rs) => n + (rs.status?.replicas ?? 0), 0);
    const updated = current.status?.replicas ?? 0;
    const status: Deployment["status"] = {
      observedGeneration: d.metadata.generation ?? 1,
      replicas: have,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: available,
      unavailableReplicas: Math.max(0, replicas - available),
    };
    if (!jsonEqual(status, d.status ?? {})) actions.push({ type: "update", object: { ...d, status } });
    return actions;
  },
};
