/**
 * @module cluster/names
 * Generated names and identifiers, following the real schemes with the seeded PRNG:
 * `generateName` suffixes of 5 characters from apimachinery's consonant-and-digit alphabet
 * (`utilrand.String`), `pod-template-hash` as `rand.SafeEncodeString` of a 32-bit FNV-1a hash of the
 * template, UIDs in UUID v4 form, event names `<object>.<hex nanoseconds>`.
 * The template hash cannot equal a real cluster's (kube hashes Go's printed struct), but it is a
 * stable function of the template: same template, same hash, run after run.
 * @see k8s.io/apimachinery/pkg/util/rand/rand.go; k8s.io/kubernetes/pkg/controller/controller_utils.go (ComputeHash)
 */
import type { Rng } from "../sim/rng.js";

/** apimachinery's alphabet: no vowels (no words), no confusable characters. */
export const ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789";

/** `utilrand.String(n)`. */
export function randomSuffix(rng: Rng, n = 5): string {
  let s = "";
  for (let i = 0; i < n; i += 1) s += ALPHANUMS[rng.int(0, ALPHANUMS.length - 1)];
  return s;
}

/** `rand.SafeEncodeString`: each character mapped into ALPHANUMS. */
export function safeEncodeString(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i += 1) out += ALPHANUMS[s.charCodeAt(i) % ALPHANUMS.length];
  return out;
}

/** 32-bit FNV-1a. */
export function fnv32a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Canonical JSON (sorted keys) so the hash does not depend on field order in the manifest. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

/** `controller.ComputeHash(template, collisionCount)` in podwire's form. */
export function podTemplateHash(template: unknown, collisionCount = 0): string {
  // Stored objects are immutable snapshots: a template object hashes to the same value every time.
  const memo = template !== null && typeof template === "object" ? templateHashes.get(template) : undefined;
  const hit = memo?.get(collisionCount);
  if (hit !== undefined) return hit;
  const h = safeEncodeString(String(fnv32a(canonicalJson(template) + (collisionCount > 0 ? String(collisionCount) : ""))));
  if (template !== null && typeof template === "object") templateHashes.set(template, (memo ?? new Map<number, string>()).set(collisionCount, h));
  return h;
}
const templateHashes = new WeakMap<object, Map<number, string>>();

/** A UUID v4 string from the PRNG. */
export function randomUid(rng: Rng): string {
  const hex = (n: number, w: number): string => n.toString(16).padStart(w, "0");
  const a = rng.uint32();
  const b = rng.uint32();
  const c = rng.uint32();
  const d = rng.uint32();
  return `${hex(a, 8)}-${hex(b >>> 16, 4)}-${hex(0x4000 | (b & 0x0fff), 4)}-${hex(0x8000 | ((c >>> 16) & 0x3fff), 4)}-${hex(c & 0xffff, 4)}${hex(d, 8)}`;
}
