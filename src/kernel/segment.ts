/**
 * @module kernel/segment
 * An underlay segment: the L2 network joining the nodes' and external hosts' NICs, a learning
 * switch as the materialized underlay bridge is. Its NIC list (one per node) is shared between a
 * network and a trace's copy of it until either side adds or removes a NIC (copy on write), and a
 * learned FDB port is checked against a set made once per list.
 */
import type { Fdb } from "./devices/fdb.js";

/** A NIC on a segment. */
export interface SegmentNic {
  readonly ns: string;
  readonly dev: string;
}

/**
 * An L2 segment joining NICs (a learning switch, as the materialized underlay bridge is). A
 * trace's copy of the network shares the NIC list (one per node) with its source until either
 * side adds or removes one (`segmentNicsMut`).
 */
export interface Segment {
  readonly name: string;
  nics: readonly SegmentNic[];
  /** The list is another segment's too: copy it before a change. */
  shared: boolean;
  readonly fdb: Fdb;
}

/** A NIC list's NICs as switch ports (`ns/dev`, as the FDB names them): made once per list, for every copy sharing it. */
const portSets = new WeakMap<readonly SegmentNic[], ReadonlySet<string>>();

/** The segment's NIC list, made its own, to change. */
export function segmentNicsMut(s: Segment): SegmentNic[] {
  if (s.shared) {
    s.nics = s.nics.slice();
    s.shared = false;
  }
  portSets.delete(s.nics);
  return s.nics as SegmentNic[];
}

/** Is `port` (`ns/dev`) one of the segment's NICs? */
export function onSegment(s: Segment, port: string): boolean {
  let ports = portSets.get(s.nics);
  if (!ports) portSets.set(s.nics, (ports = new Set(s.nics.map((n) => `${n.ns}/${n.dev}`))));
  return ports.has(port);
}
