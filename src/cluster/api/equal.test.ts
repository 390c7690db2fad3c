import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonEqual } from "./equal.js";

// Key order is the one difference from comparing JSON texts: canonicalise it for the oracle.
const canon = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(canon) : v !== null && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : v;
const viaJson = (a: unknown, b: unknown): boolean => JSON.stringify(canon(a)) === JSON.stringify(canon(b));

const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom(null, undefined, true, false, 0, 1, -0, "", "a", "b"),
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom("a", "b", "c"), tie("v"), { maxKeys: 3 }),
  ),
})).v;

describe("jsonEqual", () => {
  it("agrees with comparing the JSON encodings (keys canonically ordered)", () => {
    fc.assert(fc.property(value, value, (a, b) => jsonEqual(a, b) === viaJson(a, b)), { numRuns: 3000 });
    // Pairs that are equal in JSON but not by reference, which random pairs rarely hit.
    fc.assert(fc.property(value, (a) => jsonEqual(a, structuredClone(a)) && jsonEqual({ x: a, y: undefined }, { x: structuredClone(a) })));
  });

  it("ignores key order and undefined members, not array order or types", () => {
    expect(jsonEqual({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1, u: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual([undefined], [null])).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: "1" }, { a: 1 })).toBe(false);
    expect(jsonEqual({ a: null }, {})).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
  });
});
