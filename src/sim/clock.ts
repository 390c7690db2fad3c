/**
 * @module sim/clock
 * The virtual clock. Conntrack timeouts, FDB ageing and recent-list expiry read it; nothing in the
 * engine reads wall-clock time (STYLE 3.14). Time is in milliseconds since the start of the run.
 */

/** A virtual clock that only moves when told to. */
export interface Clock {
  /** Milliseconds of virtual time since the run began. */
  now(): number;
  /** Moves time forward by `ms` (never backward). */
  advance(ms: number): void;
}

/** Creates a clock starting at `startMs` (default 0). */
export function createClock(startMs = 0): Clock {
  let t = startMs;
  return {
    now: () => t,
    advance: (ms) => {
      if (!(ms >= 0)) {
        throw new RangeError(`clock can only move forward, got ${ms} ms`);
      }
      t += ms;
    },
  };
}
