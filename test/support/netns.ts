/**
 * Real-namespace helpers for oracle tests, following the safety rules (DEVELOPERS.md):
 * every namespace is created here under a recognisable prefix (`pwt<pid>-`), nothing is
 * configured in the root namespace, every command is bounded in time, and `teardown()` removes
 * exactly what was made (call it in afterAll; it also runs on process exit).
 */
import { execFileSync, spawnSync } from "node:child_process";

/** Why oracle tests cannot run here, or undefined when they can. */
export function oracleUnavailable(): string | undefined {
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    return "not root: real-kernel oracle tests need root to create network namespaces";
  }
  for (const bin of ["ip", "bridge", "iptables-restore", "iptables-save", "ipset", "nfacct", "conntrack", "ping"]) {
    if (spawnSync("sh", ["-c", `command -v ${bin}`]).status !== 0) return `${bin} is not installed (CI installs it in .ci/run)`;
  }
  const probe = `pwt${process.pid}-probe`;
  const r = spawnSync("ip", ["netns", "add", probe], { timeout: 5000 });
  if (r.status !== 0) return `cannot create network namespaces: ${r.stderr.toString().trim()}`;
  spawnSync("ip", ["netns", "del", probe], { timeout: 5000 });
  return undefined;
}

/** A set of namespaces made by one test file. */
export class Netns {
  private readonly made: string[] = [];
  private readonly prefix: string;

  constructor(tag: string) {
    if (!/^[a-z0-9]{1,6}$/.test(tag)) throw new Error(`bad netns tag ${tag}`);
    this.prefix = `pwt${process.pid}${tag}-`;
    process.once("exit", () => this.teardown());
  }

  /** Creates a namespace `<prefix><name>` with lo up and returns its full name. */
  add(name: string): string {
    const full = `${this.prefix}${name}`;
    execFileSync("ip", ["netns", "add", full], { timeout: 5000 });
    this.made.push(full);
    this.exec(full, ["ip", "link", "set", "lo", "up"]);
    return full;
  }

  /** Runs a command inside a namespace we made, with a time bound; returns stdout. */
  exec(ns: string, argv: readonly string[], input?: string, timeoutMs = 10000): string {
    if (!this.made.includes(ns)) throw new Error(`refusing to run in a namespace this test did not create: ${ns}`);
    return execFileSync("ip", ["netns", "exec", ns, ...argv], { timeout: timeoutMs, ...(input !== undefined ? { input } : {}), encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
  }

  /** Like exec but never throws; returns status and output. */
  tryExec(ns: string, argv: readonly string[], input?: string, timeoutMs = 10000): { status: number; stdout: string; stderr: string } {
    if (!this.made.includes(ns)) throw new Error(`refusing to run in a namespace this test did not create: ${ns}`);
    const r = spawnSync("ip", ["netns", "exec", ns, ...argv], { timeout: timeoutMs, ...(input !== undefined ? { input } : {}), encoding: "utf8" });
    return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** Joins two of our namespaces with a veth pair (`a:ifA` ↔ `b:ifB`), created inside `a`. */
  link(a: string, ifA: string, b: string, ifB: string): void {
    this.exec(a, ["ip", "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b]);
    this.exec(a, ["ip", "link", "set", ifA, "up"]);
    this.exec(b, ["ip", "link", "set", ifB, "up"]);
  }

  /** Deletes every namespace this object made (their links go with them). */
  teardown(): void {
    while (this.made.length > 0) {
      const ns = this.made.pop() as string;
      spawnSync("ip", ["netns", "del", ns], { timeout: 5000 });
    }
  }
}

/** iptables-save output without the `# Generated`/`# Completed` comment lines. */
export function stripSaveComments(text: string): string {
  return text
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .join("\n");
}
