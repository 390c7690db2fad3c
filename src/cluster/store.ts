/**
 * @module cluster/store
 * The versioned object store with watch: the etcd of the seeds. Every write bumps one global
 * `resourceVersion` and emits `{type, object}`; a watcher can start from any version still in the
 * log. Objects handed out are snapshots: callers build a new object and `update` it, never mutate
 * (sample-controller: "never modify objects from the store").
 *
 * Indexes (client-go's `Indexer`) let controllers find pods by owner or by node without scanning.
 */
import { keyOf } from "./api/meta.js";
import { ApiError, RESOURCE } from "./api/resource.js";
import type { AnyObject, Kind, ObjectOf } from "./api/types.js";

/** One change, as a watch delivers it. */
export interface WatchEvent {
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly object: AnyObject;
  /** The store's version after this change. */
  readonly resourceVersion: number;
}

type IndexFn = (o: AnyObject) => readonly string[];

/** How many changes the log keeps (older ones are compacted away). */
export const LOG_KEEP = 10_000;

interface IndexState {
  readonly fn: IndexFn;
  readonly map: Map<string, Set<string>>;
  /** Sorted keys per index value, dropped when that value's set changes. */
  readonly sorted: Map<string, string[]>;
}

/** The store. */
export class Store {
  private rv = 0;
  private readonly objects = new Map<Kind, Map<string, AnyObject>>();
  private readonly log: WatchEvent[] = [];
  private logStart = 1;
  private readonly watchers = new Set<(e: WatchEvent) => void>();
  private readonly indexes = new Map<string, IndexState>();
  private readonly indexesOf = new Map<Kind, IndexState[]>();
  /** Sorted keys per kind and per kind/namespace, rebuilt after a create or delete of that kind. */
  private readonly sorted = new Map<string, string[]>();

  /** The current resourceVersion (0 for an empty store). */
  get resourceVersion(): number {
    return this.rv;
  }

  /** The object of `kind` at `key` ("ns/name" or "name"), if any. */
  get<K extends Kind>(kind: K, key: string): ObjectOf<K> | undefined {
    return this.objects.get(kind)?.get(key) as ObjectOf<K> | undefined;
  }

  /** All objects of a kind (optionally in one namespace), sorted by key as etcd lists them. */
  list<K extends Kind>(kind: K, namespace?: string): ObjectOf<K>[] {
    const m = this.objects.get(kind);
    if (!m) return [];
    const id = namespace === undefined ? kind : `${kind}/${namespace}`;
    let keys = this.sorted.get(id);
    if (!keys) {
      const all = this.sorted.get(kind) ?? [...m.keys()].sort();
      this.sorted.set(kind, all);
      keys = namespace === undefined ? all : all.filter((k) => (m.get(k) as AnyObject).metadata.namespace === namespace);
      this.sorted.set(id, keys);
    }
    // A copy: callers may sort or splice what they get.
    return keys.map((k) => m.get(k) as ObjectOf<K>);
  }

  /** How many objects of a kind there are. */
  count(kind: Kind): number {
    return this.objects.get(kind)?.size ?? 0;
  }

  /** Stores a new object; its `resourceVersion` is set. */
  create<T extends AnyObject>(obj: T): T {
    const m = this.kindMap(obj.kind);
    const key = keyOf(obj);
    if (m.has(key)) throw new ApiError("AlreadyExists", `${RESOURCE[obj.kind]} "${obj.metadata.name}" already exists`);
    return this.write("ADDED", obj, m, key, undefined);
  }

  /** Replaces an object; `obj.metadata.resourceVersion` must be the stored one (optimistic concurrency). */
  update<T extends AnyObject>(obj: T): T {
    const m = this.kindMap(obj.kind);
    const key = keyOf(obj);
    const cur = m.get(key);
    if (!cur) throw new ApiError("NotFound", `${RESOURCE[obj.kind]} "${obj.metadata.name}" not found`);
    if (obj.metadata.resourceVersion !== undefined && obj.metadata.resourceVersion !== cur.metadata.resourceVersion) {
      throw new ApiError(
        "Conflict",
        `Operation cannot be fulfilled on ${RESOURCE[obj.kind]} "${obj.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    return this.write("MODIFIED", obj, m, key, cur);
  }

  /** Removes an object and returns it. */
  delete<K extends Kind>(kind: K, key: string): ObjectOf<K> {
    const m = this.kindMap(kind);
    const cur = m.get(key);
    if (!cur) throw new ApiError("NotFound", `${RESOURCE[kind]} "${key.split("/").pop() ?? key}" not found`);
    m.delete(key);
    this.resort(kind, key, cur.metadata.namespace, "remove");
    this.rv += 1;
    this.reindex(cur, undefined, key);
    this.emit({ type: "DELETED", object: cur, resourceVersion: this.rv });
    return cur as ObjectOf<K>;
  }

  /**
   * Watches every change after `fromVersion` (default: now). Changes already in the log are
   * delivered first, in order. Returns the function that stops the watch.
   * @throws ApiError "Expired" semantics as `Gone` when `fromVersion` was compacted away.
   */
  watch(fn: (e: WatchEvent) => void, fromVersion = this.rv): () => void {
    if (fromVersion + 1 < this.logStart) {
      throw new ApiError("BadRequest", `too old resource version: ${fromVersion} (${this.logStart - 1})`);
    }
    for (const e of this.log) {
      if (e.resourceVersion > fromVersion) fn(e);
    }
    this.watchers.add(fn);
    return () => {
      this.watchers.delete(fn);
    };
  }

  /** Drops log entries up to `version` (etcd compaction); watches from before it are refused. */
  compact(version = this.rv): void {
    let i = 0;
    while (i < this.log.length && (this.log[i] as WatchEvent).resourceVersion <= version) i += 1;
    this.log.splice(0, i);
    this.logStart = version + 1;
  }

  /** Adds an index over a kind (client-go `AddIndexers`). */
  addIndex(kind: Kind, name: string, fn: IndexFn): void {
    const state: IndexState = { fn, map: new Map(), sorted: new Map() };
    this.indexes.set(`${kind}/${name}`, state);
    this.indexesOf.set(kind, [...(this.indexesOf.get(kind) ?? []), state]);
    for (const [key, o] of this.objects.get(kind) ?? []) {
      for (const v of fn(o)) addTo(state.map, v, key);
    }
    state.sorted.clear();
  }

  /** Objects of `kind` whose index `name` yields `value`, sorted by key. */
  byIndex<K extends Kind>(kind: K, name: string, value: string): ObjectOf<K>[] {
    const state = this.indexes.get(`${kind}/${name}`);
    if (!state) throw new Error(`no index ${name} on ${kind}`);
    let keys = state.sorted.get(value);
    if (!keys) {
      keys = [...(state.map.get(value) ?? [])].sort();
      state.sorted.set(value, keys);
    }
    const m = this.objects.get(kind);
    return keys.map((k) => m?.get(k) as ObjectOf<K>);
  }

  private kindMap(kind: Kind): Map<string, AnyObject> {
    let m = this.objects.get(kind);
    if (!m) {
      m = new Map();
      this.objects.set(kind, m);
    }
    return m;
  }

  // Keeps the cached sorted key lists in step with a create (insert) or delete (remove).
  private resort(kind: Kind, key: string, ns: string | undefined, op: "insert" | "remove"): void {
    for (const id of [kind, ...(ns !== undefined ? [`${kind}/${ns}`] : [])]) {
      const a = this.sorted.get(id);
      if (!a) continue;
      let lo = 0;
      let hi = a.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((a[mid] as string) < key) lo = mid + 1;
        else hi = mid;
      }
      if (op === "insert") a.splice(lo, 0, key);
      else if (a[lo] === key) a.splice(lo, 1);
    }
  }

  private write<T extends AnyObject>(type: "ADDED" | "MODIFIED", obj: T, m: Map<string, AnyObject>, key: string, prev: AnyObject | undefined): T {
    if (!prev) this.resort(obj.kind, key, obj.metadata.namespace, "insert");
    this.rv += 1;
    const stored = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(this.rv) } } as T;
    m.set(key, stored);
    this.reindex(prev, stored, key);
    this.emit({ type, object: stored, resourceVersion: this.rv });
    return stored;
  }

  // Moves `key` between index values; a value whose set of keys did not change keeps its sorted list.
  private reindex(prev: AnyObject | undefined, next: AnyObject | undefined, key: string): void {
    const kind = (next ?? prev)?.kind as Kind;
    for (const state of this.indexesOf.get(kind) ?? []) {
      const before = prev ? state.fn(prev) : [];
      const after = next ? state.fn(next) : [];
      for (const v of before) {
        if (after.includes(v)) continue;
        state.map.get(v)?.delete(key);
        state.sorted.delete(v);
      }
      for (const v of after) {
        if (before.includes(v)) continue;
        addTo(state.map, v, key);
        state.sorted.delete(v);
      }
    }
  }

  private emit(e: WatchEvent): void {
    this.log.push(e);
    // The log is bounded, as etcd compacts: a watch can start from the last LOG_KEEP changes.
    if (this.log.length > 2 * LOG_KEEP) this.compact((this.log[this.log.length - LOG_KEEP - 1] as WatchEvent).resourceVersion);
    for (const w of [...this.watchers]) w(e);
  }
}

function addTo(map: Map<string, Set<string>>, v: string, key: string): void {
  let s = map.get(v);
  if (!s) {
    s = new Set();
    map.set(v, s);
  }
  s.add(key);
}
