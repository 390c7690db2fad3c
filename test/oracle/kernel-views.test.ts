/**
 * The state views (`ip link`, `ip -d link`, `ip addr`, `ip -br addr`, `ip route`, `ip route show
 * table local`, `ip neigh`, `bridge fdb show`, `conntrack -L`) compared with the real tools
 * (iproute2 6.1, conntrack-tools 1.4.7, kernel 6.18) on one lab built both ways, after the same
 * traffic. Normalised only where the kernel's output is not a function of the state: namespace
 * name prefixes, hash-ordered listings (neighbours, conntrack, learned FDB entries — compared
 * as sorted sets per device), bridge timers, conntrack countdowns (rounded to 5 s, which still
 * tells a 30 s from a 120 s timeout), ephemeral ports, and the IGMP entries the
 * kernel's own multicast reports leave in conntrack (podwire does not send IGMP).
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyScript } from "../../src/kernel/ip-script.js";
import { Network } from "../../src/kernel/network.js";
import { bridgeFdbShow, conntrackList, ipAddr, ipBriefAddr, ipBriefLink, ipLink, ipLinkDetails, ipNeigh, ipRoute } from "../../src/kernel/views.js";
import { emuProbe, RealLab, type Probe } from "../support/kernel-lab.js";
import { Netns, oracleUnavailable } from "../support/netns.js";

const unavailable = oracleUnavailable();
if (unavailable) console.warn(`kernel views: comparison with the real tools skipped (${unavailable})`);

const LAB = `ip netns add node
ip netns add pa
ip netns add pb
ip netns add peer
node: ip link set lo up
pa: ip link set lo up
pb: ip link set lo up
peer: ip link set lo up
node: ip link add eth0 type veth peer name eth0 netns peer
node: ip link set eth0 address 52:54:00:ab:01:10
peer: ip link set eth0 address 52:54:00:ab:01:11
node: ip addr add 192.168.1.10/24 brd + dev eth0
node: ip addr add 192.168.1.99/24 dev eth0
peer: ip addr add 192.168.1.11/24 brd + dev eth0
node: ip link set eth0 up
peer: ip link set eth0 up
node: ip link add cni0 type bridge
node: ip link set cni0 address 3a:51:7e:c4:20:11
node: ip addr add 10.244.0.1/24 brd + dev cni0
node: ip link set cni0 up
pa: ip link add eth0 type veth peer name vetha netns node
pa: ip link set eth0 address 5a:0c:71:3e:aa:12
node: ip link set vetha address 2e:81:d4:10:77:12
node: ip link set vetha master cni0
node: bridge link set dev vetha hairpin on
node: ip link set vetha up
pa: ip addr add 10.244.0.2/24 brd + dev eth0
pa: ip link set eth0 up
pa: ip route add default via 10.244.0.1
pb: ip link add eth0 type veth peer name vethb netns node
pb: ip link set eth0 address 7e:22:90:5b:bb:13
node: ip link set vethb address b2:4f:6a:19:88:13
node: ip link set vethb master cni0
node: ip link set vethb up
pb: ip addr add 10.244.0.3/24 brd + dev eth0
pb: ip link set eth0 up
pb: ip route add default via 10.244.0.1
pb: listen udp 0.0.0.0 53 label dns
node: ip link add flannel.1 type vxlan id 1 local 192.168.1.10 dev eth0 dstport 8472 nolearning
node: ip link set flannel.1 address 6e:3c:11:a0:0a:10
node: ip addr add 10.244.0.0/32 dev flannel.1
node: ip link set flannel.1 up
node: ip neigh replace 10.244.1.0 lladdr 8a:1f:42:b0:0b:11 dev flannel.1 nud permanent
node: bridge fdb append 8a:1f:42:b0:0b:11 dev flannel.1 dst 192.168.1.11
node: bridge fdb append 00:00:00:00:00:00 dev flannel.1 dst 192.168.1.12
node: ip route add 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink
node: ip route add default via 192.168.1.1 dev eth0
node: ip route add 10.50.0.0/16 via 192.168.1.11 metric 100
node: ip route add 10.60.0.0/16 via 192.168.1.11 src 192.168.1.10
node: ip route add blackhole 10.70.0.0/16
node: ip route add unreachable 10.80.0.0/16
node: ip route add prohibit 10.90.0.0/16
node: ip link add dummyv type veth peer name dummyp
node: ip link set dummyv address 02:00:00:00:99:01
node: ip link set dummyp address 02:00:00:00:99:02
node: ip addr add 10.99.0.1/24 dev dummyv
node: ip link set dummyv up
node: sysctl -w net.ipv4.ip_forward=1
node: iptables-restore <<EOF
*nat
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 10.244.0.0/16 ! -d 10.244.0.0/16 -j MASQUERADE --random-fully
COMMIT
EOF
`;

const TRAFFIC: readonly Probe[] = [
  { from: "pa", proto: "icmp", dst: "10.244.0.3" },
  { from: "pa", proto: "udp", dst: "10.244.0.3", port: 53 },
  { from: "pa", proto: "icmp", dst: "192.168.1.11" },
];

const VIEWS: Record<string, { argv: readonly string[]; emu: (net: Network, ns: string) => string; sorted?: boolean }> = {
  "ip link": { argv: ["ip", "link"], emu: (n, ns) => ipLink(n.ns(ns)) },
  "ip -d link": { argv: ["ip", "-d", "link"], emu: (n, ns) => ipLinkDetails(n.ns(ns), { possibleCpus: possibleCpus() }) },
  "ip addr": { argv: ["ip", "addr"], emu: (n, ns) => ipAddr(n.ns(ns)) },
  "ip -br addr": { argv: ["ip", "-br", "addr"], emu: (n, ns) => ipBriefAddr(n.ns(ns)) },
  "ip -br link": { argv: ["ip", "-br", "link"], emu: (n, ns) => ipBriefLink(n.ns(ns)) },
  "ip route": { argv: ["ip", "route"], emu: (n, ns) => ipRoute(n.ns(ns)) },
  "ip route show table local": { argv: ["ip", "route", "show", "table", "local"], emu: (n, ns) => ipRoute(n.ns(ns), "local") },
  "ip neigh": { argv: ["ip", "neigh"], emu: (n, ns) => ipNeigh(n.ns(ns)), sorted: true },
  "bridge fdb show": { argv: ["bridge", "fdb", "show"], emu: (n, ns) => bridgeFdbShow(n.ns(ns)) },
  "conntrack -L": { argv: ["conntrack", "-L"], emu: (n, ns) => conntrackList(n.ns(ns)), sorted: true },
};

function possibleCpus(): number {
  // "0-1" → 2 (num_possible_cpus; a veth gets one queue per possible CPU).
  try {
    const text = readFileSync("/sys/devices/system/cpu/possible", "utf8").trim();
    return text.split(",").reduce((n, part) => {
      const [a, b] = part.split("-").map(Number);
      return n + (b === undefined ? 1 : (b as number) - (a as number) + 1);
    }, 0);
  } catch {
    return 2;
  }
}

/** Normalises what is not a function of the state (see the module comment). */
function normalise(view: string, text: string, prefix: string, sorted: boolean): string {
  let t = text.replaceAll(prefix, "");
  t = t.replace(/(hello_timer|tcn_timer|topology_change_timer|gc_timer|hold_timer|message_age_timer|forward_delay_timer) +\d+\.\d\d/g, "$1 T");
  if (view === "conntrack -L") {
    t = t
      .split("\n")
      .filter((l) => !l.startsWith("unknown "))
      .map((l) => l.replace(/^(\S+\s+\d+) (\d+)/, (_m, head: string, secs: string) => `${head} ~${Math.round(Number(secs) / 5) * 5}`).replace(/id=\d+/g, "id=I").replace(/port=(\d{4,5})\b/g, (m, p: string) => (Number(p) > 1023 ? "port=EPHEMERAL" : m)))
      .join("\n");
  }
  if (view === "bridge fdb show") {
    // Group by device in order of appearance; learned and vxlan entries are hash-ordered.
    const groups = new Map<string, string[]>();
    for (const l of t.split("\n").filter((x) => x !== "")) {
      const dev = / dev (\S+)/.exec(l)?.[1] ?? "";
      groups.set(dev, [...(groups.get(dev) ?? []), l]);
    }
    t = [...groups.entries()].map(([dev, ls]) => `${dev}:\n${ls.sort().join("\n")}`).join("\n");
  }
  if (sorted) t = t.split("\n").filter((x) => x !== "").sort().join("\n");
  return t.trimEnd();
}

describe.skipIf(unavailable !== undefined)("views match iproute2 / bridge / conntrack on the same state", () => {
  const nsx = new Netns("views");
  const lab = new RealLab(nsx);
  const net = new Network({ seed: 3 });
  let prefix = "";
  beforeAll(async () => {
    applyScript(net, LAB);
    await lab.build(LAB);
    prefix = (lab.names.get("node") as string).replace(/node$/, "");
    for (const p of TRAFFIC) {
      emuProbe(net, p);
      lab.probe(p);
    }
    // Operstate changes reach userspace through linkwatch, up to 1 s late; let it settle.
    await new Promise((r) => setTimeout(r, 1200));
  }, 60_000);
  afterAll(() => {
    lab.stop();
    nsx.teardown();
  });
  const cases = Object.entries(VIEWS).flatMap(([view, v]) => ["node", "pa", "peer"].map((ns) => ({ name: `${view} in ${ns}`, view, v, ns })));
  it.each(cases)("$name", ({ view, v, ns }) => {
    const real = normalise(view, lab.exec(ns, v.argv), prefix, v.sorted ?? false);
    const emu = normalise(view, v.emu(net, ns), prefix, v.sorted ?? false);
    expect(emu).toBe(real);
  });
});
