/**
 * @module cluster/api/meta
 * Object metadata, owner references, labels and label selectors, as `k8s.io/apimachinery` defines
 * them. Objects are plain JSON records (what `kubectl get -o json` prints); the fields podwire does
 * not model stay in them untouched, as the apiserver keeps fields it knows but we ignore.
 */

/** `metav1.OwnerReference`. */
export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}

/** `metav1.ObjectMeta` (the modelled part). */
export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly generateName?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
  readonly deletionGracePeriodSeconds?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly OwnerReference[];
  readonly finalizers?: readonly string[];
}

/** Any API object: what the store holds. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
}

/** `metav1.LabelSelectorRequirement`. */
export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  readonly values?: readonly string[];
}

/** `metav1.LabelSelector`. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

/** `"namespace/name"` for namespaced objects, `"name"` for cluster-scoped ones (cache.MetaNamespaceKeyFunc). */
export function keyOf(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

/** The controller owner reference, if any (metav1.GetControllerOf). */
export function controllerOf(o: KubeObject): OwnerReference | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller === true);
}

/** Whether `labels` satisfy a `metav1.LabelSelector`. An empty selector matches everything, as in apps/v1. */
export function selectorMatches(sel: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (l[k] !== v) return false;
  }
  for (const r of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const val = l[r.key];
    switch (r.operator) {
      case "In":
        if (!has || !(r.values ?? []).includes(val as string)) return false;
        break;
      case "NotIn":
        if (has && (r.values ?? []).includes(val as string)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
    }
  }
  return true;
}

/** Whether a Service-style selector (a plain map) matches; an empty map matches nothing (a Service without selector). */
export function mapSelectorMatches(sel: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>> | undefined): boolean {
  const entries = Object.entries(sel);
  if (entries.length === 0) return false;
  const l = labels ?? {};
  return entries.every(([k, v]) => l[k] === v);
}

/** `labels.FormatLabels`-style `k=v,k2=v2` (sorted by key), `<none>` when empty, as kubectl prints selectors. */
export function formatLabels(l: Readonly<Record<string, string>> | undefined): string {
  const keys = Object.keys(l ?? {}).sort();
  if (keys.length === 0) return "<none>";
  return keys.map((k) => `${k}=${(l as Record<string, string>)[k]}`).join(",");
}
