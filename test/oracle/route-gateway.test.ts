/**
 * `ip route add DST via GW dev eth0` with eth0 up and 10.244.1.5/24 on it: which gateways the
 * kernel takes (fib_check_nh). The `want` column is what the real kernel (6.18, iproute2 6.1)
 * answered when this was written; the emulator is held to it always, and as root the real kernel
 * is asked again in a throwaway namespace.
 */
import { afterAll, describe, expect, it } from "vitest";
import { Network } from "../../src/kernel/network.js";
import { ip } from "../../src/net/addr.js";
import { parseCidr } from "../../src/net/cidr.js";
import { Netns, oracleUnavailable } from "../support/netns.js";

const unavailable = oracleUnavailable();
if (unavailable) console.warn(`route gateways: real-kernel half skipped (${unavailable})`);

const CASES: readonly { readonly via: string; readonly want: string }[] = [
  { via: "10.244.1.1", want: "ok" }, // another host on the subnet
  { via: "10.244.1.0", want: "ok" }, // the subnet's network address
  { via: "10.244.1.5", want: "ok" }, // the namespace's own address
  { via: "10.244.1.255", want: "Error: Nexthop has invalid gateway." }, // the subnet's broadcast
  { via: "10.9.9.9", want: "Error: Nexthop has invalid gateway." }, // not on any subnet
];

function emulated(via: string): string {
  const n = new Network({ seed: 1 });
  const h = n.netnsAdd("h");
  const p = n.netnsAdd("p");
  p.linkSetUp("lo");
  p.linkAdd({ kind: "veth", name: "eth0", peer: "p1", peerNs: h.name });
  p.addrAdd("eth0", "10.244.1.5/24", { brd: "+" });
  p.linkSetUp("eth0");
  const dst = parseCidr("10.0.0.0/8");
  if (!dst.ok) throw new Error("bad cidr");
  try {
    p.routeAdd({ dst: dst.value, via: ip(via), dev: "eth0" });
    return "ok";
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

describe("route gateways", () => {
  it("the emulator takes and refuses the gateways the real kernel does", () => {
    expect(CASES.map((c) => `${c.via}: ${emulated(c.via)}`)).toEqual(CASES.map((c) => `${c.via}: ${c.want}`));
  });

  describe.skipIf(unavailable !== undefined)("the real kernel, as root", () => {
    const nets = new Netns("rgw");
    afterAll(() => nets.teardown());
    it("still answers as recorded", () => {
      const p = nets.add("p");
      const h = nets.add("h");
      nets.exec(p, ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "p1", "netns", h]);
      nets.exec(p, ["ip", "addr", "add", "10.244.1.5/24", "brd", "+", "dev", "eth0"]);
      nets.exec(p, ["ip", "link", "set", "eth0", "up"]);
      const got = CASES.map((c) => {
        const r = nets.tryExec(p, ["ip", "route", "add", "10.0.0.0/8", "via", c.via, "dev", "eth0"]);
        nets.tryExec(p, ["ip", "route", "del", "10.0.0.0/8"]);
        return `${c.via}: ${r.status === 0 ? "ok" : r.stderr.trim()}`;
      });
      expect(got).toEqual(CASES.map((c) => `${c.via}: ${c.want}`));
    });
  });
});
