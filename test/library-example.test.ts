/**
 * The README's library example, written as a consuming project's test would use podwire: only
 * the public entry point, a lab script, a packet, the events and a view.
 */
import { expect, it } from "vitest";
import { Network, applyScript, kernel, ip } from "../src/index.js";

it("the README's veth lab: the SYN reaches the listener and the sender learns the neighbour", () => {
  const net = new Network({ seed: 1 });
  applyScript(
    net,
    `
ip netns add a
ip netns add b
a: ip link add v1 type veth peer name v2 netns b
a: ip addr add 10.0.0.1/24 dev v1
b: ip addr add 10.0.0.2/24 dev v2
a: ip link set v1 up
b: ip link set v2 up
b: listen tcp 0.0.0.0 80 label web
`,
  );
  net.send("a", { proto: "tcp", dst: ip("10.0.0.2"), sport: 40000, dport: 80 });
  const events = net.drain();
  const syn = events.find((e) => e.kind === "deliver" && e.socket === "web");
  expect(syn?.ns).toBe("b");
  expect(events.some((e) => e.kind === "emit" && e.what === "tcp-synack")).toBe(true);
  expect(kernel.ipNeigh(net.ns("a"))).toMatch(/^10\.0\.0\.2 dev v1 lladdr [0-9a-f:]{17} REACHABLE \n$/);
});
