/**
 * @module cluster/allocators/service-ip
 * ClusterIP allocation as kube-apiserver does it (dataplane.md §6.2): the network and broadcast
 * addresses are never handed out; the `kubernetes` Service takes the first address; dynamic
 * allocation comes from the upper band, user-chosen addresses are honoured or refused with the
 * apiserver's messages.
 * @see k8s.io/kubernetes/pkg/registry/core/service/ipallocator (calculateRangeOffset)
 */
import { formatIpv4, ipv4, type Ipv4 } from "../../net/addr.js";
import { cidrContains, cidrSize, formatCidr, type Cidr } from "../../net/cidr.js";
import type { Rng } from "../../sim/rng.js";
import { BandAllocator } from "./band.js";

/** The static-band size for a service range: `min(max(16, size/16), 256)`, 0 below 16 addresses. */
export function serviceIpOffset(rangeSize: number): number {
  if (rangeSize < 16) return 0;
  return Math.min(Math.max(16, Math.floor(rangeSize / 16)), 256);
}

/** The outcome of an allocation: an address or the apiserver's error text (without the field prefix for dynamic ones). */
export type Allocation<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** ClusterIP allocator over one service CIDR. */
export class ServiceIpAllocator {
  private readonly bitmap: BandAllocator;
  private readonly base: number;

  constructor(
    readonly range: Cidr,
    rng: Rng,
  ) {
    const size = cidrSize(range);
    this.base = range.addr + 1;
    this.bitmap = new BandAllocator(Math.max(0, size - 2), serviceIpOffset(size), rng);
  }

  /** The address with index `i` of the range (0 = network + 1). */
  nth(i: number): Ipv4 {
    return ipv4((this.base + i) >>> 0);
  }

  /** Allocates a random free address (upper band first). */
  allocateNext(): Allocation<Ipv4> {
    const i = this.bitmap.allocateNext();
    if (i === undefined) return { ok: false, error: "Internal error occurred: failed to allocate a serviceIP: range is full" };
    return { ok: true, value: this.nth(i) };
  }

  /** Allocates a user-chosen address; the error is the apiserver's `spec.clusterIPs` message. */
  allocate(a: Ipv4): Allocation<Ipv4> {
    const text = formatIpv4(a);
    const prefix = `spec.clusterIPs: Invalid value: []string{"${text}"}`;
    const i = a - this.base;
    if (!cidrContains(this.range, a) || i < 0 || i >= this.bitmap.size) {
      return { ok: false, error: `${prefix}: failed to allocate IP ${text}: the provided IP (${text}) is not in the valid range. The range of valid IPs is ${formatCidr(this.range)}` };
    }
    if (!this.bitmap.allocate(i)) return { ok: false, error: `${prefix}: failed to allocate IP ${text}: provided IP is already allocated` };
    return { ok: true, value: a };
  }

  /** Frees an address (Service deleted). */
  release(a: Ipv4): void {
    const i = a - this.base;
    if (i >= 0 && i < this.bitmap.size) this.bitmap.release(i);
  }
}
