/**
 * @module cluster/api/equal
 * Equality of API values as their JSON encodings compare, without encoding them: what
 * `JSON.stringify(a) === JSON.stringify(b)` decided, but independent of key order (the API
 * server's semantic equality) and without building the strings — the controllers compare a
 * desired status or slice with the stored one on every reconcile.
 */

/** Whether `a` and `b` encode to the same JSON up to the order of object keys. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i += 1) if (!jsonEqual(elem(a[i]), elem(b[i]))) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  let n = 0;
  for (const k in ao) {
    const v = ao[k];
    if (!encoded(v)) continue;
    n += 1;
    if (!Object.prototype.hasOwnProperty.call(bo, k) || !jsonEqual(v, bo[k])) return false;
  }
  for (const k in bo) if (encoded(bo[k])) n -= 1;
  return n === 0;
}

// JSON drops object members that are undefined or functions, and writes them as null in arrays.
function encoded(v: unknown): boolean {
  return v !== undefined && typeof v !== "function" && typeof v !== "symbol";
}

function elem(v: unknown): unknown {
  return encoded(v) ? v : null;
}
