/**
 * @module cluster/runtime
 * The one runner of every control loop (DESIGN decision 6): work queues fed by the store's watch,
 * reconciles in a fixed controller order, actions applied through the apiserver, events recorded
 * and aggregated as the EventRecorder does, and timers on the virtual clock.
 *
 * `settle()` drains the queues and follows "converge" timers (image pulls, a dead node's grace
 * period, a Job pod's run time), moving the clock to each, until nothing is left — bounded, so a
 * controller fight is reported instead of hanging. "Wall" timers (tolerationSeconds evictions,
 * CronJob schedules) fire only when `advance()` moves the clock past them.
 */
import type { Clock } from "../sim/clock.js";
import { MinHeap } from "../sim/heap.js";
import { controllerOf, type KubeObject } from "./api/meta.js";
import { ApiError } from "./api/resource.js";
import type { Event, Kind, ObjectOf } from "./api/types.js";
import type { ApiServer } from "./apiserver.js";
import type { Action, Controller, EventAction, View } from "./controllers/types.js";
import type { Kubelets } from "./kubelet.js";
import { NodeInfoCache } from "./node-info.js";
import { EPOCH_MS, timestamp } from "./time.js";

interface Timer {
  readonly at: number;
  readonly controller: number;
  readonly key: string;
  readonly kind: "converge" | "wall";
  readonly seq: number;
}

/** What one `settle()` did. */
export interface SettleReport {
  readonly reconciles: number;
  readonly writes: number;
  /** Virtual ms the clock moved while settling. */
  readonly elapsedMs: number;
}

/** The reconcile budget of one settle. */
export const SETTLE_LIMIT = 5_000_000;

/** The runner. */
export class Runtime {
  readonly nodeInfos = new NodeInfoCache();
  readonly view: View;
  private readonly queues: Set<string>[];
  private readonly converge = new MinHeap<Timer>(timerLess);
  private readonly wall = new MinHeap<Timer>(timerLess);
  /** The live timer per (controller, key, kind): a newer requeue replaces an older one. */
  private readonly liveTimers = new Map<string, number>();
  private timerSeq = 0;
  private eventSeq = 0;
  private writes = 0;
  /**
   * Recorded events by a hash of what the EventCorrelator compares (candidates are checked field by
   * field): each event's name (the string its metadata holds, so the index adds no string of its
   * own), several only when hashes collide. A large cluster records about six events per pod.
   */
  private readonly eventIndex = new Map<number, string | string[]>();
  /** Parts of events that many events have in common, one object or string each (see `recordEvent`). */
  private readonly eventParts = new EventParts();
  /** The clock ms of the last event's name, and that time in ns (its name's prefix before the sequence). */
  private eventNanosAt = Number.NaN;
  private eventNanosBase = 0n;

  constructor(
    private readonly api: ApiServer,
    private readonly clock: Clock,
    private readonly controllers: readonly Controller[],
    kubelets: Kubelets,
  ) {
    const store = api.store;
    store.addIndex("Pod", "owner", (o) => ownerIndex(o));
    store.addIndex("ReplicaSet", "owner", (o) => ownerIndex(o));
    store.addIndex("Job", "owner", (o) => ownerIndex(o));
    store.addIndex("EndpointSlice", "owner", (o) => ownerIndex(o));
    store.addIndex("Pod", "node", (o) => (o.kind === "Pod" && o.spec.nodeName ? [o.spec.nodeName] : []));
    store.addIndex("Pod", "label", (o) => Object.entries(o.metadata.labels ?? {}).map(([k, v]) => `${o.metadata.namespace ?? ""}\0${k}=${v}`));
    store.addIndex("Service", "selector", (o) => (o.kind === "Service" ? Object.entries(o.spec.selector ?? {}).map(([k, v]) => `${o.metadata.namespace ?? ""}\0${k}=${v}`) : []));
    store.addIndex("EndpointSlice", "service", (o) => {
      const svc = o.metadata.labels?.["kubernetes.io/service-name"];
      return svc !== undefined ? [`${o.metadata.namespace ?? ""}/${svc}`] : [];
    });
    this.queues = controllers.map(() => new Set<string>());
    this.view = {
      get: (kind, key) => store.get(kind, key),
      list: (kind, ns) => store.list(kind, ns),
      ownedBy: <K extends Kind>(kind: K, uid: string) => store.byIndex(kind, "owner", uid) as ObjectOf<K>[],
      podsOnNode: (node) => store.byIndex("Pod", "node", node),
      indexed: (kind, index, value) => store.byIndex(kind, index, value),
      nodeInfos: this.nodeInfos,
      now: () => clock.now(),
      leaseRenewTime: (node) => kubelets.leaseRenewTime(node, clock.now()),
      leaseRenewing: (node) => kubelets.running(node),
    };
    store.watch((e) => {
      this.nodeInfos.observe(e);
      if (e.object.kind === "Event") return;
      this.controllers.forEach((c, i) => {
        for (const k of c.keysFor(e, this.view)) (this.queues[i] as Set<string>).add(k);
      });
    });
  }

  /** Queues `key` for the controller named `name` (operations use it: a kubelet stopping, a node recovering). */
  enqueue(name: string, key: string): void {
    const i = this.controllers.findIndex((c) => c.name === name);
    if (i >= 0) (this.queues[i] as Set<string>).add(key);
  }

  /** Runs the control loops until nothing changes (see the module doc). */
  settle(): SettleReport {
    const start = this.clock.now();
    const writes0 = this.writes;
    let reconciles = this.drain(0);
    for (;;) {
      const next = this.peek(this.converge);
      const fired = this.fireDue(next === undefined ? this.clock.now() : Math.max(next.at, this.clock.now()));
      if (fired === 0) break;
      reconciles = this.drain(reconciles);
    }
    return { reconciles, writes: this.writes - writes0, elapsedMs: this.clock.now() - start };
  }

  /** Moves the clock forward by `ms`, firing every timer due on the way, then settles. */
  advance(ms: number): SettleReport {
    const start = this.clock.now();
    const target = start + ms;
    let reconciles = this.drain(0);
    for (;;) {
      const a = this.peek(this.converge)?.at ?? Infinity;
      const b = this.peek(this.wall)?.at ?? Infinity;
      const next = Math.min(a, b);
      if (next > target) break;
      this.fireDue(Math.max(next, this.clock.now()));
      reconciles = this.drain(reconciles);
    }
    if (this.clock.now() < target) this.clock.advance(target - this.clock.now());
    const r = this.settle();
    return { reconciles: reconciles + r.reconciles, writes: r.writes, elapsedMs: this.clock.now() - start };
  }

  /** Records an event outside any controller (operations: drain, scenario errors). */
  record(a: EventAction): void {
    this.recordEvent(a);
  }

  /** The earliest live timer of a heap (stale ones are dropped). */
  private peek(h: MinHeap<Timer>): Timer | undefined {
    for (let t = h.peek(); t !== undefined; t = h.peek()) {
      if (this.liveTimers.get(timerId(t)) === t.seq) return t;
      h.pop();
    }
    return undefined;
  }

  /** Fires every timer with `at <= t` (moving the clock to `t` first), in time order; returns how many fired. */
  private fireDue(t: number): number {
    if (t > this.clock.now()) this.clock.advance(t - this.clock.now());
    let n = 0;
    for (;;) {
      const a = this.peek(this.converge);
      const b = this.peek(this.wall);
      const next = a && (!b || timerLess(a, b)) ? a : b;
      if (!next || next.at > t) break;
      (next.kind === "converge" ? this.converge : this.wall).pop();
      this.liveTimers.delete(timerId(next));
      (this.queues[next.controller] as Set<string>).add(next.key);
      n += 1;
    }
    return n;
  }

  private drain(done: number): number {
    let n = done;
    let busy = true;
    while (busy) {
      busy = false;
      for (let i = 0; i < this.controllers.length; i += 1) {
        const q = this.queues[i] as Set<string>;
        if (q.size === 0) continue;
        busy = true;
        const keys = [...q];
        q.clear();
        const c = this.controllers[i] as Controller;
        for (const key of keys) {
          n += 1;
          if (n > SETTLE_LIMIT) throw new Error(`control plane did not settle after ${SETTLE_LIMIT} reconciles (last: ${c.name} ${key})`);
          this.apply(i, key, c.reconcile(key, this.view));
        }
      }
    }
    return n;
  }

  private apply(controller: number, key: string, actions: readonly Action[]): void {
    for (const a of actions) {
      try {
        switch (a.type) {
          case "create": {
            const created = this.api.create(a.object);
            this.writes += 1;
            if (a.onCreated) this.recordEvent({ type: "event", object: a.onCreated.object, eventType: "Normal", reason: a.onCreated.reason, message: a.onCreated.prefix + created.metadata.name, component: a.onCreated.component });
            break;
          }
          case "update":
            this.api.update(a.object);
            this.writes += 1;
            break;
          case "delete":
            this.api.delete(a.kind, a.key, a.gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds: a.gracePeriodSeconds });
            this.writes += 1;
            break;
          case "finalize-pod":
            this.api.finalizePod(a.key);
            this.writes += 1;
            break;
          case "event":
            this.recordEvent(a);
            break;
          case "requeue":
            {
              const timer: Timer = { at: a.at, controller, key: a.key, kind: a.timer, seq: (this.timerSeq += 1) };
              this.liveTimers.set(timerId(timer), timer.seq);
              (a.timer === "converge" ? this.converge : this.wall).push(timer);
            }
            break;
        }
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        if (e.reason === "Conflict" || e.reason === "NotFound") {
          (this.queues[controller] as Set<string>).add(key);
          continue;
        }
        if (a.type === "create") {
          const owner = a.onCreated?.object ?? a.object;
          this.recordEvent({ type: "event", object: owner, eventType: "Warning", reason: "FailedCreate", message: `Error creating: ${e.message}`, component: this.controllers[controller]?.name ?? "" });
          continue;
        }
        throw e;
      }
    }
  }

  /** The EventRecorder with the EventCorrelator's aggregation of identical events. */
  private recordEvent(a: EventAction): void {
    const o: KubeObject = a.object;
    const now = a.at ?? this.clock.now();
    const ns = o.metadata.namespace ?? "default";
    // The index holds a number per event, not the long key string (candidates are compared in full below).
    // As an int32 the key is a small integer, not a boxed number, in the index.
    const id = eventHash([ns, o.kind, o.metadata.name, o.metadata.uid ?? "", a.reason, a.message, a.component, a.host ?? ""]);
    const ts = timestamp(now);
    const store = this.api.store;
    const seen = this.eventIndex.get(id);
    for (const name of seen === undefined ? [] : typeof seen === "string" ? [seen] : seen) {
      const cur = store.get("Event", `${ns}/${name}`);
      if (!cur || cur.metadata.namespace !== ns || cur.involvedObject.kind !== o.kind || cur.involvedObject.name !== o.metadata.name || (cur.involvedObject.uid ?? "") !== (o.metadata.uid ?? "")) continue;
      if (cur.reason !== a.reason || cur.message !== a.message || cur.source.component !== a.component || (cur.source.host ?? "") !== (a.host ?? "")) continue;
      store.update({ ...cur, count: cur.count + 1, lastTimestamp: ts });
      return;
    }
    this.eventSeq += 1;
    if (this.eventNanosAt !== now) {
      this.eventNanosAt = now;
      this.eventNanosBase = BigInt(EPOCH_MS + now) * 1_000_000n;
    }
    const nanos = (this.eventNanosBase + BigInt(this.eventSeq)).toString(16);
    const name = `${o.metadata.name}.${nanos}`;
    const parts = this.eventParts;
    const ev: Event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace: ns, creationTimestamp: ts, uid: `event-${this.eventSeq}` },
      involvedObject: parts.involvedObject(o),
      reason: a.reason,
      message: parts.text(a.message),
      type: a.eventType,
      source: parts.source(a.component, a.host),
      count: 1,
      firstTimestamp: ts,
      lastTimestamp: ts,
      reportingComponent: a.component,
      reportingInstance: a.host ?? "",
    };
    store.create(ev);
    if (seen === undefined) this.eventIndex.set(id, name);
    else if (typeof seen === "string") this.eventIndex.set(id, [seen, name]);
    else seen.push(name);
  }
}

/** FNV-1a over the fields with a separator after each, as an int32 (no joined string is made: six per pod). */
function eventHash(fields: readonly string[]): number {
  let h = 0x811c9dc5;
  for (const f of fields) {
    for (let i = 0; i < f.length; i += 1) h = Math.imul(h ^ f.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0x1f, 0x01000193);
  }
  return h | 0;
}

/** How many distinct message texts `EventParts` keeps before it starts over. */
const EVENT_TEXTS_MAX = 50_000;

/**
 * One object for what events have in common, as objects read from the store are never changed
 * (store.ts): the `source` of every event one component on one host records, the
 * `involvedObject` of consecutive events about one object (a pod's Pulled, Created and Started),
 * and one string per message text ("Created container: nginx" is the same for every pod).
 * At 5,000 nodes a cluster holds about 900,000 events.
 */
class EventParts {
  private readonly sources = new Map<string, Event["source"]>();
  private readonly texts = new Map<string, string>();
  private last: Event["involvedObject"] | undefined;

  source(component: string, host: string | undefined): Event["source"] {
    const id = host ? `${component}\u001f${host}` : component;
    let s = this.sources.get(id);
    if (!s) {
      s = host ? { component, host } : { component };
      this.sources.set(id, s);
    }
    return s;
  }

  text(message: string): string {
    const t = this.texts.get(message);
    if (t !== undefined) return t;
    if (this.texts.size >= EVENT_TEXTS_MAX) this.texts.clear();
    this.texts.set(message, message);
    return message;
  }

  // The object reference an Event names, with the keys in the order the API writes them (each
  // present only when the object has it).
  involvedObject(o: KubeObject): Event["involvedObject"] {
    const { namespace, name, uid } = o.metadata;
    const l = this.last;
    if (l && l.name === name && l.kind === o.kind && l.namespace === namespace && l.uid === uid && l.apiVersion === o.apiVersion) return l;
    let ref: Event["involvedObject"];
    if (namespace && uid) ref = { kind: o.kind, namespace, name, uid, apiVersion: o.apiVersion };
    else if (namespace) ref = { kind: o.kind, namespace, name, apiVersion: o.apiVersion };
    else if (uid) ref = { kind: o.kind, name, uid, apiVersion: o.apiVersion };
    else ref = { kind: o.kind, name, apiVersion: o.apiVersion };
    this.last = ref;
    return ref;
  }
}

function timerLess(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function timerId(t: Timer): string {
  return `${t.controller}|${t.kind}|${t.key}`;
}

function ownerIndex(o: { metadata: { ownerReferences?: readonly { uid: string; controller?: boolean }[] } }): string[] {
  const c = controllerOf(o as KubeObject);
  return c ? [c.uid] : [];
}
