/**
 * @module kernel/devices/vxlan-fdb
 * A VXLAN device's remotes (`bridge fdb … dev vxlan0 dst IP`): under flannel one per other node,
 * so a namespace copy shares the array with its source until either side changes it (copy on
 * write), and `vxlan_xmit` finds a MAC through an index kept until the next change.
 */
import { MAC_ZERO, type Ipv4, type Mac } from "../../net/addr.js";
import type { Vxlan, VxlanFdbEntry } from "../types.js";

/** Marks a device's remotes as shared with a namespace copy (both sides copy before changing them). */
export function shareVxlanFdb(d: Vxlan): void {
  shared.add(d.fdb);
}

/** VXLAN FDB arrays a namespace copy shares with its source. */
const shared = new WeakSet<readonly VxlanFdbEntry[]>();

/** A VXLAN device's FDB, made its own (entries copied) if a namespace copy shares it: call before changing it. */
export function ownVxlanFdb(d: Vxlan): VxlanFdbEntry[] {
  vxlanFdbIndexes.delete(d.fdb);
  if (shared.has(d.fdb)) (d as { fdb: VxlanFdbEntry[] }).fdb = d.fdb.map((e) => ({ ...e }));
  return d.fdb;
}

/** A VXLAN FDB by MAC (first entry per MAC, as a scan finds it) and its default remotes, in order. */
interface VxlanFdbIndex {
  readonly byMac: ReadonlyMap<Mac, VxlanFdbEntry>;
  readonly defaults: readonly Ipv4[];
}
const vxlanFdbIndexes = new WeakMap<readonly VxlanFdbEntry[], VxlanFdbIndex>();

/** The entry `vxlan_xmit` uses for `mac` (the first with that MAC), and the all-zeros remotes. */
export function vxlanFdbLookup(d: Vxlan, mac: Mac): { readonly exact: VxlanFdbEntry | undefined; readonly defaults: readonly Ipv4[] } {
  let ix = vxlanFdbIndexes.get(d.fdb);
  if (!ix) {
    const byMac = new Map<Mac, VxlanFdbEntry>();
    const defaults: Ipv4[] = [];
    for (const e of d.fdb) {
      if (!byMac.has(e.mac)) byMac.set(e.mac, e);
      if (e.mac === MAC_ZERO) defaults.push(e.dst);
    }
    ix = { byMac, defaults };
    vxlanFdbIndexes.set(d.fdb, ix);
  }
  return { exact: ix.byMac.get(mac), defaults: ix.defaults };
}

/**
 * Where each MAC first sits in a VXLAN FDB, for `bridge fdb replace/append` (flanneld replaces one
 * entry per other node: a scan each made a node's sync quadratic, 12.5 million comparisons at
 * 5,000 nodes). Entries are only appended, replaced in place with the same MAC, or removed; an
 * index is rebuilt when the array's length is not the one it was kept at, and a removal drops it.
 */
interface Positions {
  len: number;
  readonly first: Map<Mac, number>;
}
const positions = new WeakMap<readonly VxlanFdbEntry[], Positions>();

function positionsOf(fdb: readonly VxlanFdbEntry[]): Positions {
  let p = positions.get(fdb);
  if (!p || p.len !== fdb.length) {
    const first = new Map<Mac, number>();
    fdb.forEach((e, i) => {
      if (!first.has(e.mac)) first.set(e.mac, i);
    });
    p = { len: fdb.length, first };
    positions.set(fdb, p);
  }
  return p;
}

/** The position of the first entry with `mac`, or -1 (what `fdb.findIndex((e) => e.mac === mac)` gives). */
export function vxlanFdbFirst(fdb: readonly VxlanFdbEntry[], mac: Mac): number {
  const i = positionsOf(fdb).first.get(mac);
  if (i === undefined) return -1;
  if (fdb[i]?.mac === mac) return i;
  positions.delete(fdb);
  return fdb.findIndex((e) => e.mac === mac);
}

/** Appends an entry, keeping the index. */
export function vxlanFdbPush(fdb: VxlanFdbEntry[], e: VxlanFdbEntry): void {
  const p = positions.get(fdb);
  fdb.push(e);
  if (p && p.len === fdb.length - 1) {
    p.len = fdb.length;
    if (!p.first.has(e.mac)) p.first.set(e.mac, fdb.length - 1);
  }
}

/** Removes the entry at `i` (positions after it shift: the index goes). */
export function vxlanFdbRemove(fdb: VxlanFdbEntry[], i: number): void {
  positions.delete(fdb);
  fdb.splice(i, 1);
}
