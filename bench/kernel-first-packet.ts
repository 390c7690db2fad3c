/**
 * The real kernel's side of the bench (root only; every function returns null otherwise): a
 * throwaway namespace pair, `pwkfp<pid>n` (the node: the rules are restored here) and
 * `pwkfp<pid>e` (the endpoints: every endpoint address on its loopback, a server on the port),
 * joined by a veth. `iptables-restore` of the node's rules is timed; then a client in the node
 * namespace opens `count` new connections to a Service's cluster IP, one after another, each
 * timed from `connect()` to the SYN-ACK, in one process (no start-up in the figure). Every new
 * connection makes the kernel walk nat OUTPUT → KUBE-SERVICES → KUBE-SVC → KUBE-SEP and set up
 * conntrack: the real first-packet decision, plus a loopback-speed round trip. The same
 * connections with no rules loaded give the floor (socket and veth cost alone).
 * Safety: both namespaces are created here, traffic goes only between them (the node's only
 * routes are the veth subnet and host routes to the cluster IP and endpoints, via the endpoints'
 * side), every probe is bounded in count and time, and both are deleted in `finally`.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";

/** What the kernel measurement found. */
export interface KernelFigures {
  /** `iptables-restore` of the rules into the node namespace, seconds. */
  readonly restoreSeconds: number;
  /** p50 of connect() → established through the cluster IP with the rules loaded, µs. */
  readonly firstPacketUs: number | null;
  /** The same connections straight to an endpoint with no rules loaded, µs (the floor). */
  readonly floorUs: number | null;
}

/** A Service to connect through: its cluster IP and port, and its endpoints' addresses and port. */
export interface Target {
  readonly clusterIp: string;
  readonly port: number;
  readonly endpoints: readonly string[];
  readonly targetPort: number;
}

const sh = (args: string[]): boolean => spawnSync(args[0] ?? "", args.slice(1), { stdio: "ignore", timeout: 30_000 }).status === 0;

const SERVER = `
const net = require("node:net");
const s = net.createServer((c) => c.destroy());
s.listen(Number(process.argv[1]), "0.0.0.0", () => process.stdout.write("ready\\n"));
setTimeout(() => process.exit(0), Number(process.argv[2])).unref();
`;

const CLIENT = `
const net = require("node:net");
const { performance } = require("node:perf_hooks");
const [host, port, count] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const times = [];
const one = (i) => {
  if (i >= count) { process.stdout.write(JSON.stringify(times) + "\\n"); return; }
  const t = performance.now();
  const c = net.connect({ host, port });
  c.setTimeout(2000, () => { c.destroy(); process.stdout.write(JSON.stringify({ error: "timeout" }) + "\\n"); });
  c.on("connect", () => { times.push((performance.now() - t) * 1000); c.destroy(); setImmediate(() => one(i + 1)); });
  c.on("error", (e) => { process.stdout.write(JSON.stringify({ error: e.code }) + "\\n"); });
};
one(0);
`;

function p50(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** Opens `count` connections from the node namespace to host:port; p50 µs, or null if any failed. */
async function connects(nodeNs: string, endNs: string, host: string, port: number, serverPort: number, count: number): Promise<number | null> {
  const server = spawn("ip", ["netns", "exec", endNs, process.execPath, "-e", SERVER, String(serverPort), "60000"], { stdio: ["ignore", "pipe", "ignore"] });
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("server did not start")), 10_000);
      server.stdout.on("data", () => {
        clearTimeout(t);
        resolve();
      });
      server.on("exit", () => reject(new Error("server exited")));
    });
    const out = execFileSync("ip", ["netns", "exec", nodeNs, process.execPath, "-e", CLIENT, host, String(port), String(count)], { encoding: "utf8", timeout: 60_000 });
    const r = JSON.parse(out.trim().split("\n")[0] ?? "null") as number[] | { error: string } | null;
    if (!Array.isArray(r)) {
      process.stderr.write(`kernel probe to ${host}:${port}: ${r?.error ?? "no answer"}\n`);
      return null;
    }
    // The first few connections pay for the neighbour lookup and JIT warm-up.
    return p50(r.slice(Math.min(10, r.length - 1)));
  } catch (e) {
    process.stderr.write(`kernel probe to ${host}:${port}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}\n`);
    return null;
  } finally {
    server.kill("SIGKILL");
  }
}

/** Restores `rules` into a fresh node namespace and measures connections through `target`. */
export async function kernelFigures(rules: string, target: Target | undefined, opts: { readonly noflush?: boolean; readonly count?: number; readonly then?: string } = {}): Promise<KernelFigures | null> {
  const count = opts.count ?? 200;
  if (process.getuid?.() !== 0) return null;
  const base = `pwkfp${process.pid}`;
  const [n, e] = [`${base}n`, `${base}e`];
  if (!sh(["ip", "netns", "add", n])) return null;
  try {
    if (!sh(["ip", "netns", "add", e])) return null;
    for (const c of ["ct_state_invalid_dropped_pkts", "localhost_nps_accepted_pkts"]) sh(["ip", "netns", "exec", n, "nfacct", "add", c]);
    const ok =
      sh(["ip", "-n", n, "link", "add", "pwk0", "type", "veth", "peer", "name", "pwk1", "netns", e]) &&
      sh(["ip", "-n", n, "addr", "add", "192.168.77.1/24", "dev", "pwk0"]) &&
      sh(["ip", "-n", e, "addr", "add", "192.168.77.2/24", "dev", "pwk1"]) &&
      sh(["ip", "-n", n, "link", "set", "pwk0", "up"]) &&
      sh(["ip", "-n", n, "link", "set", "lo", "up"]) &&
      sh(["ip", "-n", e, "link", "set", "pwk1", "up"]) &&
      sh(["ip", "-n", e, "link", "set", "lo", "up"]);
    if (!ok) return null;
    // Host routes only: the cluster IP and each endpoint, all to the endpoints' namespace.
    if (target) {
      sh(["ip", "-n", n, "route", "add", `${target.clusterIp}/32`, "via", "192.168.77.2"]);
      for (const a of target.endpoints) {
        sh(["ip", "-n", e, "addr", "add", `${a}/32`, "dev", "lo"]);
        sh(["ip", "-n", n, "route", "add", `${a}/32`, "via", "192.168.77.2"]);
      }
    }
    const floorUs = target && target.endpoints[0] ? await connects(n, e, target.endpoints[0], target.targetPort, target.targetPort, count) : null;
    const t0 = performance.now();
    execFileSync("ip", ["netns", "exec", n, "iptables-restore", ...(opts.noflush ? ["--noflush"] : [])], { input: rules, timeout: 600_000, maxBuffer: 1 << 30 });
    const restoreSeconds = (performance.now() - t0) / 1000;
    // Rules the owner adds after the timed restore (kube-proxy's jumps from the built-in chains).
    if (opts.then) execFileSync("ip", ["netns", "exec", n, "iptables-restore", "--noflush"], { input: opts.then, timeout: 60_000 });
    const firstPacketUs = target ? await connects(n, e, target.clusterIp, target.port, target.targetPort, count) : null;
    return { restoreSeconds, firstPacketUs, floorUs };
  } catch (e) {
    process.stderr.write(`kernel measurement: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}\n`);
    return null;
  } finally {
    sh(["ip", "netns", "del", e]);
    sh(["ip", "netns", "del", n]);
  }
}
