/**
 * @module netfilter/chain-overlay
 * A table's chains as the differences from another node's (DESIGN decision 5): every node of a
 * cluster gets nearly the same kube-proxy text, and its interned chains are nearly all the same
 * objects, so a node's chain map holds only the chains that differ (replaced, added, or gone)
 * over a shared base map. At 5,000 nodes and 10,000 Services a table has about 170,000 chains;
 * one map per synced node was most of what a synced node cost.
 *
 * Lookups read the differences first, then the base. Iteration lists the base's chains in its
 * order (skipping those gone, with this table's object for those replaced), then the added ones
 * in their order. Nothing reads a table's chain order as meaning (iptables-save sorts user chains
 * by name, as the kernel lists them), and both maps are immutable once made.
 */
export class ChainOverlay<V> implements ReadonlyMap<string, V> {
  readonly size: number;
  private readonly added: readonly string[];

  constructor(
    private readonly base: ReadonlyMap<string, V>,
    /** Chains this table has that the base has not, or has as another object. */
    private readonly own: ReadonlyMap<string, V>,
    /** Base chains this table does not have. */
    private readonly gone: ReadonlySet<string>,
  ) {
    this.added = [...own.keys()].filter((k) => !base.has(k));
    this.size = base.size - gone.size + this.added.length;
  }

  get(k: string): V | undefined {
    const v = this.own.get(k);
    if (v !== undefined) return v;
    if (this.gone.size > 0 && this.gone.has(k)) return undefined;
    return this.base.get(k);
  }

  has(k: string): boolean {
    return this.get(k) !== undefined;
  }

  *entries(): MapIterator<[string, V]> {
    for (const [k, v] of this.base) {
      if (this.gone.has(k)) continue;
      yield [k, this.own.get(k) ?? v];
    }
    for (const k of this.added) yield [k, this.own.get(k) as V];
  }

  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(fn: (v: V, k: string, m: ReadonlyMap<string, V>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}
