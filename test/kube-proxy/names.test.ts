// kube-proxy's chain-name hash (names.ts): the first 16 characters of the standard base32 of
// SHA-256 over the name (proxier.go portProtoHash). The fast path (Node's one-shot hash, ten
// bytes encoded) must give what the plain recipe gives, for any text; golden.test.ts holds the
// names real kube-proxy's own tests expect.
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { base32, endpointChain, servicePortChains } from "../../src/kube-proxy/names.js";

const recipe = (text: string) => base32(createHash("sha256").update(text).digest()).slice(0, 16);

describe("chain names", () => {
  it("are the first 16 base32 characters of SHA-256 over the name, for any text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 80 }), fc.constantFrom("tcp", "udp", "sctp"), fc.string({ maxLength: 24 }), (spn, proto, ep) => {
        expect(servicePortChains(spn, proto).svc).toBe(`KUBE-SVC-${recipe(spn + proto)}`);
        expect(endpointChain(spn, proto, ep)).toBe(`KUBE-SEP-${recipe(spn + proto + ep)}`);
      }),
      { numRuns: 2000 },
    );
  });

  it("base32 is RFC 4648's (its test vectors)", () => {
    const enc = (s: string) => base32(new TextEncoder().encode(s));
    expect(["", "f", "fo", "foo", "foob", "fooba", "foobar"].map(enc)).toEqual(["", "MY======", "MZXQ====", "MZXW6===", "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======"]);
  });
});
