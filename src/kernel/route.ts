/**
 * @module kernel/route
 * IPv4 routing tables (`local` and `main`) with longest-prefix match, and source address
 * selection. The lookup follows `fib_lookup` with the default rules (`ip rule`: local 0, main
 * 32766): the `local` table first, then `main`; within a table the longest prefix wins, then the
 * lowest metric. A large table is indexed by prefix length (33 hash maps), so a lookup costs at most
 * 33 map probes however many routes there are (DESIGN decision 5) and gives the same answer as the
 * kernel's LC-trie.
 */
import type { Ipv4 } from "../net/addr.js";
import { maskOf } from "../net/cidr.js";
import { KernelError } from "./errors.js";
import type { IfAddr, Route } from "./types.js";

/** Up to this many routes a table is one sorted array (a pod's table has a handful). */
const SMALL = 16;

/**
 * One routing table. A small table is one array sorted by prefix length (longest first) then
 * metric, scanned in order; past SMALL routes it becomes the 33 per-length maps. Both give the
 * longest-prefix, lowest-metric accepted route, as `fib_table_lookup` does.
 */
export class RouteTable {
  /** The routes while the table is small, longest prefix first, then metric (insertion order on ties). */
  private small: Route[] | undefined = [];
  /** prefix length → network address → routes (sorted by metric), once the table is large. */
  private byLen: (Map<number, Route[]> | undefined)[] | undefined;
  private count = 0;
  /** The structure is shared with a clone: the first to change it copies it (copy on write). */
  private shared = false;

  /** A copy sharing the (immutable) route objects, and the table itself until either side changes. */
  clone(): RouteTable {
    const c = new RouteTable();
    c.small = this.small;
    c.byLen = this.byLen;
    c.count = this.count;
    c.shared = true;
    this.shared = true;
    return c;
  }

  // Makes the structure this table's own before a change.
  private own(): void {
    if (!this.shared) return;
    this.shared = false;
    if (this.small) this.small = this.small.slice();
    else {
      const byLen = new Array<Map<number, Route[]> | undefined>(33);
      (this.byLen ?? []).forEach((m, len) => {
        if (m) byLen[len] = new Map([...m].map(([k, rs]) => [k, rs.slice()]));
      });
      this.byLen = byLen;
    }
  }

  /** All routes in `ip route` order: ascending network, longer prefix first, then metric. */
  list(): Route[] {
    const all: Route[] = [];
    if (this.small) all.push(...this.small);
    else for (const m of this.byLen ?? []) if (m) for (const rs of m.values()) all.push(...rs);
    return all.sort((a, b) => a.dst.addr - b.dst.addr || b.dst.len - a.dst.len || a.metric - b.metric);
  }

  get size(): number {
    return this.count;
  }

  /** Routes with exactly this destination, lowest metric first. */
  exact(addr: Ipv4, len: number): readonly Route[] {
    if (this.small) return this.small.filter((r) => r.dst.addr === addr && r.dst.len === len);
    return this.byLen?.[len]?.get(addr) ?? [];
  }

  /** Adds a route; returns false if an identical destination/metric/type already exists (`RTNETLINK answers: File exists`). */
  add(r: Route): boolean {
    if (this.exact(r.dst.addr, r.dst.len).some((x) => x.metric === r.metric && sameKind(x, r))) return false;
    this.own();
    this.count++;
    if (this.small && this.count <= SMALL) {
      // After every route of a longer prefix, or of the same prefix and a metric no higher.
      let i = 0;
      while (i < this.small.length && smallBefore(this.small[i] as Route, r)) i++;
      this.small.splice(i, 0, r);
      return true;
    }
    if (this.small) {
      const old = this.small;
      this.small = undefined;
      this.byLen = new Array<Map<number, Route[]> | undefined>(33);
      for (const x of old) this.put(x);
    }
    this.put(r);
    return true;
  }

  private put(r: Route): void {
    const byLen = this.byLen as (Map<number, Route[]> | undefined)[];
    let m = byLen[r.dst.len];
    if (!m) {
      m = new Map();
      byLen[r.dst.len] = m;
    }
    const list = m.get(r.dst.addr);
    if (list) {
      list.push(r);
      list.sort((a, b) => a.metric - b.metric);
    } else {
      // A literal: exactly one slot (a pushed-to `[]` keeps 17; most destinations have one route).
      m.set(r.dst.addr, [r]);
    }
  }

  /** Removes the given routes of one destination (found with `exact`); returns how many went. */
  removeExact(addr: number, len: number, gone: readonly Route[]): number {
    if (gone.length === 0) return 0;
    this.own();
    if (this.small) {
      const before = this.small.length;
      this.small = this.small.filter((r) => !(r.dst.addr === addr && r.dst.len === len && gone.includes(r)));
      this.count -= before - this.small.length;
      return before - this.small.length;
    }
    const m = this.byLen?.[len];
    const rs = m?.get(addr);
    if (!m || !rs) return 0;
    const keep = rs.filter((r) => !gone.includes(r));
    if (keep.length === 0) m.delete(addr);
    else m.set(addr, keep);
    this.count -= rs.length - keep.length;
    return rs.length - keep.length;
  }

  /** Removes the routes `pred` selects; returns how many. */
  remove(pred: (r: Route) => boolean): number {
    this.own();
    let n = 0;
    if (this.small) {
      const keep = this.small.filter((r) => !pred(r));
      n = this.small.length - keep.length;
      this.small = keep;
    } else {
      for (const m of this.byLen ?? []) {
        if (!m) continue;
        for (const [k, rs] of m) {
          const keep = rs.filter((r) => !pred(r));
          n += rs.length - keep.length;
          if (keep.length === 0) m.delete(k);
          else if (keep.length !== rs.length) m.set(k, keep);
        }
      }
    }
    this.count -= n;
    return n;
  }

  /** Longest-prefix match; `accept` can skip candidates (e.g. routes whose device is down). */
  lookup(dst: Ipv4, accept: (r: Route) => boolean = acceptAny): Route | undefined {
    if (this.small) {
      for (const r of this.small) if (((dst & maskOf(r.dst.len)) >>> 0) === r.dst.addr && accept(r)) return r;
      return undefined;
    }
    const byLen = this.byLen as (Map<number, Route[]> | undefined)[];
    for (let len = 32; len >= 0; len--) {
      const m = byLen[len];
      if (!m || m.size === 0) continue;
      const net = (dst & maskOf(len)) >>> 0;
      const rs = m.get(net);
      if (!rs) continue;
      const r = rs.find(accept);
      if (r) return r;
    }
    return undefined;
  }
}

// Whether `x` stays before a new route `r` in a small table.
function smallBefore(x: Route, r: Route): boolean {
  return x.dst.len > r.dst.len || (x.dst.len === r.dst.len && x.metric <= r.metric);
}

// The kernel refuses a second route with the same destination, metric and table in the local
// table types (local/broadcast); in main, `ip route add` refuses any second route to the same
// prefix with the same metric.
function sameKind(a: Route, b: Route): boolean {
  return a.table === "main" || a.type === b.type;
}

/** Scope order as the kernel compares it: universe(global) 0 < link 253 < host 254. */
const SCOPE_RANK = { global: 0, link: 253, host: 254 } as const;

/**
 * `inet_select_addr(dev, dst, scope)`: the first primary address on `dev` whose scope is no wider
 * than `scope` and whose subnet contains `dst`; else the first such primary address on `dev`;
 * else the first non-link-scope address with a suitable scope on any device, in ifindex order.
 */
export function selectAddr(addrs: readonly IfAddr[], devOrder: readonly string[], dev: string, dst: Ipv4 | 0, scope: IfAddr["scope"]): Ipv4 | undefined {
  let first: Ipv4 | undefined;
  for (const a of addrs) {
    if (a.dev !== dev || a.secondary || SCOPE_RANK[a.scope] > SCOPE_RANK[scope]) continue;
    if (dst !== 0 && ((dst ^ a.addr) & maskOf(a.len)) >>> 0 === 0) return a.addr;
    first ??= a.addr;
  }
  if (first !== undefined) return first;
  for (const d of devOrder) {
    for (const a of addrs) {
      if (a.dev === d && a.scope !== "link" && SCOPE_RANK[a.scope] <= SCOPE_RANK[scope]) return a.addr;
    }
  }
  return undefined;
}

/**
 * The nexthop checks of `ip route add … via GW [dev DEV] [onlink] [scope S]` (fib_create_info,
 * then fib_check_nh_v4_gw): the device the route leaves by, or the kernel's refusal, thrown.
 * test/oracle/route-gateway.test.ts holds each answer to the real kernel's. `isUp` reads a
 * device's state (and refuses an unknown one).
 */
export function gatewayDevice(via: Ipv4, dev: string | undefined, opts: { readonly scope?: Route["scope"]; readonly onlink?: boolean }, local: RouteTable, main: RouteTable, isUp: (dev: string) => boolean): string | undefined {
  const gwType = local.lookup(via)?.type;
  if (opts.scope === "host") throw new KernelError(`Error: Route with host scope can not have a gateway.`);
  if (opts.onlink) {
    // Gateway 0.0.0.0 is no gateway, and the kernel takes onlink only with one.
    if (via === 0) throw new KernelError(`Error: Invalid flags for nexthop - PERVASIVE and ONLINK can not be set.`);
    if (opts.scope === "link") throw new KernelError(`Error: Nexthop has invalid scope.`);
    if (dev === undefined) throw new KernelError(`Error: Nexthop device required for onlink.`);
    if (!isUp(dev)) throw new KernelError(`Error: Nexthop device is not up.`);
    // Taken on faith as on the link, but it must be a unicast address there.
    if (gwType === "local" || gwType === "broadcast" || via >>> 28 === 0xe || via === 0xffffffff) throw new KernelError(`Error: Nexthop has invalid gateway.`);
    return dev;
  }
  // The gateway is looked up a scope above the route's: past link-scope routes for `scope link`,
  // so only one of the namespace's own addresses is found.
  if (opts.scope === "link") {
    if (gwType !== "local") throw new KernelError(`Error: Nexthop has invalid gateway.`);
    return dev;
  }
  // Otherwise it must be reachable through a link-scope route and not be a broadcast address.
  if (gwType === "broadcast") throw new KernelError(`Error: Nexthop has invalid gateway.`);
  const r = main.lookup(via, (x) => x.type === "unicast" && x.via === undefined && (dev === undefined || x.dev === dev));
  if (!r) throw new KernelError(`Error: Nexthop has invalid gateway.`);
  return dev ?? r.dev;
}

/**
 * A kernel (`proto kernel`) address route, built with one fixed shape. Routes are immutable: the
 * loopback's (127.0.0.0/8 and its local and broadcast addresses, the same in every namespace)
 * are shared between namespaces (`internRoute`) rather than built again in each.
 */
export function kernelRoute(dev: string, src: Ipv4, table: "local" | "main", type: "local" | "broadcast" | "unicast", addr: Ipv4, len: number, scope: "host" | "link"): Route {
  const r: Route = { dev, src, metric: 0, proto: "kernel", onlink: false, table, type, dst: { addr, len }, scope };
  return dev === "lo" ? internRoute(r) : r;
}

// The default filter of a lookup, one function for every call.
function acceptAny(): boolean {
  return true;
}

/**
 * Route objects are immutable, and most of a large cluster's are the same on every node: flannel
 * gives each node a route to every other node's subnet, identical everywhere (at 5,000 nodes,
 * 5,000 routes a node). Equal routes added anywhere share one object (its `dst` is the first
 * one's, equal by value). Bounded: past INTERN_ROUTES distinct routes the table starts again
 * (sharing is a saving, never a meaning).
 */
const INTERN_ROUTES = 200_000;
const interned = new Map<string, Route>();

export function internRoute(r: Route): Route {
  // Space-separated: no device name holds whitespace or is empty, so "" stands for none.
  const key = `${r.table} ${r.type} ${r.dst.addr}/${r.dst.len} ${r.dev ?? ""} ${r.via ?? ""} ${r.src ?? ""} ${r.metric} ${r.scope} ${r.proto ?? ""} ${r.onlink}`;
  const had = interned.get(key);
  if (had) return had;
  if (interned.size >= INTERN_ROUTES) interned.clear();
  interned.set(key, Object.freeze(r));
  return r;
}
