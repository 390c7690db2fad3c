/**
 * @module cluster/controllers/types
 * The shape every control loop shares (DESIGN decision 6): a controller says which store changes
 * concern which of its keys, and reconciles one key at a time against what it reads, returning
 * actions. One runner (`cluster/runtime.ts`) applies the actions through the apiserver, records the
 * events, and keeps the virtual-clock timers. Level-triggered: a reconcile reads the current state,
 * never the change that woke it (k8s workqueue + `syncHandler`).
 */
import { controllerOf, keyOf, type KubeObject } from "../api/meta.js";
import type { AnyObject, Kind, ObjectOf } from "../api/types.js";
import type { NodeInfoCache } from "../node-info.js";
import type { WatchEvent } from "../store.js";

/** Read access to the cluster, as an informer cache gives it. */
export interface View {
  get<K extends Kind>(kind: K, key: string): ObjectOf<K> | undefined;
  list<K extends Kind>(kind: K, namespace?: string): ObjectOf<K>[];
  /** Objects of `kind` whose controller owner has this uid. */
  ownedBy<K extends Kind>(kind: K, ownerUid: string): ObjectOf<K>[];
  /** Pods bound to a node. */
  podsOnNode(node: string): ObjectOf<"Pod">[];
  /**
   * Objects of `kind` an index yields for `value` (an informer's `ByIndex`): Pods by
   * `label` (`ns\0key=value`), Services by `selector` (`ns\0key=value`), EndpointSlices by
   * `service` (`ns/name`).
   */
  indexed<K extends Kind>(kind: K, index: string, value: string): ObjectOf<K>[];
  readonly nodeInfos: NodeInfoCache;
  /**
   * The renew time (clock ms) of the node's Lease in kube-node-lease. A running kubelet renews it
   * every 10 s; podwire models that as "now" while the kubelet runs and the time it stopped after.
   */
  leaseRenewTime(node: string): number | undefined;
  /** Whether the Lease keeps being renewed (the kubelet runs). */
  leaseRenewing(node: string): boolean;
  /** Virtual time in ms since the run began. */
  now(): number;
}

/** An event to record (`record.EventRecorder.Eventf`). */
export interface EventAction {
  readonly type: "event";
  readonly object: KubeObject;
  readonly eventType: "Normal" | "Warning";
  readonly reason: string;
  readonly message: string;
  readonly component: string;
  readonly host?: string;
  /** Event time in clock ms (default now). */
  readonly at?: number;
}

/** An event recorded once a generated name is known: `prefix` + the created object's name. */
export interface CreatedEvent {
  readonly object: KubeObject;
  readonly reason: string;
  readonly prefix: string;
  readonly component: string;
}

/** What a reconcile asks the runner to do. */
export type Action =
  | { readonly type: "create"; readonly object: AnyObject; readonly onCreated?: CreatedEvent }
  | { readonly type: "update"; readonly object: AnyObject }
  | { readonly type: "delete"; readonly kind: Kind; readonly key: string; readonly gracePeriodSeconds?: number }
  | { readonly type: "finalize-pod"; readonly key: string }
  | EventAction
  /** Reconcile `key` again at clock time `at`. `converge` timers are part of settling; `wall` ones wait for `advance`. */
  | { readonly type: "requeue"; readonly key: string; readonly at: number; readonly timer: "converge" | "wall" };

/** A control loop. */
export interface Controller {
  readonly name: string;
  /** The keys of this controller a store change concerns. */
  keysFor(e: WatchEvent, view: View): readonly string[];
  /** Brings `key` toward its desired state. */
  reconcile(key: string, view: View): readonly Action[];
}

/** An event action for `object`. */
export function event(object: KubeObject, eventType: "Normal" | "Warning", reason: string, message: string, component: string, extra: { host?: string; at?: number } = {}): EventAction {
  return { type: "event", object, eventType, reason, message, component, ...extra };
}

/**
 * The keys of a controller of `kind` that owns objects of `childKind`: a change to one of its own
 * objects wakes that object, a change to a child wakes the child's controller owner (the informer
 * handlers every workload controller registers).
 */
export function ownerKeys(kind: Kind, childKind: Kind): (e: WatchEvent) => string[] {
  return (e) => {
    const o = e.object;
    if (o.kind === kind) return [keyOf(o)];
    if (o.kind === childKind) {
      const ref = controllerOf(o);
      if (ref?.kind === kind) return [`${o.metadata.namespace}/${ref.name}`];
    }
    return [];
  };
}
