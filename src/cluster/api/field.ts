/**
 * @module cluster/api/field
 * Field errors in apimachinery's words (`field.Error.Error()`): `spec.ports[0].port: Invalid value:
 * 0: must be between 1 and 65535, inclusive`. Values print as Go's `%#v` would for the types the
 * API uses (quoted strings, bare numbers, `map[string]string{…}`).
 * @see k8s.io/apimachinery/pkg/util/validation/field/errors.go
 */

/** A collector of field errors for one object. */
export class FieldErrors {
  readonly list: string[] = [];

  /** `Invalid value: <v>: <detail>`. */
  invalid(path: string, value: unknown, detail: string): void {
    this.list.push(`${path}: Invalid value: ${goValue(value)}: ${detail}`);
  }

  /** `Required value[: detail]`. */
  required(path: string, detail?: string): void {
    this.list.push(`${path}: Required value${detail ? `: ${detail}` : ""}`);
  }

  /** `Duplicate value: <v>`. */
  duplicate(path: string, value: unknown): void {
    this.list.push(`${path}: Duplicate value: ${goValue(value)}`);
  }

  /** `Unsupported value: <v>: supported values: "a", "b"`. */
  notSupported(path: string, value: unknown, supported: readonly string[]): void {
    this.list.push(`${path}: Unsupported value: ${goValue(value)}: supported values: ${supported.map((s) => `"${s}"`).join(", ")}`);
  }

  /** `Forbidden: <detail>`. */
  forbidden(path: string, detail: string): void {
    this.list.push(`${path}: Forbidden: ${detail}`);
  }

  /** Any message already formatted. */
  raw(message: string): void {
    this.list.push(message);
  }
}

/** Go `%#v`-like rendering of an API value. */
export function goValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v === undefined || v === null) return "null";
  if (Array.isArray(v)) return `[]string{${v.map((x) => JSON.stringify(String(x))).join(", ")}}`;
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort();
    return `map[string]string{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(String(o[k]))}`).join(", ")}}`;
  }
  return String(v);
}

/**
 * The `Invalid` message as kubectl prints it: `The Service "web" is invalid: err`, or with several
 * errors one per line after `* ` (kubectl's `StandardErrorMessage`).
 */
export function invalidMessage(kind: string, name: string, errors: readonly string[]): string {
  if (errors.length === 1) return `The ${kind} "${name}" is invalid: ${errors[0]}`;
  return `The ${kind} "${name}" is invalid: \n${errors.map((e) => `* ${e}`).join("\n")}`;
}
