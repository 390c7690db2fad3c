/**
 * @module netfilter/text
 * Shared text helpers for the iptables formats: the restore tokenizer (double quotes, `\"`
 * escapes, as iptables-restore's `add_param_to_argv` splits a line), number and port parsing,
 * and the save-side quoting.
 */
import type { PortRange } from "./model.js";

/** Splits one iptables-restore line into arguments. Returns an error string on an open quote. */
export function tokenize(line: string): string[] | string {
  // Without quotes or tabs, the arguments are the line split at spaces, a run of spaces splitting
  // once. That is most lines of a large cluster's kube-proxy text, where kube-proxy leaves out the
  // quoted per-endpoint comments (over 1,000 endpoints): 96% of the bench's 10,000-Service dump;
  // about three in four below that size.
  if (line.indexOf('"') < 0 && line.indexOf("\t") < 0) {
    const parts = line.split(" ");
    let j = 0;
    for (let k = 0; k < parts.length; k++) {
      const p = parts[k] as string;
      if (p !== "") parts[j++] = p;
    }
    parts.length = j;
    return parts;
  }
  return tokenizeQuoted(line);
}

/** `tokenize` for any line: quotes, `\"` escapes, tabs. */
export function tokenizeQuoted(line: string): string[] | string {
  const out: string[] = [];
  const n = line.length;
  let i = 0;
  while (i < n) {
    let c = line.charCodeAt(i);
    if (c === 32 || c === 9) {
      i++;
      continue;
    }
    const start = i;
    // Fast path: a bare token is a slice of the line.
    while (i < n && (c = line.charCodeAt(i)) !== 32 && c !== 9 && c !== 34) i++;
    if (i >= n || c !== 34) {
      out.push(line.slice(start, i));
      continue;
    }
    // A token with quotes: unquote, honouring \" inside quotes; copy runs as slices.
    let cur = line.slice(start, i);
    let inQuote = false;
    let run = i;
    for (; i < n; i++) {
      const ch = line.charCodeAt(i);
      if (inQuote) {
        if (ch === 92 && line.charCodeAt(i + 1) === 34) {
          cur += `${line.slice(run, i)}"`;
          i++;
          run = i + 1;
        } else if (ch === 34) {
          cur += line.slice(run, i);
          inQuote = false;
          run = i + 1;
        }
      } else if (ch === 34) {
        cur += line.slice(run, i);
        inQuote = true;
        run = i + 1;
      } else if (ch === 32 || ch === 9) {
        break;
      }
    }
    if (!inQuote) {
      cur += line.slice(run, i);
    }
    if (inQuote) {
      return "unterminated quoted string";
    }
    out.push(cur);
  }
  return out;
}

/** Parses an unsigned integer in decimal or 0x hex (as strtoul with base 0 would, less octal). */
export function parseUint(s: string, max = 0xffffffff): number | undefined {
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(s)) {
    return undefined;
  }
  const n = Number(s);
  return Number.isSafeInteger(n) && n <= max ? n : undefined;
}

/** Parses `value[/mask]` as the mark and connmark matches and targets take it. */
export function parseMarkMask(s: string): { value: number; mask?: number } | undefined {
  const [v, m, extra] = s.split("/");
  const value = parseUint(v ?? "");
  if (value === undefined || extra !== undefined) {
    return undefined;
  }
  if (m === undefined) {
    return { value };
  }
  const mask = parseUint(m);
  return mask === undefined ? undefined : { value, mask };
}

const SERVICES: Readonly<Record<string, number>> = { http: 80, https: 443, ssh: 22, domain: 53, dns: 53, ntp: 123, smtp: 25, ftp: 21 };

/** Parses a port or a service name. */
export function parsePort(s: string): number | undefined {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n <= 65535 ? n : undefined;
  }
  return SERVICES[s];
}

/** Parses `N`, `N:M`, `:M` or `N:` (iptables port ranges; `-` also accepted where NAT uses it). */
export function parsePortRange(s: string, sep = ":"): PortRange | undefined {
  const i = s.indexOf(sep);
  if (i < 0) {
    const p = parsePort(s);
    return p === undefined ? undefined : { lo: p, hi: p };
  }
  const lo = i === 0 ? 0 : parsePort(s.slice(0, i));
  const hi = i === s.length - 1 ? 65535 : parsePort(s.slice(i + 1));
  if (lo === undefined || hi === undefined || lo > hi) {
    return undefined;
  }
  return { lo, hi };
}

/** Formats a port range as iptables-save does (`80` or `80:90`). */
export function formatPortRange(r: PortRange, sep = ":"): string {
  return r.lo === r.hi ? `${r.lo}` : `${r.lo}${sep}${r.hi}`;
}

/** `0x…` lowercase hex, as iptables prints marks. */
export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

/**
 * Prints a string argument as `xtables_save_string` does: bare when it is non-empty and made
 * only of letters, digits, `_` and `-`; otherwise in double quotes with `"`, `\\` and `'`
 * escaped by a backslash. (Comments, LOG and NFLOG prefixes.) Checked against iptables 1.8.9.
 */
export function saveString(s: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(s)) {
    return s;
  }
  return `"${s.replace(/["\\']/g, (c) => `\\${c}`)}"`;
}
