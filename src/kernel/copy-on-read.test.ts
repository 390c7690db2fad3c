import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CopyOnRead } from "./copy-on-read.js";

// The reference: a copy made eagerly, entry by entry, as a deep copy of the source would be.
describe("CopyOnRead", () => {
  const key = fc.constantFrom("a", "b", "c", "d", "e");
  const op = fc.oneof(
    fc.record({ op: fc.constant("get" as const), k: key }),
    fc.record({ op: fc.constant("has" as const), k: key }),
    fc.record({ op: fc.constant("peek" as const), k: key }),
    fc.record({ op: fc.constant("set" as const), k: key, v: fc.integer() }),
    fc.record({ op: fc.constant("delete" as const), k: key }),
    fc.record({ op: fc.constant("bump" as const), k: key }),
  );

  it("reads, writes, deletes and iterates as an eager copy does, and never changes the source", () => {
    fc.assert(
      fc.property(fc.dictionary(key, fc.integer()), fc.array(op, { maxLength: 40 }), (init, ops) => {
        const source = new Map(Object.entries(init).map(([k, n]) => [k, { n }]));
        const before = JSON.stringify([...source]);
        const lazy = new CopyOnRead(source, (v) => ({ ...v }));
        const eager = new Map([...source].map(([k, v]) => [k, { ...v }]));
        for (const o of ops) {
          switch (o.op) {
            case "get":
              expect(lazy.get(o.k)).toEqual(eager.get(o.k));
              break;
            case "has":
              expect(lazy.has(o.k)).toBe(eager.has(o.k));
              break;
            case "peek":
              expect(lazy.peek(o.k)).toEqual(eager.get(o.k));
              break;
            case "set":
              lazy.set(o.k, { n: o.v });
              eager.set(o.k, { n: o.v });
              break;
            case "delete":
              expect(lazy.delete(o.k)).toBe(eager.delete(o.k));
              break;
            case "bump": {
              // A change to an entry read from the copy stays in the copy.
              const l = lazy.get(o.k);
              const e = eager.get(o.k);
              if (l) l.n += 1;
              if (e) e.n += 1;
              break;
            }
          }
          expect([...lazy]).toEqual([...eager]);
          expect(lazy.size).toBe(eager.size);
        }
        expect(JSON.stringify([...source])).toBe(before);
      }),
      { numRuns: 300 },
    );
  });
});
