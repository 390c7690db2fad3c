/**
 * @module materialize/script
 * A plan as a bash script a person can read and run as root: `set -euo pipefail`, a trap that
 * removes what it made if a command fails, one line per command (`ip netns exec NS …`), and the
 * iptables rules as here-documents.
 */
import type { Plan } from "./plan.js";

/** Single-quotes a word for bash when it is not plainly safe. */
export function shellQuote(w: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`;
}

/** The script. */
export function planScript(p: Plan): string {
  const out = [
    "#!/usr/bin/env bash",
    `# podwire materialize: builds the topology in real network namespaces named ${p.manifest.prefix}-*.`,
    "# Run as root. Nothing is configured in the root namespace; on failure everything made is removed.",
    "set -euo pipefail",
    `cleanup() { for ns in ${p.namespaces.map(shellQuote).join(" ")}; do ip netns del "$ns" 2>/dev/null || true; done; }`,
    "trap 'echo \"podwire materialize: failed at line $LINENO\" >&2; cleanup' ERR",
    "",
  ];
  for (const c of p.commands) {
    const cmd = (c.ns !== undefined ? ["ip", "netns", "exec", c.ns, ...c.argv] : c.argv).map(shellQuote).join(" ");
    if (c.input !== undefined) out.push(`${cmd} <<'PODWIRE_EOF'`, c.input.replace(/\n$/, ""), "PODWIRE_EOF");
    else out.push(cmd);
  }
  out.push("", "trap - ERR", `echo "materialized: ${p.namespaces.length} namespaces (${p.manifest.prefix}-*)"`, "");
  return out.join("\n");
}
