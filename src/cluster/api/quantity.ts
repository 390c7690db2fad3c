/**
 * @module cluster/api/quantity
 * `resource.Quantity` as the apiserver parses it: a decimal number with an optional binary (Ki…Ei),
 * decimal SI (n, u, m, k, M, G, T, P, E) or exponent (e3) suffix. The scheduler compares requests
 * in milli-units, like `Quantity.MilliValue()` for cpu and `Value()` for memory and pods.
 * @see k8s.io/apimachinery/pkg/api/resource/quantity.go
 */

const BINARY: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Readonly<Record<string, number>> = { n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** The apiserver's message for a quantity it cannot parse. */
export const QUANTITY_MESSAGE = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/** Parses a quantity into its value (cores for cpu, bytes for memory); `undefined` when malformed. */
export function parseQuantity(q: string | number): number | undefined {
  if (typeof q === "number") return Number.isFinite(q) ? q : undefined;
  const m = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/.exec(q);
  if (!m) return undefined;
  const num = m[1] as string;
  const suffix = m[2] as string;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(num)) return undefined;
  const n = Number(num);
  const bin = BINARY[suffix];
  if (bin !== undefined) return n * bin;
  const dec = DECIMAL[suffix];
  if (dec !== undefined) return n * dec;
  const exp = /^[eE]([-+]?\d+)$/.exec(suffix);
  if (exp) return n * 10 ** Number(exp[1]);
  return undefined;
}

/** Milli-units, rounded up as `MilliValue()` does. */
export function milliValue(q: string | number): number | undefined {
  const v = parseQuantity(q);
  return v === undefined ? undefined : Math.ceil(Math.round(v * 1e6) / 1e3);
}
