/**
 * @module cluster/allocators/node-port
 * NodePort allocation (dataplane.md §6.3): range 30000-32767 by default, a static band of
 * `min(max(16, size/32), 128)` ports at the bottom, random-start scan of the upper band.
 * @see k8s.io/kubernetes/pkg/registry/core/service/portallocator
 */
import type { Rng } from "../../sim/rng.js";
import { BandAllocator } from "./band.js";
import type { Allocation } from "./service-ip.js";

/** The static-band size for a port range. */
export function nodePortOffset(size: number): number {
  if (size <= 16) return 0;
  return Math.min(Math.max(16, Math.floor(size / 32)), 128);
}

/** A port range `base-last`. */
export interface PortRange {
  readonly base: number;
  readonly last: number;
}

/** Parses `30000-32767` (the `--service-node-port-range` syntax); undefined when malformed. */
export function parsePortRange(text: string): PortRange | undefined {
  const m = /^(\d+)-(\d+)$/.exec(text.trim());
  if (!m) return undefined;
  const base = Number(m[1]);
  const last = Number(m[2]);
  if (base < 1 || last > 65535 || last < base) return undefined;
  return { base, last };
}

/** NodePort allocator. */
export class NodePortAllocator {
  private readonly bitmap: BandAllocator;

  constructor(
    readonly range: PortRange,
    rng: Rng,
  ) {
    const size = range.last - range.base + 1;
    this.bitmap = new BandAllocator(size, nodePortOffset(size), rng);
  }

  /** Allocates a random free port. */
  allocateNext(): Allocation<number> {
    const i = this.bitmap.allocateNext();
    if (i === undefined) return { ok: false, error: "Internal error occurred: failed to allocate a nodePort: range is full" };
    return { ok: true, value: this.range.base + i };
  }

  /** Allocates a chosen port; `field` is the path used in the message (`spec.ports[0].nodePort`). */
  allocate(port: number, field: string): Allocation<number> {
    const i = port - this.range.base;
    if (i < 0 || port > this.range.last) {
      return { ok: false, error: `${field}: Invalid value: ${port}: provided port is not in the valid range. The range of valid ports is ${this.range.base}-${this.range.last}` };
    }
    if (!this.bitmap.allocate(i)) return { ok: false, error: `${field}: Invalid value: ${port}: provided port is already allocated` };
    return { ok: true, value: port };
  }

  /** Whether a port is taken. */
  has(port: number): boolean {
    const i = port - this.range.base;
    return i >= 0 && port <= this.range.last && this.bitmap.has(i);
  }

  /** Frees a port. */
  release(port: number): void {
    const i = port - this.range.base;
    if (i >= 0 && port <= this.range.last) this.bitmap.release(i);
  }
}
