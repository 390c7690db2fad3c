/**
 * The machine's own speed, sampled during a run: a fixed workload (probes into a 200,000-entry
 * Map, strided reads over an 8 MB array, integer arithmetic) timed just before each measured pass.
 * Its times say how fast the machine was when the pass ran, apart from podwire.
 *
 * Measured on this 2-core VM on 2026-12-02: a ten times larger version of this workload, run
 * back to back for 40 s, took 60 to 122 ms a round, in bursts of one to several seconds (the
 * host, not the process: the scavenger's own pauses stretched with it), and this one 4.6 to
 * 15.6 ms over one 5,000-node run's passes. A trace pass's p50 swung between 130 and 280 µs with
 * the same work (every Network and NetNs method was called as often in fast passes as in slow
 * ones). So a p50 over all passes is partly the host's; the bench also reports the best pass's
 * p50 and this workload's spread, so a run can be read against the machine it had.
 */
const KEYS = 200_000;
const map = new Map<string, number>();
for (let i = 0; i < KEYS; i += 1) map.set(`k${i}`, i);
const probes = Array.from({ length: 20_000 }, (_, i) => `k${(i * 7919) % KEYS}`);
const array = new Float64Array(1_000_000);
/** The workload's result, kept where the optimiser must assume it is read. */
export let sink = 0;

/** One run of the fixed workload, in ms (about 6 ms on a quiet machine here). */
export function referenceMs(): number {
  const t = performance.now();
  let s = 0;
  for (const k of probes) s += map.get(k) ?? 0;
  for (let i = 0; i < array.length; i += 16) s += array[(i * 31) % array.length] ?? 0;
  let x = 0;
  for (let i = 0; i < 300_000; i += 1) x = (Math.imul(x, 1103515245) + 12345) | 0;
  sink ^= s ^ x;
  return performance.now() - t;
}

/** The smallest, median and largest of the samples, in ms (two decimals). */
export function spread(samples: readonly number[]): { min: number; p50: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  const r = (v: number | undefined): number => Number((v ?? 0).toFixed(2));
  return { min: r(s[0]), p50: r(s[Math.floor(s.length / 2)]), max: r(s[s.length - 1]) };
}
