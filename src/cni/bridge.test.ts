/**
 * The bridge plugin defers a pod's devices only when `podRoutesSafe` says its routes cannot fail:
 * for any address and routes it accepts, the emulated kernel adds every one of them in a new
 * namespace (lo, and eth0 up with the address), as the plugin's pod side does.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Network } from "../kernel/network.js";
import { maskOf, type Cidr } from "../net/cidr.js";
import type { Ipv4 } from "../net/addr.js";
import { podRoutesSafe } from "./bridge.js";

describe("podRoutesSafe", () => {
  it("accepts only routes the pod side then adds without an error (fast-check)", () => {
    const ip = fc.integer({ min: 0x0a000000, max: 0x0affffff });
    const cidr = fc.tuple(ip, fc.integer({ min: 0, max: 32 })).map(([a, len]): Cidr => ({ addr: ((a & maskOf(len)) >>> 0) as Ipv4, len }));
    const input = fc.record({
      addr: ip,
      len: fc.integer({ min: 8, max: 30 }),
      routes: fc.array(fc.record({ dst: fc.option(cidr, { nil: undefined }), via: fc.option(fc.oneof(ip, fc.constantFrom("gw", "self", "net", "bcast")), { nil: undefined }) }), { maxLength: 4 }),
    });
    let accepted = 0;
    fc.assert(
      fc.property(input, ({ addr, len, routes }) => {
        const mask = maskOf(len);
        const net = (addr & mask) >>> 0;
        if (addr === net || addr === (net | ~mask) >>> 0) return; // not a host address
        const self: Cidr = { addr: addr as Ipv4, len };
        const via = (v: number | string | undefined): Ipv4 | undefined =>
          v === undefined ? undefined : v === "gw" ? (((net + 1) >>> 0) as Ipv4) : v === "self" ? (addr as Ipv4) : v === "net" ? (net as Ipv4) : v === "bcast" ? (((net | ~mask) >>> 0) as Ipv4) : (v as Ipv4);
        const rs = routes.map((r) => ({ dst: r.dst, via: via(r.via) }));
        if (!podRoutesSafe(rs, self)) return;
        accepted += 1;
        const n = new Network({ seed: 1 });
        const host = n.netnsAdd("h");
        const pod = n.netnsAdd("p");
        pod.linkSetUp("lo");
        pod.linkAdd({ kind: "veth", name: "eth0", peer: "veth0", peerNs: host.name });
        pod.addrAdd("eth0", self, { brd: "+" });
        pod.linkSetUp("eth0");
        for (const r of rs) expect(() => pod.routeAdd({ dst: r.dst as Cidr, dev: "eth0", ...(r.via !== undefined ? { via: r.via } : {}) })).not.toThrow();
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(100);
  });
});
