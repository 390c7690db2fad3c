/**
 * @module cluster/allocators/node-cidr
 * The node IPAM range allocator of kube-controller-manager (dataplane.md §6.1): a bitmap over the
 * node-sized blocks of the cluster CIDR, blocks overlapping the service CIDR marked used, a
 * `nextCandidate` cursor that moves past each allocation (so a released block is not reused until
 * the cursor wraps).
 * @see k8s.io/kubernetes/pkg/controller/nodeipam/ipam/cidrset/cidr_set.go
 */
import { cidrOverlaps, nthSubnet, type Cidr } from "../../net/cidr.js";
import type { Allocation } from "./service-ip.js";

/** The message kube-controller-manager logs (and the CIDRNotAvailable event carries) when the range is exhausted. */
export const CIDR_EXHAUSTED = "failed to allocate cidr from cluster cidr at idx:0: CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range";

/** The node CIDR allocator. */
export class NodeCidrAllocator {
  private readonly used: Uint8Array;
  private next = 0;

  constructor(
    readonly clusterCidr: Cidr,
    readonly nodeMaskSize: number,
    serviceCidr?: Cidr,
  ) {
    const n = nodeMaskSize >= clusterCidr.len ? 2 ** Math.min(nodeMaskSize - clusterCidr.len, 24) : 0;
    this.used = new Uint8Array(n);
    if (serviceCidr && cidrOverlaps(serviceCidr, clusterCidr)) {
      for (let i = 0; i < n; i += 1) if (cidrOverlaps(this.block(i), serviceCidr)) this.used[i] = 1;
    }
  }

  /** How many node CIDRs the range holds. */
  get capacity(): number {
    return this.used.length;
  }

  /** Marks a node's existing podCIDR as used (occupy, on start and for user-set CIDRs). */
  occupy(c: Cidr): boolean {
    const i = this.indexOf(c);
    if (i === undefined) return false;
    this.used[i] = 1;
    return true;
  }

  /** Allocates the next free block from the cursor. */
  allocateNext(): Allocation<Cidr> {
    const n = this.used.length;
    for (let k = 0; k < n; k += 1) {
      const i = (this.next + k) % n;
      if (this.used[i] === 0) {
        this.used[i] = 1;
        this.next = (i + 1) % n;
        return { ok: true, value: this.block(i) };
      }
    }
    return { ok: false, error: CIDR_EXHAUSTED };
  }

  /** Frees a block (node deleted); the cursor does not move back. */
  release(c: Cidr): void {
    const i = this.indexOf(c);
    if (i !== undefined) this.used[i] = 0;
  }

  private block(i: number): Cidr {
    return nthSubnet(this.clusterCidr, this.nodeMaskSize, i) as Cidr;
  }

  private indexOf(c: Cidr): number | undefined {
    if (c.len !== this.nodeMaskSize) return undefined;
    const i = Math.floor((c.addr - this.clusterCidr.addr) / 2 ** (32 - this.nodeMaskSize));
    return i >= 0 && i < this.used.length && this.block(i).addr === c.addr ? i : undefined;
  }
}
