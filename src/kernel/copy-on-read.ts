/**
 * @module kernel/copy-on-read
 * A map over another that copies an entry the first time it is read and keeps the copy: a trace's
 * copy of the network reads the namespaces (and a namespace's copy its neighbour table) it
 * touches, and pays for those only (DESIGN decision 5). The source must not change while the
 * copy is in use.
 */
/** A map that copies an entry of `source` the first time it is read, and then keeps the copy. */
export class CopyOnRead<V> extends Map<string, V> {
  /**
   * Source keys deleted from the copy (made on the first delete: most copies never delete). A key
   * set again afterwards stays here: its entry is the copy's own, listed after the source's, as a
   * Map lists a key deleted and set again.
   */
  private gone: Set<string> | undefined;
  constructor(
    private readonly source: ReadonlyMap<string, V>,
    private readonly copy: (v: V) => V,
  ) {
    super();
  }
  /** The keys copied (or set) so far. */
  copiedKeys(): IterableIterator<string> {
    return super.keys();
  }
  // A trace reads these maps on every hop: an entry already copied costs one lookup, not two.
  // (Values are never undefined.)
  private isGone(k: string): boolean {
    return this.gone !== undefined && this.gone.has(k);
  }
  /** The entry as it stands, without copying it: the copy if made, else the source's (read only!). */
  peek(k: string): V | undefined {
    const own = super.get(k);
    if (own !== undefined || this.isGone(k)) return own;
    return this.source.get(k);
  }
  override get(k: string): V | undefined {
    const own = super.get(k);
    if (own !== undefined || this.isGone(k)) return own;
    const v = this.source.get(k);
    if (v === undefined) return undefined;
    const c = this.copy(v);
    super.set(k, c);
    return c;
  }
  override has(k: string): boolean {
    return super.has(k) || (!this.isGone(k) && this.source.has(k));
  }
  override delete(k: string): boolean {
    const had = this.has(k);
    (this.gone ??= new Set()).add(k);
    super.delete(k);
    return had;
  }
  // Iteration follows the source's order (then entries added to the copy), as a copied Map would.
  private order(): string[] {
    const ks = [...this.source.keys()].filter((k) => !this.isGone(k));
    for (const k of super.keys()) if (!this.source.has(k) || this.isGone(k)) ks.push(k);
    return ks;
  }
  override get size(): number {
    return this.order().length;
  }
  override keys(): MapIterator<string> {
    return this.order()[Symbol.iterator]() as MapIterator<string>;
  }
  override values(): MapIterator<V> {
    return this.order().map((k) => this.get(k) as V)[Symbol.iterator]() as MapIterator<V>;
  }
  override entries(): MapIterator<[string, V]> {
    return this.order().map((k) => [k, this.get(k) as V] as [string, V])[Symbol.iterator]() as MapIterator<[string, V]>;
  }
  override [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }
  override forEach(fn: (v: V, k: string, m: Map<string, V>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}

