/**
 * @module kernel/network
 * The machine room: every emulated namespace, the underlay segments between NICs, the virtual
 * clock, the seeded random source and the delivery queue (DESIGN decision 4). A device that
 * transmits enqueues a receive on the device at the other end; `drain()` runs the queue until it
 * is empty, with a hop limit so a forwarding loop is reported, never hung on. Neighbour
 * resolutions still unanswered when the queue runs dry fail after the kernel's 3 × 1 s of
 * probing (virtual time), which drops the packets waiting on them.
 */
import { MAC_BROADCAST, randomMac, type Ipv4, type Mac } from "../net/addr.js";
import type { EthernetFrame } from "../net/headers/types.js";
import { firstPacket } from "../net/packet.js";
import type { Tuple } from "../net/tuple.js";
import type { Chooser } from "../netfilter/explore.js";
import { createClock, type Clock } from "../sim/clock.js";
import { createRng, type Rng } from "../sim/rng.js";
import { Fdb } from "./devices/fdb.js";
import type { KernelEvent, KernelEventInput } from "./events.js";
import { ipLocalOut, netifReceive, type Kx, type SendOptions } from "./ip-pipeline.js";
import { buildArpIndex, pickArpReceivers, type ArpIndex, type ArpListener } from "./arp-index.js";
import { CopyOnRead } from "./copy-on-read.js";
import { KernelError, neighKey, NetNs, type NsHost } from "./netns.js";
import { newSkb, type Skb } from "./skb.js";
import type { Device } from "./types.js";
import { onSegment, segmentNicsMut, type Segment, type SegmentNic } from "./segment.js";

/** A receive waiting in the queue. */
export interface QueuedRx {
  readonly ns: string;
  readonly dev: string;
  readonly frame: EthernetFrame;
  readonly packetId: number;
  /** Over loopback the skb (conntrack, mark) survives. Always present (undefined), so every entry has one shape. */
  readonly skb: Skb | undefined;
}

/** A neighbour resolution in progress: what to do once the MAC is known, or when it fails. */
export interface PendingNeigh {
  readonly ns: string;
  readonly dev: string;
  readonly ip: Ipv4;
  readonly waiters: { readonly resume: (mac: Mac) => void; readonly fail: () => void }[];
  readonly since: number;
}

/** What the owner of a network does before a clone first reads one of its namespaces. */
export interface CloneHooks {
  /** Before the namespace is copied into the clone (bring it wholly up to date). */
  readonly beforeCopy?: (name: string) => void;
  /** Before its addresses and devices are read without copying it (bring those up to date). */
  readonly beforePeek?: (name: string) => void;
  /**
   * Before the clone decides, from the namespace's own addresses, links and sysctls, whether it
   * would answer an ARP request on a segment (bring those up to date, not what it knows of other
   * machines). Default: `beforePeek`.
   */
  readonly beforeAnswer?: (name: string) => void;
  /**
   * A number that changes whenever `beforePeek` could change a namespace it already brought up to
   * date (the owner's own generation): the clone's index of ARP responders is kept while it and
   * the source's own change count stay the same.
   */
  readonly peekVersion?: () => number;
}

/** Options for a network. */
export interface NetworkOptions {
  readonly seed?: number;
  /** Receives before a drain gives up and reports a loop (default 1,000). */
  readonly hopLimit?: number;
  readonly clock?: Clock;
}

/** Neighbour resolution gives up after mcast_probes (3) × retrans_time (1 s). */
export const NEIGH_FAIL_MS = 3000;

/** A set of namespaces and the wires between them. */
export class Network implements NsHost {
  readonly namespaces = new Map<string, NetNs>();
  readonly segments = new Map<string, Segment>();
  /** Set on a clone: see CloneHooks. */
  private beforePeek: ((name: string) => void) | undefined;
  private beforeAnswer: ((name: string) => void) | undefined;
  private peekVersion: (() => number) | undefined;
  /** Set on a clone: the network it copies. */
  private source: Network | undefined;
  /** Changes that can alter who answers an ARP request (NsHost.touched), and the indexes built at a count. */
  private arpVersion = 0;
  private readonly arpIndexes = new Map<string, ArpIndex>();
  readonly clock: Clock;
  readonly rng: Rng;
  readonly hopLimit: number;
  private readonly queue: QueuedRx[] = [];
  private readonly pending = new Map<string, PendingNeigh>();
  private readonly log: KernelEvent[] = [];
  private nextPacketId = 1;
  private seq = 0;
  /** How `statistic --mode random` decides; the tracer may swap in an exploring chooser. */
  choose: Chooser;
  /**
   * The owner's: called with a namespace's name before `ns` reads it, before a clone copies it, and
   * when `peer` or `peekNs` does not find it — the owner makes now what it left for later there
   * (node/dataplane.ts makes pod sandboxes when their node is first read). A clone asks its
   * source's.
   */
  materialize: ((name: string) => void) | undefined;

  constructor(opts: NetworkOptions = {}) {
    this.rng = createRng(opts.seed ?? 1);
    this.clock = opts.clock ?? createClock();
    this.hopLimit = opts.hopLimit ?? 1000;
    this.choose = (p) => this.rng.next() < p;
  }

  // ---- NsHost -----------------------------------------------------------------------------

  peer(ns: string): NetNs | undefined {
    return this.namespaces.get(ns) ?? (this.askOwner(ns) ? this.namespaces.get(ns) : undefined);
  }

  // Lets the owner of the first network (a clone's source, or its source's) bring a namespace up
  // to date (`materialize`); false when it has no such hook.
  private askOwner(name: string): boolean {
    let root: Network = this;
    while (root.source) root = root.source;
    if (!root.materialize) return false;
    root.materialize(name);
    return true;
  }

  randomMac(): Mac {
    return randomMac(() => this.rng.uint32());
  }

  now(): number {
    return this.asOf ?? this.clock.now();
  }

  /** Set while `at` runs. */
  private asOf: number | undefined;

  /**
   * Runs `fn` as of the earlier virtual time `t`: the namespaces read `t` as now (an FDB entry's
   * time, a neighbour's). For work its owner deferred: node/dataplane.ts makes a pod's devices
   * when its node is first read, as they were at the CNI ADD.
   */
  at(t: number, fn: () => void): void {
    const before = this.asOf;
    this.asOf = t;
    try {
      fn();
    } finally {
      this.asOf = before;
    }
  }

  touched(): void {
    this.arpVersion += 1;
  }

  // ---- building ---------------------------------------------------------------------------

  /** `ip netns add NAME`. */
  netnsAdd(name: string): NetNs {
    if (this.namespaces.has(name)) throw new KernelError(`Cannot create namespace file "/run/netns/${name}": File exists`);
    const ns = new NetNs(name, this);
    this.namespaces.set(name, ns);
    return ns;
  }

  /** `ip netns del NAME`: its devices go, and with them the far ends of its veths. */
  netnsDel(name: string): void {
    const ns = this.ns(name);
    for (const d of [...ns.devices.values()]) if (d.kind === "veth" && d.peerNs !== name) ns.linkDel(d.name);
    this.namespaces.delete(name);
    this.touched();
    for (const s of this.segments.values()) if (s.nics.some((n) => n.ns === name)) s.nics = segmentNicsMut(s).filter((n) => n.ns !== name);
  }

  /** A namespace by name, or throws `Cannot open network namespace "X"`. */
  ns(name: string): NetNs {
    this.askOwner(name);
    const ns = this.namespaces.get(name);
    if (!ns) throw new KernelError(`Cannot open network namespace "${name}": No such file or directory`);
    return ns;
  }

  /** Creates an underlay segment (an L2 switch). */
  segmentAdd(name: string): Segment {
    const s: Segment = { name, nics: [], shared: false, fdb: new Fdb() };
    this.segments.set(name, s);
    return s;
  }

  /** Adds a NIC in `ns` attached to `segment` (`ip link add … ` on the underlay). */
  nicAdd(ns: string, dev: string, segment: string, mac?: Mac): void {
    const seg = this.segments.get(segment) ?? this.segmentAdd(segment);
    this.ns(ns).linkAdd({ kind: "nic", name: dev, segment, ...(mac !== undefined ? { mac } : {}) });
    segmentNicsMut(seg).push({ ns, dev });
    this.touched();
  }

  // ---- running ----------------------------------------------------------------------------

  /** A new packet id. */
  packetId(): number {
    return this.nextPacketId++;
  }

  /** Records an event. */
  record(e: KernelEventInput): void {
    // Every caller passes a fresh object literal: it is stamped in place rather than copied.
    const ev = e as KernelEventInput & { seq: number; t: number };
    ev.seq = this.seq++;
    ev.t = this.clock.now();
    this.log.push(ev as KernelEvent);
  }

  /** Events recorded so far (and clears the log). */
  takeEvents(): KernelEvent[] {
    return this.log.splice(0, this.log.length);
  }

  /** Queues a frame for reception on `ns`/`dev`. */
  enqueue(rx: QueuedRx): void {
    this.queue.push(rx);
  }

  /** Registers a packet waiting for `ip` on `dev`; returns true if a resolution was already running. */
  waitNeigh(ns: string, dev: string, ip: Ipv4, waiter: PendingNeigh["waiters"][number]): boolean {
    const key = `${ns}|${dev}|${ip}`;
    const p = this.pending.get(key);
    if (p) {
      p.waiters.push(waiter);
      return true;
    }
    this.pending.set(key, { ns, dev, ip, waiters: [waiter], since: this.clock.now() });
    return false;
  }

  /** A neighbour answered: release the packets waiting on it. */
  neighResolved(ns: string, dev: string, ip: Ipv4, mac: Mac): void {
    const key = `${ns}|${dev}|${ip}`;
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    for (const w of p.waiters) w.resume(mac);
  }

  private kx(): Kx {
    return {
      net: this,
      record: (e) => this.record(e),
      now: () => this.clock.now(),
      choose: (p, site) => this.choose(p, site),
      random: () => this.rng.next(),
    };
  }

  /**
   * A socket in `ns` sends the first packet of `flow` (source 0.0.0.0 = let routing choose, as an
   * unbound socket does). Returns the packet id; call `drain()` to run it.
   */
  send(ns: string, flow: Omit<Tuple, "src"> & { readonly src?: Ipv4 }, opts: SendOptions = {}): number {
    const id = this.packetId();
    const pkt = firstPacket({ ...flow, src: flow.src ?? (0 as Ipv4) }, opts.payloadBytes ?? 0, {
      ...(opts.df !== undefined ? { df: opts.df } : {}),
      ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
    });
    ipLocalOut(this.kx(), this.ns(ns), newSkb(id, pkt, opts.mark ?? 0, "host", true), { ...opts, connect: true });
    return id;
  }

  /** Puts a frame on the wire into `ns`/`dev` (as if it arrived there). */
  inject(ns: string, dev: string, frame: EthernetFrame): number {
    const id = this.packetId();
    this.enqueue({ ns, dev, frame, packetId: id, skb: undefined });
    return id;
  }

  /** Runs the queue until nothing is left to deliver; returns the events recorded meanwhile. */
  drain(): KernelEvent[] {
    const k = this.kx();
    for (let rounds = 0; rounds < 16; rounds++) {
      let hops = 0;
      for (let rx = this.queue.shift(); rx; rx = this.queue.shift()) {
        if (++hops > this.hopLimit) {
          this.record({ kind: "drop", packetId: rx.packetId, ns: rx.ns, reason: "hop-limit", text: `gave up after ${this.hopLimit} deliveries: a forwarding or bridging loop`, dev: rx.dev });
          this.queue.length = 0;
          break;
        }
        if (this.inertArpRequest(rx)) continue;
        // Run on the owner's own network (not a copy, whose copies ask as they are made), a frame
        // reaching a namespace lets the owner bring it up to date first.
        this.materialize?.(rx.ns);
        const ns = this.namespaces.get(rx.ns);
        const dev = ns?.devices.get(rx.dev);
        if (!ns || !dev) continue;
        netifReceive(k, ns, dev, rx.frame, rx.packetId, rx.skb);
      }
      if (this.pending.size === 0) break;
      // Nothing answered: the resolutions time out (INCOMPLETE → FAILED) in virtual time.
      const oldest = Math.min(...[...this.pending.values()].map((p) => p.since));
      const wait = oldest + NEIGH_FAIL_MS - this.clock.now();
      if (wait > 0) this.clock.advance(wait);
      const failed = [...this.pending.values()];
      this.pending.clear();
      for (const p of failed) {
        const ns = this.namespaces.get(p.ns);
        const n = ns?.neigh.get(neighKey(p.dev, p.ip));
        if (n && n.state === "INCOMPLETE") n.state = "FAILED";
        for (const w of p.waiters) w.fail();
      }
    }
    return this.takeEvents();
  }

  /**
   * A broadcast ARP request reaching a NIC of a namespace not yet copied into this clone, which
   * would neither answer it (not one of its addresses, no proxy_arp) nor keep anything from it
   * (`arp_process` learns the asker only when it answers): the receive is recorded and the
   * namespace left uncopied. Without this, one ARP on the underlay copies every node.
   */
  private inertArpRequest(rx: QueuedRx): boolean {
    const nss = this.namespaces;
    if (!(nss instanceof CopyOnRead) || rx.skb) return false;
    const f = rx.frame;
    if (f.dst !== MAC_BROADCAST || f.payload.kind !== "arp" || f.payload.op !== 1) return false;
    this.beforePeek?.(rx.ns);
    const ns = nss.peek(rx.ns);
    if (!ns) return false;
    const dev = ns.devices.get(rx.dev);
    if (!dev || (dev.kind !== "nic" && dev.kind !== "veth") || !dev.up || dev.master !== undefined) return false;
    const arp = f.payload;
    if (ns.isLocal(arp.targetIp)) return false;
    const conf = ns.conf(dev.name);
    if (conf.proxyArp && conf.forwarding) return false;
    this.record({ kind: "dev.rx", packetId: rx.packetId, ns: rx.ns, dev: rx.dev, frame: f });
    return true;
  }

  /** A namespace to read without copying it into a clone (see CopyOnRead.peek): never write to it. */
  peekNs(name: string): NetNs | undefined {
    const nss = this.namespaces;
    const found = nss instanceof CopyOnRead ? (nss.peek(name) as NetNs | undefined) : nss.get(name);
    if (found || !this.askOwner(name)) return found;
    return nss instanceof CopyOnRead ? (nss.peek(name) as NetNs | undefined) : nss.get(name);
  }

  /**
   * Delivers a frame a NIC transmits to the other NICs of its segment (learning switch). In a
   * clone, a broadcast ARP request goes only to the NICs that could answer or keep anything from
   * it (`arpIndex`), and to those of namespaces the clone already copied: the others would take it
   * as inert (`inertArpRequest`), so their receives are left out of the clone's events, and one
   * ARP costs the answerers, not every node of the segment.
   */
  segmentXmit(from: { readonly ns: string; readonly dev: string }, segment: string, frame: EthernetFrame, packetId: number): void {
    const seg = this.segments.get(segment);
    if (!seg) return;
    const now = this.clock.now();
    seg.fdb.learn(frame.src, `${from.ns}/${from.dev}`, now);
    const known = frame.dst === MAC_BROADCAST ? undefined : seg.fdb.lookup(frame.dst, now, 300_000);
    const arp = frame.dst === MAC_BROADCAST && frame.payload.kind === "arp" && frame.payload.op === 1 ? frame.payload : undefined;
    if (known?.port !== undefined) {
      // A learned destination: the one NIC on that port, if it is still on the segment (a
      // namespace's NICs are named `ns/dev`; a device name has no "/").
      const cut = known.port.lastIndexOf("/");
      const ns = known.port.slice(0, cut);
      const dev = known.port.slice(cut + 1);
      if ((ns !== from.ns || dev !== from.dev) && onSegment(seg, known.port)) this.enqueue({ ns, dev, frame, packetId, skb: undefined });
      return;
    }
    const only = arp ? this.arpCandidates(segment, seg, arp.targetIp) : undefined;
    const nics = only ? only.map((i) => seg.nics[i] as SegmentNic) : seg.nics;
    for (const n of nics) {
      if (n.ns === from.ns && n.dev === from.dev) continue;
      this.enqueue({ ns: n.ns, dev: n.dev, frame, packetId, skb: undefined });
    }
  }

  // The NICs (positions, in segment order) a broadcast ARP request for `target` must reach in a
  // clone; undefined to flood them all (not a clone, or its segment differs from the source's).
  private arpCandidates(name: string, seg: Segment, target: Ipv4): number[] | undefined {
    const nss = this.namespaces;
    if (!(nss instanceof CopyOnRead)) return undefined;
    const ix = this.arpIndex(name, seg);
    return ix ? pickArpReceivers(ix, target, nss.copiedKeys()) : undefined;
  }

  /** The ARP index (kernel/arp-index.ts) of a segment's NICs, if the segment is the source's. */
  private arpIndex(name: string, seg: Segment): ArpIndex | undefined {
    const sseg = this.source?.segments.get(name);
    // Its positions are valid for the very list it was made from: a copy that added or removed a NIC floods.
    if (!sseg || sseg.nics !== seg.nics) return undefined;
    return this.sourceArpIndex(name, () => ({ list: sseg.nics }));
  }

  /**
   * The source network's ARP index under `key`, kept while neither the source changed (`touched`)
   * nor the owner's `peekVersion`; else made again from `listeners()`, each listener's namespace
   * first brought up to date through `beforeAnswer` (proxy_arp answers from routes: a NIC with it
   * on is always delivered to, so its routes are read, after beforePeek, only when reached).
   */
  private sourceArpIndex(key: string, listeners: (src: Network) => { readonly list: readonly (ArpListener | undefined)[]; readonly names?: readonly string[] }): ArpIndex | undefined {
    const src = this.source;
    if (!src) return undefined;
    const peek = this.peekVersion?.() ?? 0;
    const had = src.arpIndexes.get(key);
    if (had && had.version === src.arpVersion && had.peek === peek) return had;
    const { list, names = [] } = listeners(src);
    for (const n of list) if (n) (this.beforeAnswer ?? this.beforePeek)?.(n.ns);
    const ix = buildArpIndex((n) => src.peekNs(n), list, { version: src.arpVersion, peek }, names);
    src.arpIndexes.set(key, ix);
    return ix;
  }

  /**
   * The ports (positions in `ports`) through which a bridge in a clone must flood a broadcast ARP
   * request: those whose far end could answer it or keep anything from it, those whose far end
   * the clone already copied, and every port that is not a veth. Undefined: all of them (not a
   * clone, not an ARP request, or the bridge's ports differ from the source's). The far ends left
   * out would take it as inert (`inertArpRequest`), as on the underlay (`segmentXmit`): the
   * bridge's transmits are still recorded, their receives are not, and a pod's ARP for its
   * gateway costs the answerers, not every pod on the node.
   */
  arpFloodPorts(ns: string, bridge: string, ports: readonly Device[], frame: EthernetFrame): ReadonlySet<number> | undefined {
    const nss = this.namespaces;
    if (!(nss instanceof CopyOnRead) || frame.dst !== MAC_BROADCAST || frame.payload.kind !== "arp" || frame.payload.op !== 1) return undefined;
    const ix = this.sourceArpIndex(`${ns}\0${bridge}`, (s) => {
      const sports = [...(s.peekNs(ns)?.devices.values() ?? [])].filter((d) => d.master === bridge);
      return { list: sports.map((d) => (d.kind === "veth" ? { ns: d.peerNs, dev: d.peer } : undefined)), names: sports.map((d) => d.name) };
    });
    if (!ix) return undefined;
    const names = ix.names;
    if (names.length !== ports.length || ports.some((d, i) => d.name !== names[i])) return undefined;
    return new Set(pickArpReceivers(ix, frame.payload.targetIp, nss.copiedKeys()));
  }

  /**
   * A deep copy: a trace can run on it and leave this network untouched. With `seed`, the copy's
   * random source (MASQUERADE ports, statistic choices) starts from it and this network's own is
   * not drawn from, so the same trace twice gives the same answer. Namespaces are copied when
   * first read.
   */
  clone(seed?: number, hooks: CloneHooks = {}): Network {
    const c = new Network({ seed: seed ?? this.rng.uint32(), hopLimit: this.hopLimit, clock: createClock(this.clock.now()) });
    // Copy on first use: a trace touches a handful of the namespaces (DESIGN decision 5).
    // The hooks let the owner bring a namespace up to date just before it is first read.
    if (hooks.beforePeek) c.beforePeek = hooks.beforePeek;
    if (hooks.peekVersion) c.peekVersion = hooks.peekVersion;
    if (hooks.beforeAnswer) c.beforeAnswer = hooks.beforeAnswer;
    c.source = this;
    (c as { namespaces: Map<string, NetNs> }).namespaces = new CopyOnRead(this.namespaces, (ns) => {
      this.askOwner(ns.name);
      hooks.beforeCopy?.(ns.name);
      return ns.cloneInto(c);
    });
    for (const [name, s] of this.segments) {
      s.shared = true;
      c.segments.set(name, { name, nics: s.nics, shared: true, fdb: s.fdb.clone() });
    }
    c.nextPacketId = this.nextPacketId;

    return c;
  }
}
