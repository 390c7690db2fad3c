/**
 * @module kernel/copy-on-read
 * A map over another that copies an entry the first time it is read and keeps the copy: a trace's
 * copy of the network reads the namespaces (and a namespace's copy its neighbour table) it
 * touches, and pays for those only (DESIGN decision 5). The source must not change while the
 * copy is in use.
 */
/** A map that copies an entry of `source` the first time it is read, and then keeps the copy. */
export class CopyOnRead<V> extends Map<string, V> {
  private readonly gone = new Set<string>();
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
  /** The entry as it stands, without copying it: the copy if made, else the source's (read only!). */
  peek(k: string): V | undefined {
    if (super.has(k) || this.gone.has(k)) return super.get(k);
    return this.source.get(k);
  }
  override get(k: string): V | undefined {
    if (super.has(k) || this.gone.has(k)) return super.get(k);
    const v = this.source.get(k);
    if (v === undefined) return undefined;
    const c = this.copy(v);
    super.set(k, c);
    return c;
  }
  override has(k: string): boolean {
    return super.has(k) || (!this.gone.has(k) && this.source.has(k));
  }
  override delete(k: string): boolean {
    const had = this.has(k);
    this.gone.add(k);
    super.delete(k);
    return had;
  }
  override set(k: string, v: V): this {
    this.gone.delete(k);
    return super.set(k, v);
  }
  // Iteration follows the source's order (then entries added to the copy), as a copied Map would.
  private order(): string[] {
    const ks = [...this.source.keys()].filter((k) => !this.gone.has(k));
    for (const k of super.keys()) if (!this.source.has(k)) ks.push(k);
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

