/**
 * The restore tokenizer's shortcut for lines without quotes or tabs (a native split at spaces)
 * splits every line as the general tokenizer does.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { tokenize, tokenizeQuoted } from "./text.js";

describe("tokenize", () => {
  it("splits any line as the quote-aware tokenizer does (fast-check)", () => {
    const line = fc.array(fc.constantFrom("a", "-A", "KUBE-SEP-X", " ", "  ", "\t", '"', '\\"', "\\", "10.0.0.1/32", "!"), { maxLength: 24 }).map((p) => p.join(""));
    fc.assert(
      fc.property(line, (l) => {
        expect(tokenize(l)).toEqual(tokenizeQuoted(l));
      }),
      { numRuns: 2000 },
    );
  });

  it("drops runs of spaces and keeps quoted spaces", () => {
    expect(tokenize("  -A  X -j  Y ")).toEqual(["-A", "X", "-j", "Y"]);
    expect(tokenize('-m comment --comment "a b" -j Y')).toEqual(["-m", "comment", "--comment", "a b", "-j", "Y"]);
  });
});
