/**
 * @module netfilter/nat
 * Turns a NAT target into the translated tuple for a connection's first packet
 * (`nf_nat_setup_info` / `get_unique_tuple`):
 * - DNAT/SNAT pick the first address of the range (podwire does not model the kernel's
 *   hash-based choice among several addresses, and says so in docs/fidelity.md);
 * - a port range keeps the original port when it lies inside, else takes the low end;
 * - SNAT/MASQUERADE keep the source port when the resulting tuple is unused, otherwise (and
 *   always with `--random-fully`) take a port from 1024–65535 (or the `--to-ports` range) —
 *   from the seeded random source with `--random(-fully)`, else the first free one;
 * - MASQUERADE takes the address the outgoing interface would use as source (§7.4).
 */
import type { Ipv4 } from "../net/addr.js";
import type { Tuple } from "../net/tuple.js";
import type { NatDecision } from "./traverse.js";

/** What the caller knows to complete a binding. */
export interface NatEnv {
  /** The source address MASQUERADE uses on the outgoing interface (undefined: unknown). */
  readonly masqueradeAddr?: Ipv4;
  /** The address REDIRECT sends to (the incoming interface's primary address, or 127.0.0.1). */
  readonly redirectAddr?: Ipv4;
  /** Is this tuple (as a reply tuple) already taken? */
  readonly inUse: (t: Tuple) => boolean;
  /** Random source in [0,1). */
  readonly random: () => number;
}

/** The tuple after NAT, or a message when it cannot be computed. */
export type NatResult = { readonly ok: true; readonly tuple: Tuple; readonly manip: "dst" | "src" } | { readonly ok: false; readonly reason: string };

function pickPort(orig: number, lo: number, hi: number): number {
  return orig >= lo && orig <= hi ? orig : lo;
}

function srcPort(t: Tuple, addr: Ipv4, lo: number, hi: number, randomize: boolean, env: NatEnv): number {
  const candidate = (p: number): Tuple => ({ ...t, src: addr, sport: p });
  const inRange = t.sport >= lo && t.sport <= hi;
  if (!randomize && inRange && !env.inUse({ proto: t.proto, src: t.dst, sport: t.dport, dst: addr, dport: t.sport })) {
    return t.sport;
  }
  const size = hi - lo + 1;
  const start = randomize ? Math.floor(env.random() * size) : 0;
  for (let i = 0; i < size; i++) {
    const p = lo + ((start + i) % size);
    const c = candidate(p);
    if (!env.inUse({ proto: c.proto, src: c.dst, sport: c.dport, dst: c.src, dport: c.sport })) return p;
  }
  return t.sport;
}

/** Applies a NAT decision to a connection's original tuple. */
export function applyNat(t: Tuple, d: NatDecision, env: NatEnv): NatResult {
  const tg = d.target;
  switch (tg.kind) {
    case "DNAT": {
      const r = tg.ranges[0];
      if (!r) return { ok: false, reason: "DNAT without a range" };
      const dport = r.ports ? pickPort(t.dport, r.ports.lo, r.ports.hi) : t.dport;
      return { ok: true, manip: "dst", tuple: { ...t, dst: r.from as Ipv4, dport } };
    }
    case "REDIRECT": {
      if (env.redirectAddr === undefined) return { ok: false, reason: "REDIRECT needs the incoming interface's address" };
      const dport = tg.ports ? pickPort(t.dport, tg.ports.lo, tg.ports.hi) : t.dport;
      return { ok: true, manip: "dst", tuple: { ...t, dst: env.redirectAddr, dport } };
    }
    case "SNAT":
    case "MASQUERADE": {
      const addr = tg.kind === "SNAT" ? (tg.ranges[0]?.from as Ipv4 | undefined) : env.masqueradeAddr;
      if (addr === undefined) return { ok: false, reason: "MASQUERADE needs the outgoing interface's address" };
      const ports = tg.kind === "SNAT" ? tg.ranges[0]?.ports : "ports" in tg ? tg.ports : undefined;
      if (t.proto === "icmp") return { ok: true, manip: "src", tuple: { ...t, src: addr } };
      const [lo, hi] = ports ? [ports.lo, ports.hi] : t.sport < 1024 ? [t.sport < 512 ? 1 : 600, t.sport < 512 ? 511 : 1023] : [1024, 65535];
      const sport = srcPort(t, addr, lo, hi, tg.random || tg.randomFully, env);
      return { ok: true, manip: "src", tuple: { ...t, src: addr, sport } };
    }
  }
}
