/**
 * `ip route add 10.0.0.0/8 via GW dev eth0 [onlink] [scope S]` with 10.244.1.5/24 on eth0: which
 * gateways, flags and scopes the kernel takes (fib_create_info, fib_check_nh_v4_gw) and the route
 * it then shows. The `want` column is what the real kernel (6.18, iproute2 6.1) answered when this
 * was written; the emulator is held to it always, and as root the real kernel is asked again in
 * a throwaway namespace.
 */
import { afterAll, describe, expect, it } from "vitest";
import { Network } from "../../src/kernel/network.js";
import { applyScript } from "../../src/kernel/ip-script.js";
import { ipRoute } from "../../src/kernel/views.js";
import { Netns, oracleUnavailable } from "../support/netns.js";

const unavailable = oracleUnavailable();
if (unavailable) console.warn(`route gateways: real-kernel half skipped (${unavailable})`);

interface Case {
  /** What follows `ip route add 10.0.0.0/8`. */
  readonly args: string;
  /** The refusal, or the route as `ip route show 10.0.0.0/8` prints it (linkdown while eth0's peer is down). */
  readonly want: string;
  /** eth0 is left down. */
  readonly down?: true;
  /** eth0's peer is up too: eth0 has a carrier. */
  readonly carrier?: true;
}

const CASES: readonly Case[] = [
  { args: "via 10.244.1.1 dev eth0", want: "10.0.0.0/8 via 10.244.1.1 dev eth0 linkdown" }, // another host on the subnet
  { args: "via 10.244.1.0 dev eth0", want: "10.0.0.0/8 via 10.244.1.0 dev eth0 linkdown" }, // the subnet's network address
  { args: "via 10.244.1.5 dev eth0", want: "10.0.0.0/8 via 10.244.1.5 dev eth0 linkdown" }, // the namespace's own address
  { args: "via 10.244.1.255 dev eth0", want: "Error: Nexthop has invalid gateway." }, // the subnet's broadcast
  { args: "via 10.9.9.9 dev eth0", want: "Error: Nexthop has invalid gateway." }, // not on any subnet
  { args: "via 10.244.1.1 dev eth0", want: "Error: Nexthop has invalid gateway.", down: true },
  // A scope: global is the default with a gateway; link looks the gateway up past link routes.
  { args: "via 10.244.1.1 dev eth0 scope global", want: "10.0.0.0/8 via 10.244.1.1 dev eth0 linkdown" },
  { args: "via 10.244.1.1 dev eth0 scope link", want: "Error: Nexthop has invalid gateway." },
  { args: "via 10.244.1.5 dev eth0 scope link", want: "10.0.0.0/8 via 10.244.1.5 dev eth0 scope link linkdown" },
  { args: "via 10.244.1.1 dev eth0 scope host", want: "Error: Route with host scope can not have a gateway." },
  // onlink (flannel's routes to other nodes): the gateway is taken as on the link, if unicast.
  { args: "via 10.9.9.9 dev eth0 onlink", want: "10.0.0.0/8 via 10.9.9.9 dev eth0 onlink linkdown" },
  { args: "via 10.244.1.0 dev eth0 onlink", want: "10.0.0.0/8 via 10.244.1.0 dev eth0 onlink linkdown" },
  { args: "via 10.244.1.5 dev eth0 onlink", want: "Error: Nexthop has invalid gateway." },
  { args: "via 10.244.1.255 dev eth0 onlink", want: "Error: Nexthop has invalid gateway." },
  { args: "via 224.0.0.5 dev eth0 onlink", want: "Error: Nexthop has invalid gateway." },
  { args: "via 255.255.255.255 dev eth0 onlink", want: "Error: Nexthop has invalid gateway." },
  { args: "via 10.244.1.1 dev eth0 onlink scope link", want: "Error: Nexthop has invalid scope." },
  { args: "via 10.244.1.1 dev eth0 onlink scope host", want: "Error: Route with host scope can not have a gateway." },
  { args: "via 10.244.1.1 onlink", want: "Error: Nexthop device required for onlink." },
  { args: "via 0.0.0.0 dev eth0", want: "10.0.0.0/8 dev eth0 linkdown" }, // no gateway: a route on eth0
  { args: "via 10.244.1.1 dev eth0", want: "10.0.0.0/8 via 10.244.1.1 dev eth0", carrier: true },
  { args: "via 10.9.9.9 dev eth0 onlink", want: "10.0.0.0/8 via 10.9.9.9 dev eth0 onlink", carrier: true },
  { args: "via 0.0.0.0 dev eth0 onlink", want: "Error: Invalid flags for nexthop - PERVASIVE and ONLINK can not be set." },
  { args: "via 10.244.1.1 dev eth0 onlink", want: "Error: Nexthop device is not up.", down: true },
];

const label = (c: Case): string => `${c.args}${c.down ? " (eth0 down)" : ""}${c.carrier ? " (carrier)" : ""}`;

function emulated(c: Case): string {
  const n = new Network({ seed: 1 });
  const h = n.netnsAdd("h");
  const p = n.netnsAdd("p");
  p.linkSetUp("lo");
  p.linkAdd({ kind: "veth", name: "eth0", peer: "p1", peerNs: h.name });
  p.addrAdd("eth0", "10.244.1.5/24", { brd: "+" });
  if (!c.down) p.linkSetUp("eth0");
  if (c.carrier) h.linkSetUp("p1");
  try {
    applyScript(n, `p: ip route add 10.0.0.0/8 ${c.args}`);
    return ipRoute(p).split("\n").find((l) => l.startsWith("10.0.0.0/8 "))?.trim() ?? "(no route)";
  } catch (e) {
    return e instanceof Error ? e.message.replace(/^line 1: /, "") : String(e);
  }
}

describe("route gateways", () => {
  it("the emulator takes and refuses the gateways the real kernel does", () => {
    expect(CASES.map((c) => `${label(c)}: ${emulated(c)}`)).toEqual(CASES.map((c) => `${label(c)}: ${c.want}`));
  });

  describe.skipIf(unavailable !== undefined)("the real kernel, as root", () => {
    const nets = new Netns("rgw");
    afterAll(() => nets.teardown());
    it("still answers as recorded", () => {
      const p = nets.add("p");
      const h = nets.add("h");
      nets.exec(p, ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "p1", "netns", h]);
      nets.exec(p, ["ip", "addr", "add", "10.244.1.5/24", "brd", "+", "dev", "eth0"]);
      const got = CASES.map((c) => {
        nets.exec(p, ["ip", "link", "set", "eth0", c.down ? "down" : "up"]);
        nets.exec(h, ["ip", "link", "set", "p1", c.carrier ? "up" : "down"]);
        const r = nets.tryExec(p, ["ip", "route", "add", "10.0.0.0/8", ...c.args.split(" ")]);
        const shown = r.status === 0 ? nets.tryExec(p, ["ip", "route", "show", "10.0.0.0/8"]).stdout.trim() : r.stderr.trim();
        nets.tryExec(p, ["ip", "route", "del", "10.0.0.0/8"]);
        return `${label(c)}: ${shown}`;
      });
      expect(got).toEqual(CASES.map((c) => `${label(c)}: ${c.want}`));
    });
  });
});
