/**
 * The real kernel's flow (bench/kernel-first-packet.ts) through podwire's emulated kernels: the
 * same two namespaces (`n`, the node, with the rules; `e`, the endpoints, with every endpoint
 * address on lo and a server on the target port), the same addresses and host routes, and one new
 * connection from the node to the cluster IP on a copy of the network each time (OUTPUT → nat →
 * routing → veth → the endpoint's socket → SYN-ACK back, un-DNATed), as the real connect() →
 * SYN-ACK. The events are recorded; hop rendering is not run (the kernel renders nothing either).
 */
import { performance } from "node:perf_hooks";
import type { Ipv4 } from "../src/net/addr.js";
import type { Target } from "./kernel-first-packet.js";

type Lib = typeof import("../src/index.js");

/** What the node namespace is given: `rules` restored, then `then` with `--noflush` (as the kernel's). */
export interface SameFlowRules {
  readonly rules: string;
  readonly then?: string;
}

/** p50 µs of `count` new connections (the first half, or 200, are warm-up), or null when one got no SYN-ACK back. */
export function podwireSameFlow(lib: Lib, given: SameFlowRules, target: Target, count: number): number | null {
  const net = new lib.Network({ seed: 1 });
  const script = [
    "ip netns add n",
    "ip netns add e",
    "n: ip link add pwk0 type veth peer name pwk1 netns e",
    "n: ip addr add 192.168.77.1/24 dev pwk0",
    "e: ip addr add 192.168.77.2/24 dev pwk1",
    "n: ip link set pwk0 up",
    "n: ip link set lo up",
    "e: ip link set pwk1 up",
    "e: ip link set lo up",
    `n: ip route add ${target.clusterIp}/32 via 192.168.77.2`,
    ...target.endpoints.flatMap((a) => [`e: ip addr add ${a}/32 dev lo`, `n: ip route add ${a}/32 via 192.168.77.2`]),
  ];
  lib.applyScript(net, script.join("\n"));
  net.ns("n").iptablesRestore(given.rules);
  if (given.then) net.ns("n").iptablesRestore(given.then, { noflush: true });
  net.ns("e").listen("tcp", 0 as Ipv4, target.targetPort, { label: "server" });
  const dst = lib.net.ip(target.clusterIp);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const s = performance.now();
    const c = net.clone(i + 1);
    const id = c.send("n", { proto: "tcp", dst, sport: 40000 + (i % 20000), dport: target.port });
    const events = c.drain();
    times.push((performance.now() - s) * 1000);
    const synack = events.find((e) => e.kind === "emit" && e.cause === id && e.what === "tcp-synack");
    const back = synack && events.some((e) => e.kind === "deliver" && e.packetId === synack.packetId && e.ns === "n");
    if (!back) return null;
  }
  // As for the kernel: the first connections pay for the neighbour lookup and the JIT.
  const measured = times.slice(Math.min(count / 2, 200)).sort((a, b) => a - b);
  return measured[Math.floor(measured.length / 2)] ?? null;
}
