/**
 * @module kernel/route
 * IPv4 routing tables (`local` and `main`) with longest-prefix match, and source address
 * selection. The lookup follows `fib_lookup` with the default rules (`ip rule`: local 0, main
 * 32766): the `local` table first, then `main`; within a table the longest prefix wins, then the
 * lowest metric. Tables are indexed by prefix length (33 hash maps), so a lookup costs at most 33
 * map probes however many routes there are (DESIGN decision 5) and gives the same answer as the
 * kernel's LC-trie.
 */
import type { Ipv4 } from "../net/addr.js";
import { maskOf } from "../net/cidr.js";
import type { IfAddr, Route } from "./types.js";

/** One routing table. */
export class RouteTable {
  /** prefix length → network address → routes (sorted by metric); a length's map made on first use. */
  private readonly byLen: (Map<number, Route[]> | undefined)[] = new Array<Map<number, Route[]> | undefined>(33);
  private count = 0;

  /** A copy sharing the (immutable) route objects. */
  clone(): RouteTable {
    const c = new RouteTable();
    this.byLen.forEach((m, len) => {
      if (m) c.byLen[len] = new Map([...m].map(([k, rs]) => [k, rs.slice()]));
    });
    c.count = this.count;
    return c;
  }

  /** All routes in `ip route` order: ascending network, longer prefix first, then metric. */
  list(): Route[] {
    const all: Route[] = [];
    for (const m of this.byLen) if (m) for (const rs of m.values()) all.push(...rs);
    return all.sort((a, b) => a.dst.addr - b.dst.addr || b.dst.len - a.dst.len || a.metric - b.metric);
  }

  get size(): number {
    return this.count;
  }

  /** Routes with exactly this destination. */
  exact(addr: Ipv4, len: number): readonly Route[] {
    return this.byLen[len]?.get(addr) ?? [];
  }

  /** Adds a route; returns false if an identical destination/metric/type already exists (`RTNETLINK answers: File exists`). */
  add(r: Route): boolean {
    let m = this.byLen[r.dst.len];
    if (!m) {
      m = new Map();
      this.byLen[r.dst.len] = m;
    }
    const list = m.get(r.dst.addr) ?? [];
    if (list.some((x) => x.metric === r.metric && sameKind(x, r))) return false;
    list.push(r);
    list.sort((a, b) => a.metric - b.metric);
    m.set(r.dst.addr, list);
    this.count++;
    return true;
  }

  /** Removes the routes `pred` selects; returns how many. */
  /** Removes the given routes of one destination (found with `exact`); returns how many went. */
  removeExact(addr: number, len: number, gone: readonly Route[]): number {
    const m = this.byLen[len];
    const rs = m?.get(addr);
    if (!m || !rs || gone.length === 0) return 0;
    const keep = rs.filter((r) => !gone.includes(r));
    if (keep.length === 0) m.delete(addr);
    else m.set(addr, keep);
    this.count -= rs.length - keep.length;
    return rs.length - keep.length;
  }

  remove(pred: (r: Route) => boolean): number {
    let n = 0;
    for (const m of this.byLen) {
      if (!m) continue;
      for (const [k, rs] of m) {
        const keep = rs.filter((r) => !pred(r));
        n += rs.length - keep.length;
        if (keep.length === 0) m.delete(k);
        else if (keep.length !== rs.length) m.set(k, keep);
      }
    }
    this.count -= n;
    return n;
  }

  /** Longest-prefix match; `accept` can skip candidates (e.g. routes whose device is down). */
  lookup(dst: Ipv4, accept: (r: Route) => boolean = () => true): Route | undefined {
    for (let len = 32; len >= 0; len--) {
      const m = this.byLen[len];
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
