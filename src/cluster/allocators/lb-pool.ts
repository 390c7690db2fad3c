/**
 * @module cluster/allocators/lb-pool
 * LoadBalancer addresses from the topology's pool, handed out as MetalLB's allocator does: the
 * lowest free address of the pool, every address of the CIDR eligible (MetalLB's `avoidBuggyIPs`
 * is off by default, so a /28 starting at .0 hands out .0 first). A requested address
 * (`spec.loadBalancerIP` or an ingress already in the manifest) is honoured when free.
 * @see metallb/internal/allocator/allocator.go (getIPFromCIDR)
 */
import { formatIpv4, ipv4, type Ipv4 } from "../../net/addr.js";
import { cidrContains, cidrSize, type Cidr } from "../../net/cidr.js";
import type { Allocation } from "./service-ip.js";

/** The pool allocator; owners are Service keys so a re-sync keeps the same address. */
export class LoadBalancerPool {
  private readonly owner = new Map<number, string>();

  constructor(readonly pool: Cidr | undefined) {}

  /** The address already held by `svc`, if any. */
  held(svc: string): Ipv4 | undefined {
    for (const [a, o] of this.owner) if (o === svc) return ipv4(a);
    return undefined;
  }

  /** Assigns the lowest free address (or `want`, if given and free). */
  assign(svc: string, want?: Ipv4): Allocation<Ipv4> {
    const held = this.held(svc);
    if (held !== undefined && (want === undefined || want === held)) return { ok: true, value: held };
    if (!this.pool) return { ok: false, error: "no load-balancer pool configured" };
    if (want !== undefined) {
      if (!cidrContains(this.pool, want)) return { ok: false, error: `"${formatIpv4(want)}" is not allowed in config` };
      const o = this.owner.get(want);
      if (o !== undefined && o !== svc) return { ok: false, error: `can't change sharing key for "${svc}", address also in use by ${o}` };
      if (held !== undefined) this.owner.delete(held);
      this.owner.set(want, svc);
      return { ok: true, value: want };
    }
    const size = cidrSize(this.pool);
    for (let i = 0; i < size; i += 1) {
      const a = (this.pool.addr + i) >>> 0;
      if (!this.owner.has(a)) {
        this.owner.set(a, svc);
        return { ok: true, value: ipv4(a) };
      }
    }
    return { ok: false, error: "no available IPs" };
  }

  /** Frees the address of a Service. */
  release(svc: string): void {
    for (const [a, o] of this.owner) if (o === svc) this.owner.delete(a);
  }
}
