/**
 * @module materialize/apply
 * Runs a plan as root (`podwire materialize --apply`) and undoes it (`--destroy`). Safety
 * (DEVELOPERS.md): an existing namespace of the prefix is refused, naming it; every command runs
 * inside a namespace the plan made (`ip netns exec`), bounded in time; a failure removes every
 * namespace made so far and names the command; `destroy` removes exactly the namespaces the
 * prefix owns (`<prefix>-sw`, `-nodeN`, `-podN`, `-hostN`), so a run killed midway is cleaned too.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { ownedBy, MaterializeError, type Plan } from "./plan.js";

/** Why the real kernel cannot be used here, or undefined. */
export function materializeUnavailable(): string | undefined {
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "materialize needs root (network namespaces)";
  for (const bin of ["ip", "bridge", "iptables-restore", "sysctl"]) if (spawnSync("sh", ["-c", `command -v ${bin}`]).status !== 0) return `${bin} is not installed`;
  return undefined;
}

/** The namespaces that exist now. */
export function listNetns(): string[] {
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8", timeout: 5000 });
  return (r.stdout ?? "")
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter(Boolean);
}

/** Builds the plan in real namespaces. */
export function applyPlan(p: Plan): void {
  const why = materializeUnavailable();
  if (why) throw new MaterializeError(why);
  const existing = listNetns().filter((n) => ownedBy(p.manifest.prefix).test(n));
  if (existing.length > 0) throw new MaterializeError(`prefix "${p.manifest.prefix}" is in use: namespaces ${existing.join(", ")} exist (podwire materialize --destroy --prefix ${p.manifest.prefix} removes them)`);
  const made = new Set(p.namespaces);
  try {
    for (const c of p.commands) {
      if (c.ns !== undefined && !made.has(c.ns)) throw new MaterializeError(`refusing to run in a namespace the plan did not make: ${c.ns}`);
      const argv = c.ns !== undefined ? ["netns", "exec", c.ns, ...c.argv] : c.argv.slice(1);
      const bin = c.ns !== undefined ? "ip" : (c.argv[0] as string);
      if (c.ns === undefined && !(c.argv[0] === "ip" && c.argv[1] === "netns" && c.argv[2] === "add" && made.has(c.argv[3] as string))) throw new MaterializeError(`refusing a command outside the plan's namespaces: ${c.argv.join(" ")}`);
      try {
        execFileSync(bin, argv, { timeout: 15000, stdio: ["pipe", "pipe", "pipe"], ...(c.input !== undefined ? { input: c.input } : {}) });
      } catch (e) {
        const err = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? String(e);
        throw new MaterializeError(`${c.ns !== undefined ? `in ${c.ns}: ` : ""}${c.argv.join(" ")}: ${err.split("\n")[0] ?? err}`);
      }
    }
  } catch (e) {
    destroyPrefix(p.manifest.prefix);
    throw e;
  }
}

/** Removes every namespace the prefix owns; returns their names. */
export function destroyPrefix(prefix: string): string[] {
  const mine = listNetns().filter((n) => ownedBy(prefix).test(n));
  for (const n of mine) spawnSync("ip", ["netns", "del", n], { timeout: 5000 });
  return mine;
}
