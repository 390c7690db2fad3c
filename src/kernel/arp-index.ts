/**
 * @module kernel/arp-index
 * Who could do anything with a broadcast ARP request, for a trace's copy of the network
 * (`Network.segmentXmit` on the underlay, `Network.arpFloodPorts` on a bridge): each listener — a
 * NIC on a segment, the far end of a bridge's veth — classified as `Network.inertArpRequest` would
 * classify it in an uncopied namespace. A listener left out of `pickArpReceivers` would have taken
 * the request as inert: neither answered it nor kept anything from it.
 */
import type { Ipv4 } from "../net/addr.js";
import { maskOf } from "../net/cidr.js";
import type { NetNs } from "./netns.js";

/** A device that may receive the request: its namespace and name. */
export interface ArpListener {
  readonly ns: string;
  readonly dev: string;
}

/**
 * Listeners by position: the owners of each /32 local address, the owners of shorter local
 * prefixes, those that always get it (proxy_arp with forwarding, or a device the shortcut does not
 * cover), and by namespace (a namespace the copy already holds always gets it). `version` and
 * `peek` are the counts it was built at.
 */
export interface ArpIndex {
  readonly version: number;
  readonly peek: number;
  readonly owners: ReadonlyMap<number, readonly number[]>;
  readonly prefixes: readonly { readonly addr: number; readonly len: number; readonly nics: readonly number[] }[];
  readonly always: readonly number[];
  readonly byNs: ReadonlyMap<string, readonly number[]>;
  /** A bridge's ports, in order (the listeners are their far ends); empty for a segment. */
  readonly names: readonly string[];
}

/** Classifies each listener (undefined: deliver always), reading namespaces through `peekNs`. */
export function buildArpIndex(peekNs: (name: string) => NetNs | undefined, listeners: readonly (ArpListener | undefined)[], at: { readonly version: number; readonly peek: number }, names: readonly string[]): ArpIndex {
  const owners = new Map<number, number[]>();
  const prefixes = new Map<string, { addr: number; len: number; nics: number[] }>();
  const always: number[] = [];
  const byNs = new Map<string, number[]>();
  listeners.forEach((n, i) => {
    if (!n) return void always.push(i);
    byNs.set(n.ns, [...(byNs.get(n.ns) ?? []), i]);
    const ns = peekNs(n.ns);
    const dev = ns?.devices.get(n.dev);
    if (!ns || !dev || (dev.kind !== "nic" && dev.kind !== "veth") || !dev.up || dev.master !== undefined) return void always.push(i);
    const conf = ns.conf(dev.name);
    if (conf.proxyArp && conf.forwarding) return void always.push(i);
    for (const r of ns.local.list()) {
      if (r.type !== "local") continue;
      if (r.dst.len === 32) owners.set(r.dst.addr, [...(owners.get(r.dst.addr) ?? []), i]);
      else {
        const key = `${r.dst.addr}/${r.dst.len}`;
        const p = prefixes.get(key) ?? { addr: r.dst.addr, len: r.dst.len, nics: [] };
        p.nics.push(i);
        prefixes.set(key, p);
      }
    }
  });
  return { version: at.version, peek: at.peek, owners, prefixes: [...prefixes.values()], always, byNs, names };
}

/** The listeners (sorted positions) that must get a broadcast ARP request for `target`. */
export function pickArpReceivers(ix: ArpIndex, target: Ipv4, copied: Iterable<string>): number[] {
  const pick = new Set<number>(ix.always);
  for (const i of ix.owners.get(target) ?? []) pick.add(i);
  for (const p of ix.prefixes) if (((target ^ p.addr) & maskOf(p.len)) >>> 0 === 0) for (const i of p.nics) pick.add(i);
  for (const k of copied) for (const i of ix.byNs.get(k) ?? []) pick.add(i);
  return [...pick].sort((a, b) => a - b);
}
