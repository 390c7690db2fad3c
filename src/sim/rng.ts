/**
 * @module sim/rng
 * The seeded pseudo-random generator every random decision in podwire draws from (statistic
 * matches, MASQUERADE ports, allocators, generated names). Same seed, same sequence: that is what
 * makes a run byte-identical twice (DESIGN decision 3).
 *
 * The generator is sfc32 seeded through splitmix32: small, fast, and good enough for simulation
 * (not for cryptography). It is a value-like object with explicit state so a trace can `fork()` it
 * and leave the caller's sequence untouched.
 */

/** A deterministic random source. */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number;
  /** A uint32. */
  uint32(): number;
  /** An independent generator whose sequence is derived from this one's current state. */
  fork(): Rng;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Creates a generator from a seed (any integer; only its low 32 bits count). */
export function createRng(seed: number): Rng {
  const sm = splitmix32(seed);
  return fromState(sm(), sm(), sm(), sm());
}

function fromState(a0: number, b0: number, c0: number, d0: number): Rng {
  let a = a0 >>> 0;
  let b = b0 >>> 0;
  let c = c0 >>> 0;
  let d = d0 >>> 0;
  const uint32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  const rng: Rng = {
    uint32,
    next: () => uint32() / 4294967296,
    int: (lo, hi) => lo + Math.floor((uint32() / 4294967296) * (hi - lo + 1)),
    fork: () => fromState(uint32(), uint32(), uint32(), uint32()),
  };
  return rng;
}
