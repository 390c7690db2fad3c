/**
 * @module netfilter/explore
 * Runs a walk once per combination of random decisions and reports each outcome with its
 * probability: the "explore" mode for `statistic --mode random` (kube-proxy's endpoint spread).
 * The walk is re-run from the start for every branch (depth-first over decision scripts), so the
 * walk itself stays a plain function of its choices. Branches of probability 0 are not taken.
 */

/** One explored outcome. */
export interface Explored<T> {
  readonly probability: number;
  readonly result: T;
}

/** A decision source: returns true when a rule with match probability `p` matches. */
export type Chooser = (p: number, site: string) => boolean;

/** Explores every branch of `run`; `limit` bounds the number of paths. */
export function explore<T>(run: (choose: Chooser) => T, limit = 10_000): Explored<T>[] {
  const out: Explored<T>[] = [];
  const pending: boolean[][] = [[]];
  while (pending.length > 0) {
    if (out.length >= limit) {
      throw new RangeError(`more than ${limit} random paths; narrow the trace`);
    }
    const script = pending.pop() as boolean[];
    const taken: boolean[] = [];
    let prob = 1;
    const choose: Chooser = (p) => {
      let d: boolean;
      if (taken.length < script.length) {
        d = script[taken.length] as boolean;
      } else if (p <= 0 || p >= 1) {
        d = p >= 1;
      } else {
        d = true;
        pending.push([...taken, false]);
      }
      taken.push(d);
      prob *= d ? p : 1 - p;
      return d;
    };
    const result = run(choose);
    out.push({ probability: prob, result });
  }
  return out;
}

/** A chooser that draws from a random source (the "run" mode). */
export function randomChooser(next: () => number): Chooser {
  return (p) => next() < p;
}
