/**
 * @module cluster/allocators/band
 * The bitmap allocator with a static (lower) band that the apiserver uses for ClusterIPs (KEP-3070)
 * and NodePorts (KEP-3668): dynamic allocations start at a random index of the upper band and scan
 * forward with wrap-around; only when the upper band is full do they scan the lower band the same
 * way. User-chosen values may be anywhere.
 * @see k8s.io/kubernetes/pkg/registry/core/service/allocator/bitmap.go (randomScanStrategyWithOffset)
 */
import type { Rng } from "../../sim/rng.js";

/** A bitmap over `size` indexes with a lower band of `offset` indexes. */
export class BandAllocator {
  private readonly bits: Uint8Array;
  private used = 0;

  constructor(
    readonly size: number,
    readonly offset: number,
    private readonly rng: Rng,
  ) {
    this.bits = new Uint8Array(size);
  }

  /** How many indexes are taken. */
  get count(): number {
    return this.used;
  }

  /** Whether index `i` is taken. */
  has(i: number): boolean {
    return this.bits[i] === 1;
  }

  /** Takes a specific index; false when it is already taken. */
  allocate(i: number): boolean {
    if (this.bits[i] === 1) return false;
    this.bits[i] = 1;
    this.used += 1;
    return true;
  }

  /** Takes the next index by the band strategy; undefined when full. */
  allocateNext(): number | undefined {
    if (this.used >= this.size) return undefined;
    const upper = this.size - this.offset;
    if (upper > 0) {
      const start = this.rng.int(0, upper - 1);
      for (let k = 0; k < upper; k += 1) {
        const at = this.offset + ((start + k) % upper);
        if (this.bits[at] === 0) return this.take(at);
      }
    }
    if (this.offset > 0) {
      const start = this.rng.int(0, this.offset - 1);
      for (let k = 0; k < this.offset; k += 1) {
        const at = (start + k) % this.offset;
        if (this.bits[at] === 0) return this.take(at);
      }
    }
    return undefined;
  }

  /** Frees an index (no-op when free). */
  release(i: number): void {
    if (this.bits[i] === 1) {
      this.bits[i] = 0;
      this.used -= 1;
    }
  }

  private take(at: number): number {
    this.bits[at] = 1;
    this.used += 1;
    return at;
  }
}
