/**
 * @module cluster/time
 * Wall-clock values of the control plane, read from the virtual clock: run time 0 is
 * 2025-01-01T00:00:00Z, so timestamps, event names and CronJob schedules are the same run after run.
 */

/** The virtual epoch: the Unix time in ms of clock time 0. */
export const EPOCH_MS = Date.UTC(2025, 0, 1, 0, 0, 0);

/** RFC 3339 with seconds, as metav1.Time marshals (`2025-01-01T00:00:05Z`). */
export function timestamp(clockMs: number): string {
  const s = Math.floor(clockMs / 1000);
  // The control plane stamps many objects within one second: the last text is kept.
  if (s !== lastSecond) {
    lastSecond = s;
    lastText = new Date(EPOCH_MS + s * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  }
  return lastText;
}
let lastSecond = Number.NaN;
let lastText = "";

/** Clock ms of an RFC 3339 timestamp written by `timestamp` (or any RFC 3339 time). */
export function clockOf(ts: string): number {
  return Date.parse(ts) - EPOCH_MS;
}

/**
 * kubectl's `duration.HumanDuration` (AGE and LAST SEEN columns): `45s`, `2m30s`, `5m`, `3h20m`,
 * `2d5h`, `400d`, `3y200d`.
 * @see k8s.io/apimachinery/pkg/util/duration/duration.go
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(seconds / 3600);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    return dy === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

/** Parses `30s`, `5m`, `1h30m`, `2d` (Go duration units plus d) into ms; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(s)) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 };
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(m[1]) * (unit[m[2] as string] as number);
  return Math.round(total);
}
