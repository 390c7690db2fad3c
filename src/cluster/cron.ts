/**
 * @module cluster/cron
 * The standard 5-field cron schedule the CronJob controller parses (robfig/cron v3 `ParseStandard`):
 * minute hour day-of-month month day-of-week, with `*`, lists, ranges, steps, month and weekday
 * names, and the `@yearly/@monthly/@weekly/@daily/@hourly` macros. Times are UTC minutes.
 * @see github.com/robfig/cron/v3/parser.go
 */

interface Field {
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const FIELDS: readonly Field[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] },
  { min: 0, max: 6, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

const MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** A parsed schedule: the allowed values of each field, and whether dom/dow were `*`. */
export interface CronSchedule {
  readonly sets: readonly ReadonlySet<number>[];
  readonly domStar: boolean;
  readonly dowStar: boolean;
}

/** Parses a schedule; the error text is robfig/cron's. */
export function parseCron(spec: string): { ok: true; value: CronSchedule } | { ok: false; error: string } {
  const text = MACROS[spec.trim()] ?? spec.trim();
  const parts = text.split(/\s+/).filter((x) => x.length > 0);
  if (parts.length !== 5) return { ok: false, error: `expected exactly 5 fields, found ${parts.length}: [${parts.join(" ")}]` };
  const sets: Set<number>[] = [];
  for (let i = 0; i < 5; i += 1) {
    const r = parseField(parts[i] as string, FIELDS[i] as Field);
    if (typeof r === "string") return { ok: false, error: r };
    sets.push(r);
  }
  return { ok: true, value: { sets, domStar: parts[2] === "*" || parts[2] === "?", dowStar: parts[4] === "*" || parts[4] === "?" } };
}

function value(tok: string, f: Field): number | string {
  const named = f.names?.indexOf(tok.toLowerCase()) ?? -1;
  if (named >= 0) return named + f.min;
  if (!/^\d+$/.test(tok)) return `failed to parse int from ${tok}: strconv.Atoi: parsing "${tok}": invalid syntax`;
  return Number(tok);
}

function parseField(text: string, f: Field): Set<number> | string {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const [rangeText = "", stepText] = part.split("/");
    let lo: number;
    let hi: number;
    if (rangeText === "*" || rangeText === "?") {
      lo = f.min;
      hi = f.max;
    } else {
      const [a = "", b] = rangeText.split("-");
      const va = value(a, f);
      if (typeof va === "string") return va;
      lo = va;
      hi = va;
      if (b !== undefined) {
        const vb = value(b, f);
        if (typeof vb === "string") return vb;
        hi = vb;
      } else if (stepText !== undefined) {
        hi = f.max;
      }
    }
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step <= 0) return `step of range should be a positive number: ${part}`;
    if (lo < f.min) return `beginning of range (${lo}) below minimum (${f.min}): ${part}`;
    if (hi > f.max) return `end of range (${hi}) above maximum (${f.max}): ${part}`;
    if (lo > hi) return `beginning of range (${lo}) beyond end of range (${hi}): ${part}`;
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** Whether the schedule fires at the minute starting at `ms` (UTC). Day rules follow cron: dom OR dow when both are restricted. */
export function cronMatches(s: CronSchedule, ms: number): boolean {
  const d = new Date(ms);
  const [min, hour, dom, mon, dow] = s.sets as [ReadonlySet<number>, ReadonlySet<number>, ReadonlySet<number>, ReadonlySet<number>, ReadonlySet<number>];
  if (!min.has(d.getUTCMinutes()) || !hour.has(d.getUTCHours()) || !mon.has(d.getUTCMonth() + 1)) return false;
  const domOk = dom.has(d.getUTCDate());
  const dowOk = dow.has(d.getUTCDay());
  if (s.domStar || s.dowStar) return domOk && dowOk;
  return domOk || dowOk;
}

/** The first firing time strictly after `afterMs` (searching at most one year ahead), in ms. */
export function cronNext(s: CronSchedule, afterMs: number): number | undefined {
  let t = Math.floor(afterMs / 60000) * 60000 + 60000;
  const limit = t + 366 * 24 * 3600 * 1000;
  while (t <= limit) {
    if (cronMatches(s, t)) return t;
    t += 60000;
  }
  return undefined;
}
