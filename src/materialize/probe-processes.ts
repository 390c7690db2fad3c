/**
 * @module materialize/probe-processes
 * The real processes a probe uses inside a real namespace (`ip netns exec NS node -e …`): a server
 * that answers each TCP connection or UDP datagram with its label and the source address it saw,
 * and a client that sends one probe and prints what came back (`delivered` with the answerer's
 * label and the seen source, an errno such as ECONNREFUSED, or `timeout`). Both are bounded in
 * time. Shared by `podwire verify` and the kernel conformance tests.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";

const SERVER = `
const [label, lifetime, ...specs] = process.argv.slice(1);
setTimeout(() => process.exit(0), +lifetime);
let pending = specs.length;
const ready = () => { if (--pending === 0) console.log("ready"); };
for (const spec of specs) {
  const [pp, addr = "0.0.0.0"] = spec.split("@");
  const [proto, port] = pp.split("/");
  if (proto === "tcp") require("net").createServer((s) => { s.on("error", () => {}); s.end(label + " " + s.remoteAddress.replace("::ffff:", "") + "\\n"); }).listen(+port, addr, ready);
  else { const u = require("dgram").createSocket("udp4"); u.on("message", (m, r) => u.send(label + " " + r.address, r.port, r.address)); u.bind(+port, addr, ready); }
}`;

const CLIENT = `
const [proto, dst, port, timeout] = process.argv.slice(1);
const done = (o) => { console.log(JSON.stringify(o)); process.exit(0); };
setTimeout(() => done({ result: "timeout" }), +timeout);
if (proto === "tcp") {
  const s = require("net").connect({ host: dst, port: +port });
  s.on("data", (d) => { const [from, seen] = d.toString().trim().split(" "); done({ result: "delivered", from, seen }); });
  s.on("error", (e) => done({ result: e.code }));
} else {
  const s = require("dgram").createSocket("udp4");
  s.on("error", (e) => done({ result: e.code }));
  s.on("message", (d) => { const [from, seen] = d.toString().trim().split(" "); done({ result: "delivered", from, seen }); });
  s.connect(+port, dst, () => s.send("probe"));
}`;

/** What one client probe saw. */
export interface ClientResult {
  /** `delivered`, an errno (ECONNREFUSED, EHOSTUNREACH, …), `timeout`, or `client failed: …`. */
  readonly result: string;
  /** The answering server's label. */
  readonly from?: string;
  /** The source address the server saw. */
  readonly seen?: string;
}

/**
 * Starts a server in `ns` listening on each `proto/port[@addr]` spec (all addresses by default);
 * it answers with `label` and exits after `lifetimeMs`. Resolves once it listens; the child is
 * pushed to `children` so the caller can kill it.
 */
export function startProbeServer(ns: string, label: string, specs: readonly string[], children: ChildProcess[], lifetimeMs: number, startMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", SERVER, label, String(lifetimeMs), ...specs], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    const timer = setTimeout(() => reject(new Error(`server ${label} (${specs.join(" ")}) in ${ns} did not start`)), startMs);
    child.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0 && code !== null) reject(new Error(`server ${label} (${specs.join(" ")}) in ${ns} exited ${code}`));
    });
  });
}

/** Sends one TCP connection or UDP datagram from `ns` to dst:port and reports what came back. */
export function runProbeClient(ns: string, proto: string, dst: string, port: number, timeoutMs: number): ClientResult {
  const r = spawnSync("ip", ["netns", "exec", ns, process.execPath, "-e", CLIENT, proto, dst, String(port), String(timeoutMs)], { timeout: timeoutMs + 5000, encoding: "utf8" });
  try {
    return JSON.parse((r.stdout ?? "").trim().split("\n").pop() ?? "") as ClientResult;
  } catch {
    return { result: `client failed: ${(r.stderr ?? "").trim()}` };
  }
}
