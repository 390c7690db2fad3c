/**
 * @module cluster/taints
 * Taints, tolerations and node selectors as `k8s.io/api/core/v1` helpers and the scheduler's
 * `nodeaffinity` package evaluate them.
 * @see k8s.io/api/core/v1/toleration.go (ToleratesTaint); k8s.io/component-helpers/scheduling/corev1/nodeaffinity
 */
import type { Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration } from "./api/types.js";

/** Well-known taint keys (`k8s.io/api/core/v1/well_known_taints.go`). */
export const TAINT = {
  notReady: "node.kubernetes.io/not-ready",
  unreachable: "node.kubernetes.io/unreachable",
  unschedulable: "node.kubernetes.io/unschedulable",
  controlPlane: "node-role.kubernetes.io/control-plane",
  networkUnavailable: "node.kubernetes.io/network-unavailable",
  diskPressure: "node.kubernetes.io/disk-pressure",
  memoryPressure: "node.kubernetes.io/memory-pressure",
  pidPressure: "node.kubernetes.io/pid-pressure",
} as const;

/** `Toleration.ToleratesTaint`. */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (t.operator === "Exists") return true;
  return (t.value ?? "") === (taint.value ?? "");
}

/** The first taint (with an effect in `effects`) no toleration tolerates. */
export function firstUntolerated(taints: readonly Taint[] | undefined, tols: readonly Toleration[] | undefined, effects: readonly Taint["effect"][]): Taint | undefined {
  // Plain loops: the scheduler asks this of every node it filters, for every pod.
  if (!taints) return undefined;
  for (const taint of taints) {
    if (!effects.includes(taint.effect)) continue;
    let tolerated = false;
    for (const t of tols ?? NO_TOLERATIONS) {
      if (toleratesTaint(t, taint)) {
        tolerated = true;
        break;
      }
    }
    if (!tolerated) return taint;
  }
  return undefined;
}
const NO_TOLERATIONS: readonly Toleration[] = [];

function requirementMatches(r: NodeSelectorRequirement, value: string | undefined): boolean {
  const has = value !== undefined;
  switch (r.operator) {
    case "In":
      return has && (r.values ?? []).includes(value);
    case "NotIn":
      return !has || !(r.values ?? []).includes(value);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    case "Gt":
    case "Lt": {
      if (!has || !/^-?\d+$/.test(value) || !/^-?\d+$/.test(r.values?.[0] ?? "")) return false;
      const a = Number(value);
      const b = Number(r.values?.[0]);
      return r.operator === "Gt" ? a > b : a < b;
    }
  }
}

/** Whether one node selector term matches (an empty term matches nothing). */
export function termMatches(term: NodeSelectorTerm, node: Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata.labels ?? {};
  for (const r of exprs) if (!requirementMatches(r, labels[r.key])) return false;
  for (const r of fields) {
    if (r.key !== "metadata.name") return false;
    if (!requirementMatches(r, node.metadata.name)) return false;
  }
  return true;
}

/** nodeSelector and required node affinity (`GetRequiredNodeAffinity(pod).Match(node)`). */
export function nodeAffinityMatches(pod: Pod, node: Node): boolean {
  const labels = node.metadata.labels ?? {};
  const sel = pod.spec.nodeSelector;
  if (sel) for (const k in sel) if (labels[k] !== sel[k]) return false;
  const req = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (req) return req.nodeSelectorTerms.some((t) => termMatches(t, node));
  return true;
}

/** The sum of weights of preferred node-affinity terms that match. */
export function preferredAffinityScore(pod: Pod, node: Node): number {
  let s = 0;
  for (const p of pod.spec.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    if (termMatches(p.preference, node)) s += p.weight;
  }
  return s;
}

/** The `{key: value}` text the scheduler prints for an untolerated taint. */
export function formatTaintForMessage(t: Taint): string {
  return `{${t.key}: ${t.value ?? ""}}`;
}

/** `key=value:Effect` as kubectl describe prints taints. */
export function formatTaint(t: Taint): string {
  return `${t.key}${t.value ? `=${t.value}` : ""}:${t.effect}`;
}
