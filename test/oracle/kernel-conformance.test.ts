/**
 * Kernel conformance suite (issue 3): small low-level labs, each built from one script both in
 * podwire and in real namespaces on this machine, with the same probes sent in both.
 *
 * Outcomes are what a client sees (answer, errno, ICMP message and its source, the source address
 * the server saw, ping TTL) and, for a silent drop, the namespace whose kernel drop counter
 * moved (/proc/net/snmp, /proc/net/netstat) — which side dropped.
 *
 * Every `want` below is what the real kernel (6.18, iproute2 6.1, iputils ping) did when this
 * suite was written; the emulator is held to it always, and as root the real kernel is probed
 * again and held to the same values, so a disagreement fails whichever side moved.
 */
import { afterAll, describe, expect, it } from "vitest";
import { applyScript } from "../../src/kernel/ip-script.js";
import { Network } from "../../src/kernel/network.js";
import { describeProbe, emuProbe, RealLab, type Outcome, type Probe } from "../support/kernel-lab.js";
import { Netns, oracleUnavailable } from "../support/netns.js";

const unavailable = oracleUnavailable();
if (unavailable) console.warn(`kernel conformance: real-kernel half skipped (${unavailable})`);

interface Case {
  readonly name: string;
  readonly script: string;
  readonly probes: readonly { readonly probe: Probe; readonly want: Outcome }[];
}

/** `ip netns add` lines (with lo up) for each name. */
const netns = (...names: string[]): string => names.map((n) => `ip netns add ${n}\n${n}: ip link set lo up`).join("\n");

/** A veth between two namespaces with addresses, both ends up. */
const wire = (a: string, ifA: string, addrA: string, b: string, ifB: string, addrB: string): string =>
  [
    `${a}: ip link add ${ifA} type veth peer name ${ifB} netns ${b}`,
    addrA ? `${a}: ip addr add ${addrA} dev ${ifA}` : "",
    addrB ? `${b}: ip addr add ${addrB} dev ${ifB}` : "",
    `${a}: ip link set ${ifA} up`,
    `${b}: ip link set ${ifB} up`,
  ].join("\n");

/** client c — router r — server s, 10.0.1.0/24 and 10.0.2.0/24 (the client's address as given). */
const routed = (client: string): string =>
  [
    netns("c", "r", "s"),
    wire("c", "eth0", client, "r", "eth1", "10.0.1.1/24"),
    wire("r", "eth2", "10.0.2.1/24", "s", "eth0", "10.0.2.2/24"),
    "s: ip route add default via 10.0.2.1",
    "s: listen tcp 0.0.0.0 80 label web",
    "s: listen udp 0.0.0.0 53 label dns",
  ].join("\n");
const ROUTED = [routed("10.0.1.2/24"), "c: ip route add default via 10.0.1.1"].join("\n");

/** A host h with bridge br0 (10.1.0.1/24) and pods p1 10.1.0.2, p2 10.1.0.3 behind it. */
const BRIDGED = [
  netns("h", "p1", "p2"),
  "h: ip link add br0 type bridge",
  "h: ip addr add 10.1.0.1/24 dev br0",
  "h: ip link set br0 up",
  ...[1, 2].map((i) =>
    [
      `p${i}: ip link add eth0 type veth peer name ve${i} netns h`,
      `p${i}: ip link set eth0 address 02:00:00:00:00:0${i}`,
      `h: ip link set ve${i} master br0`,
      `h: ip link set ve${i} up`,
      `p${i}: ip addr add 10.1.0.${i + 1}/24 dev eth0`,
      `p${i}: ip link set eth0 up`,
      `p${i}: ip route add default via 10.1.0.1`,
      `p${i}: listen tcp 0.0.0.0 80 label web${i}`,
    ].join("\n"),
  ),
].join("\n");

const SERVICE_NAT = (backend: string): string => `h: iptables-restore <<EOF
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination ${backend}:80
-A POSTROUTING -s 10.1.0.2/32 -d 10.1.0.2/32 -j MASQUERADE
COMMIT
EOF`;

const CASES: readonly Case[] = [
  {
    name: "two namespaces over veth",
    script: [netns("a", "b"), wire("a", "v1", "10.0.0.1/24", "b", "v2", "10.0.0.2/24"), "b: listen tcp 0.0.0.0 80 label web", "b: listen udp 10.0.0.2 53 label dns"].join("\n"),
    probes: [
      { probe: { from: "a", proto: "icmp", dst: "10.0.0.2" }, want: { result: "reply", from: "10.0.0.2", ttl: 64 } },
      { probe: { from: "a", proto: "tcp", dst: "10.0.0.2", port: 80 }, want: { result: "connected", from: "web", seenSrc: "10.0.0.1" } },
      { probe: { from: "a", proto: "tcp", dst: "10.0.0.2", port: 81 }, want: { result: "ECONNREFUSED" } },
      { probe: { from: "a", proto: "udp", dst: "10.0.0.2", port: 53 }, want: { result: "reply", from: "dns", seenSrc: "10.0.0.1" } },
      { probe: { from: "a", proto: "udp", dst: "10.0.0.2", port: 54 }, want: { result: "ECONNREFUSED" } },
      { probe: { from: "a", proto: "icmp", dst: "10.0.0.1" }, want: { result: "reply", from: "10.0.0.1", ttl: 64 } },
      { probe: { from: "a", proto: "icmp", dst: "10.9.9.9" }, want: { result: "ENETUNREACH" } },
      { probe: { from: "a", proto: "icmp", dst: "10.0.0.9", timeoutMs: 5000 }, want: { result: "icmp Destination Host Unreachable", from: "10.0.0.1" } },
    ],
  },
  {
    name: "a bridge with three ports learns and floods",
    script: [
      netns("br", "p1", "p2", "p3"),
      "br: ip link add br0 type bridge",
      "br: ip link set br0 up",
      ...[1, 2, 3].map((i) => [`p${i}: ip link add eth0 type veth peer name ve${i} netns br`, `br: ip link set ve${i} master br0`, `br: ip link set ve${i} up`, `p${i}: ip addr add 10.1.0.${i}/24 dev eth0`, `p${i}: ip link set eth0 up`].join("\n")),
      "p3: listen tcp 0.0.0.0 80 label p3web",
    ].join("\n"),
    probes: [
      { probe: { from: "p1", proto: "icmp", dst: "10.1.0.2" }, want: { result: "reply", from: "10.1.0.2", ttl: 64 } },
      { probe: { from: "p1", proto: "tcp", dst: "10.1.0.3", port: 80 }, want: { result: "connected", from: "p3web", seenSrc: "10.1.0.1" } },
      { probe: { from: "p2", proto: "tcp", dst: "10.1.0.3", port: 81 }, want: { result: "ECONNREFUSED" } },
    ],
  },
  {
    name: "routing through a gateway namespace",
    script: [ROUTED, "r: sysctl -w net.ipv4.ip_forward=1", "r: ip route add unreachable 10.0.4.0/24", "r: ip route add prohibit 10.0.5.0/24", "r: ip route add blackhole 10.0.6.0/24"].join("\n"),
    probes: [
      { probe: { from: "c", proto: "icmp", dst: "10.0.2.2" }, want: { result: "reply", from: "10.0.2.2", ttl: 63 } },
      { probe: { from: "c", proto: "tcp", dst: "10.0.2.2", port: 80 }, want: { result: "connected", from: "web", seenSrc: "10.0.1.2" } },
      { probe: { from: "c", proto: "icmp", dst: "10.0.2.2", ttl: 1 }, want: { result: "icmp Time to live exceeded", from: "10.0.1.1" } },
      { probe: { from: "c", proto: "icmp", dst: "10.0.3.1" }, want: { result: "icmp Destination Net Unreachable", from: "10.0.1.1" } },
      { probe: { from: "c", proto: "icmp", dst: "10.0.4.1" }, want: { result: "icmp Destination Host Unreachable", from: "10.0.1.1" } },
      // The fourth ICMP error in a row to one peer is rate-limited (the bucket is shared by
      // ip_error and icmp_send): no answer, the client times out.
      { probe: { from: "c", proto: "icmp", dst: "10.0.5.1" }, want: { result: "timeout" } },
      { probe: { from: "c", proto: "icmp", dst: "10.0.5.1", waitMs: 2100 }, want: { result: "icmp Packet filtered", from: "10.0.1.1" } },
      { probe: { from: "c", proto: "icmp", dst: "10.0.6.1" }, want: { result: "timeout" } },
      { probe: { from: "c", proto: "tcp", dst: "10.0.3.1", port: 80, waitMs: 1100 }, want: { result: "ENETUNREACH" } },
      { probe: { from: "c", proto: "icmp", dst: "10.0.2.1" }, want: { result: "reply", from: "10.0.2.1", ttl: 64 } },
    ],
  },
  {
    name: "ip_forward=0 drops routed traffic but the router still answers for itself",
    script: ROUTED,
    probes: [
      { probe: { from: "c", proto: "icmp", dst: "10.0.2.2" }, want: { result: "timeout", droppedAt: "r: InAddrErrors" } },
      { probe: { from: "c", proto: "tcp", dst: "10.0.2.2", port: 80 }, want: { result: "timeout", droppedAt: "r: InAddrErrors" } },
      { probe: { from: "c", proto: "icmp", dst: "10.0.2.1" }, want: { result: "reply", from: "10.0.2.1", ttl: 64 } },
    ],
  },
  {
    name: "DNAT with conntrack: replies and errors are un-NATed",
    script: [
      ROUTED,
      "r: sysctl -w net.ipv4.ip_forward=1",
      `r: iptables-restore <<EOF
*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -d 10.0.1.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.2.2:80
-A PREROUTING -d 10.0.1.1/32 -p tcp -m tcp --dport 8081 -j DNAT --to-destination 10.0.2.2:81
-A PREROUTING -d 10.0.1.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 10.0.2.2:53
-A PREROUTING -d 10.0.1.1/32 -p udp -m udp --dport 5354 -j DNAT --to-destination 10.0.2.2:54
COMMIT
EOF`,
    ].join("\n"),
    probes: [
      { probe: { from: "c", proto: "tcp", dst: "10.0.1.1", port: 8080 }, want: { result: "connected", from: "web", seenSrc: "10.0.1.2" } },
      { probe: { from: "c", proto: "udp", dst: "10.0.1.1", port: 5353 }, want: { result: "reply", from: "dns", seenSrc: "10.0.1.2" } },
      { probe: { from: "c", proto: "tcp", dst: "10.0.1.1", port: 8081 }, want: { result: "ECONNREFUSED" } },
      { probe: { from: "c", proto: "udp", dst: "10.0.1.1", port: 5354 }, want: { result: "ECONNREFUSED" } },
    ],
  },
  {
    name: "MASQUERADE takes the out interface's address in the next hop's subnet",
    script: [
      ROUTED,
      "r: sysctl -w net.ipv4.ip_forward=1",
      "ip netns add s2",
      wire("r", "eth3", "", "s2", "eth0", "10.0.3.2/24"),
      "r: ip addr add 172.16.0.1/24 dev eth3",
      "r: ip addr add 10.0.3.1/24 dev eth3",
      "r: ip addr add 10.0.3.100/24 dev eth3",
      "s2: ip route add default via 10.0.3.1",
      "s2: listen tcp 0.0.0.0 80 label web2",
      `r: iptables-restore <<EOF
*nat
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 10.0.1.0/24 -j MASQUERADE
COMMIT
EOF`,
    ].join("\n"),
    probes: [
      { probe: { from: "c", proto: "tcp", dst: "10.0.2.2", port: 80 }, want: { result: "connected", from: "web", seenSrc: "10.0.2.1" } },
      { probe: { from: "c", proto: "tcp", dst: "10.0.3.2", port: 80 }, want: { result: "connected", from: "web2", seenSrc: "10.0.3.1" } },
      { probe: { from: "c", proto: "icmp", dst: "10.0.3.2" }, want: { result: "reply", from: "10.0.3.2", ttl: 63 } },
    ],
  },
  ...([1, 2] as const).map(
    (mode): Case => ({
      name: `rp_filter=${mode} (${mode === 1 ? "strict" : "loose"}) with an asymmetric route`,
      script: [
        ROUTED,
        "r: sysctl -w net.ipv4.ip_forward=1",
        wire("c", "eth1", "10.0.5.2/24", "r", "eth5", "10.0.5.1/24"),
        "c: ip route add 10.0.2.0/24 via 10.0.1.1 dev eth0 src 10.0.5.2",
        // Pre-resolved, so the SYN itself meets rp_filter (an ARP request from 10.0.5.2 would be
        // refused by the same check).
        "r: ip link set eth1 address 02:00:00:00:01:01",
        "c: ip neigh replace 10.0.1.1 lladdr 02:00:00:00:01:01 dev eth0 nud permanent",
        `r: sysctl -w net.ipv4.conf.all.rp_filter=${mode}`,
      ].join("\n"),
      probes: [
        { probe: { from: "c", proto: "tcp", dst: "10.0.2.2", port: 80 }, want: mode === 1 ? { result: "timeout", droppedAt: "r: IPReversePathFilter" } : { result: "connected", from: "web", seenSrc: "10.0.5.2" } },
        { probe: { from: "c", proto: "icmp", dst: "10.0.1.1" }, want: { result: "reply", from: "10.0.1.1", ttl: 64 } },
      ],
    }),
  ),
  ...([true, false] as const).map(
    (proxy): Case => ({
      name: `proxy_arp ${proxy ? "on" : "off"}: a client that believes the server is on its link`,
      script: [
        routed("10.0.1.2/16"),
        "r: sysctl -w net.ipv4.ip_forward=1",
        proxy ? "r: sysctl -w net.ipv4.conf.eth1.proxy_arp=1" : "",
      ].join("\n"),
      probes: [{ probe: { from: "c", proto: "tcp", dst: "10.0.2.2", port: 80, timeoutMs: 5000 }, want: proxy ? { result: "connected", from: "web", seenSrc: "10.0.1.2" } : { result: "EHOSTUNREACH" } }],
    }),
  ),
  {
    name: "MTU with DF: fragmentation needed from the router, EMSGSIZE locally",
    script: [ROUTED, "r: sysctl -w net.ipv4.ip_forward=1", "r: ip link set eth2 mtu 1400", "s: ip link set eth0 mtu 1400"].join("\n"),
    probes: [
      { probe: { from: "c", proto: "icmp", dst: "10.0.2.2", size: 1372, df: true }, want: { result: "reply", from: "10.0.2.2", ttl: 63 } },
      { probe: { from: "c", proto: "icmp", dst: "10.0.2.2", size: 1373, df: true }, want: { result: "icmp Frag needed and DF set (mtu = 1400)", from: "10.0.1.1" } },
      { probe: { from: "c", proto: "icmp", dst: "10.0.2.2", size: 1473, df: true }, want: { result: "EMSGSIZE" } },
    ],
  },
  {
    name: "VXLAN between two namespaces over an underlay bridge (flannel's layout)",
    script: [
      netns("u", "n1", "n2"),
      "u: ip link add br0 type bridge",
      "u: ip link set br0 up",
      ...[1, 2].map((i) => {
        const other = 3 - i;
        return [
          `n${i}: ip link add eth0 type veth peer name u${i} netns u`,
          `u: ip link set u${i} master br0`,
          `u: ip link set u${i} up`,
          `n${i}: ip addr add 192.168.1.1${i - 1}/24 dev eth0`,
          `n${i}: ip link set eth0 up`,
          `n${i}: ip link add flannel.1 type vxlan id 1 local 192.168.1.1${i - 1} dev eth0 dstport 8472 nolearning`,
          `n${i}: ip link set flannel.1 address 02:00:00:00:01:0${i}`,
          `n${i}: ip addr add 10.244.${i - 1}.0/32 dev flannel.1`,
          `n${i}: ip link set flannel.1 up`,
          `n${i}: ip neigh replace 10.244.${other - 1}.0 lladdr 02:00:00:00:01:0${other} dev flannel.1 nud permanent`,
          `n${i}: bridge fdb append 02:00:00:00:01:0${other} dev flannel.1 dst 192.168.1.1${other - 1}`,
          `n${i}: ip route add 10.244.${other - 1}.0/24 via 10.244.${other - 1}.0 dev flannel.1 onlink`,
          `n${i}: listen tcp 0.0.0.0 80 label n${i}web`,
        ].join("\n");
      }),
    ].join("\n"),
    probes: [
      { probe: { from: "n1", proto: "icmp", dst: "10.244.1.0" }, want: { result: "reply", from: "10.244.1.0", ttl: 64 } },
      { probe: { from: "n1", proto: "tcp", dst: "10.244.1.0", port: 80 }, want: { result: "connected", from: "n2web", seenSrc: "10.244.0.0" } },
      { probe: { from: "n2", proto: "udp", dst: "10.244.0.0", port: 99 }, want: { result: "ECONNREFUSED" } },
      { probe: { from: "n1", proto: "icmp", dst: "10.244.1.0", size: 1422, df: true }, want: { result: "reply", from: "10.244.1.0", ttl: 64 } },
      { probe: { from: "n1", proto: "icmp", dst: "10.244.1.0", size: 1423, df: true }, want: { result: "EMSGSIZE" } },
    ],
  },
  ...([false, true] as const).map(
    (hairpin): Case => ({
      name: `hairpin ${hairpin ? "on" : "off"}: a pod reaching itself through a DNATed address`,
      script: [BRIDGED, SERVICE_NAT("10.1.0.2"), "h: sysctl -w net.ipv4.ip_forward=1", hairpin ? "h: bridge link set dev ve1 hairpin on" : ""].join("\n"),
      probes: [{ probe: { from: "p1", proto: "tcp", dst: "10.96.0.10", port: 80 }, want: hairpin ? { result: "connected", from: "web1", seenSrc: "10.1.0.1" } : { result: "timeout" } }],
    }),
  ),
  {
    // dataplane.md §7.3 says bridged DNAT works without ip_forward; kernel 6.18 drops it.
    name: "bridged DNAT needs ip_forward=1 on kernel 6.18",
    script: [BRIDGED, SERVICE_NAT("10.1.0.3")].join("\n"),
    probes: [
      // Dropped by ip_error on the host, counted as InAddrErrors, as a routed packet would be.
      { probe: { from: "p1", proto: "tcp", dst: "10.96.0.10", port: 80 }, want: { result: "timeout", droppedAt: "h: InAddrErrors" } },
      { probe: { from: "p1", proto: "tcp", dst: "10.1.0.3", port: 80 }, want: { result: "connected", from: "web2", seenSrc: "10.1.0.2" } },
    ],
  },
  ...([true, false] as const).map(
    (nf): Case => ({
      name: `br_netfilter ${nf ? "on" : "off"}: DNAT to a pod on the same bridge`,
      script: [BRIDGED, SERVICE_NAT("10.1.0.3"), "h: sysctl -w net.ipv4.ip_forward=1", `h: sysctl -w net.bridge.bridge-nf-call-iptables=${nf ? 1 : 0}`].join("\n"),
      probes: [
        { probe: { from: "p1", proto: "tcp", dst: "10.96.0.10", port: 80 }, want: nf ? { result: "connected", from: "web2", seenSrc: "10.1.0.2" } : { result: "timeout" } },
        { probe: { from: "p1", proto: "tcp", dst: "10.1.0.3", port: 80 }, want: { result: "connected", from: "web2", seenSrc: "10.1.0.2" } },
      ],
    }),
  ),
];

describe.each(CASES)("$name", (c) => {
  it("the emulator gives the real kernel's outcomes", () => {
    const net = new Network({ seed: 7 });
    applyScript(net, c.script);
    for (const { probe, want } of c.probes) {
      expect(emuProbe(net, probe), describeProbe(probe)).toEqual(want);
    }
  });

  describe.skipIf(unavailable !== undefined)("real kernel", () => {
    const nsx = new Netns(`k${CASES.indexOf(c)}`);
    const lab = new RealLab(nsx);
    afterAll(() => {
      lab.stop();
      nsx.teardown();
    });
    it("gives the same outcomes", async () => {
      await lab.build(c.script);
      for (const { probe, want } of c.probes) {
        expect(lab.probe(probe), describeProbe(probe)).toEqual(want);
      }
    }, 60_000);
  });
});
