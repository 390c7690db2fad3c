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
