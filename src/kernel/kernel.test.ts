/**
 * Unit tests of the kernel model: route lookup against a brute-force reference, the bridge FDB,
 * loops, VXLAN headers, br_netfilter's hook sequence, the script parser's errors and the
 * namespace mutations' kernel side effects. Outcomes against the real kernel are in
 * test/oracle/kernel-conformance.test.ts (whose emulator half runs everywhere).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ip, MAC_ZERO, type Ipv4, type Mac } from "../net/addr.js";
import { maskOf } from "../net/cidr.js";
import type { KernelEvent } from "./events.js";
import { Fdb } from "./devices/fdb.js";
import { applyScript, ScriptError } from "./ip-script.js";
import { Network } from "./network.js";
import { KernelError } from "./netns.js";
import { vxlanFdbLookup } from "./devices/vxlan-fdb.js";
import { RouteTable } from "./route.js";
import { bridgeFdbShow, ipLinkDetails, ipNeigh, ipRoute } from "./views.js";
import type { Route, Vxlan } from "./types.js";
import { ipv4Length } from "./skb.js";

const SEED = 20261122;

function kinds(events: readonly KernelEvent[], ns?: string): string[] {
  return events.filter((e) => ns === undefined || e.ns === ns).map((e) => (e.kind === "nf.table" ? `${e.hook}/${e.table} in=${e.inIface} out=${e.outIface}` : e.kind === "drop" ? `drop ${e.reason}` : e.kind));
}

describe("RouteTable", () => {
  it("longest-prefix match agrees with a brute-force scan (lowest metric among equals), small and large tables", () => {
    // Up to 40 routes: tables cross from the small sorted array to the per-length maps.
    const route = fc.record({ addr: fc.nat(0xffffffff), len: fc.integer({ min: 0, max: 32 }), metric: fc.integer({ min: 0, max: 3 }) });
    fc.assert(
      fc.property(fc.array(route, { maxLength: 40 }), fc.array(fc.nat(0xffffffff), { minLength: 1, maxLength: 20 }), fc.nat(7), (routes, dsts, drop) => {
        const t = new RouteTable();
        let kept: Route[] = [];
        for (const [i, r] of routes.entries()) {
          const x: Route = { table: "main", type: "unicast", dst: { addr: ((r.addr & maskOf(r.len)) >>> 0) as Ipv4, len: r.len }, dev: `d${i}`, metric: r.metric, scope: "link", onlink: false };
          if (t.add(x)) kept.push(x);
        }
        // Drop every route whose index is a multiple of `drop + 2`; look up through a copy, skipping odd devices.
        const gone = (r: Route): boolean => Number(r.dev?.slice(1)) % (drop + 2) === 0;
        expect(t.remove(gone)).toBe(kept.filter(gone).length);
        kept = kept.filter((r) => !gone(r));
        const c = t.clone();
        expect(c.size).toBe(kept.length);
        expect(c.list()).toEqual([...kept].sort((a, b) => a.dst.addr - b.dst.addr || b.dst.len - a.dst.len || a.metric - b.metric));
        const even = (r: Route): boolean => Number(r.dev?.slice(1)) % 2 === 0;
        for (const d of dsts) {
          const matching = kept.filter((r) => ((d ^ r.dst.addr) & maskOf(r.dst.len)) >>> 0 === 0).sort((a, b) => b.dst.len - a.dst.len || a.metric - b.metric);
          expect(c.lookup(d as Ipv4)).toBe(matching[0]);
          expect(c.lookup(d as Ipv4, even)).toBe(matching.find(even));
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe("Fdb", () => {
  it("learns, moves a MAC to its new port, ages it out, and never overwrites a local entry", () => {
    const f = new Fdb();
    const mac = "02:00:00:00:00:01" as never;
    f.addLocal("02:00:00:00:00:aa" as never, "p1", 0);
    expect(f.learn(mac, "p1", 0)).toBe(true);
    expect(f.learn(mac, "p2", 1000)).toBe(true);
    expect(f.lookup(mac, 1000, 300_000)?.port).toBe("p2");
    expect(f.lookup(mac, 301_000, 300_000)).toBeUndefined();
    expect(f.learn("02:00:00:00:00:aa" as never, "p3", 0)).toBe(false);
    expect(f.lookup("02:00:00:00:00:aa" as never, 10_000_000, 300_000)?.port).toBe("p1");
  });

  it("a copy reads the source's entries and its own changes (learn, move, age-out, port flush) stay its own", () => {
    const f = new Fdb();
    const [a, b, c] = ["02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"] as never[];
    f.addLocal("02:00:00:00:00:aa" as never, undefined, 0);
    f.learn(a as never, "p1", 0);
    f.learn(b as never, "p2", 0);
    const before = JSON.stringify(f.entries(0, 300_000));
    const g = f.clone();
    expect(JSON.stringify(g.entries(0, 300_000))).toBe(before);
    expect(g.learn(a as never, "p3", 10)).toBe(true);
    expect(g.learn(c as never, "p1", 10)).toBe(true);
    g.flushPort("p2");
    expect(g.lookup(a as never, 10, 300_000)?.port).toBe("p3");
    expect(g.lookup(b as never, 10, 300_000)).toBeUndefined();
    expect(g.entries(400_000, 300_000).map((e) => e.mac)).toEqual(["02:00:00:00:00:aa"]);
    expect(JSON.stringify(f.entries(0, 300_000))).toBe(before);
    expect(f.lookup(a as never, 10, 300_000)?.port).toBe("p1");
  });
});

describe("namespace mutations have the kernel's side effects", () => {
  it("an address adds local, broadcast and prefix routes; link down removes static routes too", () => {
    const net = new Network();
    const ns = net.netnsAdd("n");
    ns.linkAdd({ kind: "veth", name: "a", peer: "b" });
    ns.addrAdd("a", "10.0.0.1/24", { brd: "+" });
    expect(ipRoute(ns, "local")).toBe("local 10.0.0.1 dev a proto kernel scope host src 10.0.0.1 \n");
    ns.linkSetUp("a");
    ns.linkSetUp("b");
    ns.routeAdd({ dst: { addr: ip("10.5.0.0"), len: 16 }, via: ip("10.0.0.2") });
    expect(ipRoute(ns)).toBe("10.0.0.0/24 dev a proto kernel scope link src 10.0.0.1 \n10.5.0.0/16 via 10.0.0.2 dev a \n");
    ns.linkSetDown("a");
    expect(ipRoute(ns)).toBe("");
    ns.linkSetUp("a");
    expect(ipRoute(ns)).toBe("10.0.0.0/24 dev a proto kernel scope link src 10.0.0.1 \n");
  });

  it("namespaces share equal routes and neighbour keys, and only equal ones; what each shows is its own", () => {
    // Flannel gives every node the same route and neighbour for each other node's subnet: one
    // object (and one key string) for all of them. Any field that differs makes a route its own.
    const net = new Network();
    const nodes = ["n1", "n2"].map((name) => {
      const ns = net.netnsAdd(name);
      ns.linkAdd({ kind: "veth", name: "a", peer: "b" });
      ns.addrAdd("a", "10.0.0.1/24");
      ns.linkSetUp("a");
      ns.linkSetUp("b");
      return ns;
    });
    const via = ip("10.0.0.2");
    const base = { dst: { addr: ip("10.244.7.0"), len: 24 }, via, dev: "a", onlink: true } as const;
    for (const ns of nodes) {
      ns.routeAdd(base);
      ns.neighReplace("a", ip("10.244.7.0"), "aa:bb:cc:00:00:07" as Mac);
    }
    const [r1, r2] = nodes.map((ns) => ns.main.exact(ip("10.244.7.0"), 24)[0]);
    expect(r1).toBeDefined();
    expect(r2).toBe(r1);
    expect(Object.isFrozen(r1)).toBe(true);
    const [k1, k2] = nodes.map((ns) => [...ns.neigh.keys()][0]);
    expect(k1).toBe("a|" + String(ip("10.244.7.0")));
    expect(k2).toBe(k1);
    // One field apart each: none may come back as the shared object.
    const variants = [{ metric: 5 }, { onlink: false }, { via: ip("10.0.0.3") }, { dev: "b" }, { src: ip("10.0.0.1") }, { proto: "static" as const }];
    for (const v of variants) {
      const ns = net.netnsAdd(`v${variants.indexOf(v)}`);
      ns.linkAdd({ kind: "veth", name: "a", peer: "b" });
      ns.addrAdd("a", "10.0.0.1/24");
      ns.linkSetUp("a");
      ns.linkSetUp("b");
      ns.routeAdd({ ...base, ...v });
      const r = ns.main.exact(ip("10.244.7.0"), 24)[0];
      expect(r).not.toBe(r1);
      expect(r).toMatchObject(v);
    }
    expect(ipRoute(nodes[1] as (typeof nodes)[number])).toBe("10.0.0.0/24 dev a proto kernel scope link src 10.0.0.1 \n10.244.7.0/24 via 10.0.0.2 dev a onlink \n");
  });

  it.each([
    { name: "gateway not on a connected subnet", run: (n: Network) => n.ns("n").routeAdd({ dst: { addr: ip("10.9.0.0"), len: 16 }, via: ip("192.0.2.1") }), want: "Error: Nexthop has invalid gateway." },
    { name: "duplicate route", run: (n: Network) => n.ns("n").routeAdd({ dst: { addr: ip("10.0.0.0"), len: 24 }, dev: "a" }), want: "RTNETLINK answers: File exists" },
    { name: "unknown device", run: (n: Network) => n.ns("n").addrAdd("zz", "10.1.1.1/24"), want: 'Cannot find device "zz"' },
    { name: "unknown sysctl", run: (n: Network) => n.ns("n").sysctlSet("net.ipv4.tcp_nope", 1), want: "sysctl: cannot stat /proc/sys/net/ipv4/tcp_nope" },
    // The messages are what iproute2 6.1 and procps sysctl print for the same commands (run on
    // this machine's kernel when the test was written).
  ])("refuses $name with iproute2's words", ({ run, want }) => {
    const net = new Network();
    const ns = net.netnsAdd("n");
    ns.linkAdd({ kind: "veth", name: "a", peer: "b" });
    ns.addrAdd("a", "10.0.0.1/24");
    ns.linkSetUp("a");
    expect(() => run(net)).toThrow(KernelError);
    expect(() => run(net)).toThrow(want);
  });
});

describe("ip-script", () => {
  it.each([
    { name: "an unknown command", text: "ip netns add a\na: ip tunnel add x", want: 'line 2: unsupported ip command "ip tunnel add x"' },
    { name: "a bad address", text: "ip netns add a\na: ip link add v type bridge\na: ip addr add 10.0.0.300/24 dev v", want: "line 3:" },
    { name: "an unclosed here-document", text: "ip netns add a\na: iptables-restore <<EOF\n*nat\nCOMMIT", want: "line 2: here-document not closed by EOF" },
    { name: "a rule the parser refuses", text: "ip netns add a\na: iptables-restore <<EOF\n*nat\n-A NOPE -j ACCEPT\nCOMMIT\nEOF", want: "line 2: iptables-restore: line 2 failed" },
  ])("reports $name with its line", ({ text, want }) => {
    const net = new Network();
    expect(() => applyScript(net, text)).toThrow(ScriptError);
    expect(() => applyScript(new Network(), text)).toThrow(want);
  });
});

describe("the packet path", () => {
  it("reports a bridging loop at the hop limit instead of hanging", () => {
    const net = new Network({ hopLimit: 200 });
    applyScript(
      net,
      `ip netns add s
s: ip link add br0 type bridge
s: ip link add br1 type bridge
s: ip link add x0 type veth peer name x1
s: ip link add y0 type veth peer name y1
s: ip link set x0 master br0
s: ip link set y0 master br0
s: ip link set x1 master br1
s: ip link set y1 master br1
s: ip link set br0 up
s: ip link set br1 up
s: ip link set x0 up
s: ip link set x1 up
s: ip link set y0 up
s: ip link set y1 up
s: ip link add v0 type veth peer name v1
s: ip link set v0 master br0
s: ip link set v0 up
s: ip addr add 10.0.0.1/24 dev v1
s: ip link set v1 up`,
    );
    net.send("s", { proto: "icmp", dst: ip("10.0.0.9"), sport: 1, dport: 1 });
    const events = net.drain();
    expect(events.some((e) => e.kind === "drop" && e.reason === "hop-limit")).toBe(true);
  });

  it("encapsulates VXLAN with DF clear, TTL 64, dst port 8472 and 50 bytes of overhead (dataplane.md §5.2)", () => {
    const net = new Network();
    applyScript(
      net,
      `ip netns add n1
ip netns add n2
n1: ip link add eth0 type veth peer name eth0 netns n2
n1: ip addr add 192.168.1.10/24 dev eth0
n2: ip addr add 192.168.1.11/24 dev eth0
n1: ip link set eth0 up
n2: ip link set eth0 up
n1: ip link add flannel.1 type vxlan id 1 local 192.168.1.10 dev eth0 dstport 8472 nolearning
n1: ip addr add 10.244.0.0/32 dev flannel.1
n1: ip link set flannel.1 up
n1: ip neigh replace 10.244.1.0 lladdr 02:00:00:00:01:02 dev flannel.1 nud permanent
n1: bridge fdb append 02:00:00:00:01:02 dev flannel.1 dst 192.168.1.11
n1: ip route add 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink`,
    );
    net.send("n1", { proto: "udp", dst: ip("10.244.1.5"), sport: 40000, dport: 53 }, { payloadBytes: 100 });
    const encap = net.drain().find((e): e is Extract<KernelEvent, { kind: "vxlan.encap" }> => e.kind === "vxlan.encap");
    expect(encap).toBeDefined();
    const outer = encap?.outer;
    expect(outer?.header).toMatchObject({ src: ip("192.168.1.10"), dst: ip("192.168.1.11"), ttl: 64, df: false });
    expect(outer?.payload).toMatchObject({ kind: "udp", dstPort: 8472 });
    const udp = outer?.payload.kind === "udp" ? outer.payload : undefined;
    expect(udp?.srcPort).toBeGreaterThanOrEqual(32768);
    expect(udp?.srcPort).toBeLessThan(61000);
    const inner = udp?.payload.kind === "vxlan" && udp.payload.inner.payload.kind === "ipv4" ? udp.payload.inner.payload : undefined;
    expect(inner?.header.src).toBe(ip("10.244.0.0"));
    // inner IP 128 bytes (20 + 8 + 100) → outer IP 178 bytes: 50 bytes of overhead.
    expect(inner && ipv4Length(inner)).toBe(128);
    expect(outer && ipv4Length(outer)).toBe(178);
  });

  it("runs bridged frames through PREROUTING, FORWARD and POSTROUTING at the bridge, never INPUT/OUTPUT (§7.3)", () => {
    const net = new Network();
    applyScript(
      net,
      `ip netns add h
ip netns add p1
ip netns add p2
h: ip link add br0 type bridge
h: ip link set br0 up
p1: ip link add eth0 type veth peer name ve1 netns h
p2: ip link add eth0 type veth peer name ve2 netns h
h: ip link set ve1 master br0
h: ip link set ve2 master br0
h: ip link set ve1 up
h: ip link set ve2 up
p1: ip addr add 10.1.0.2/24 dev eth0
p2: ip addr add 10.1.0.3/24 dev eth0
p1: ip link set eth0 up
p2: ip link set eth0 up
p1: ip neigh replace 10.1.0.3 lladdr 02:00:00:00:00:03 dev eth0 nud permanent
p2: ip link set eth0 address 02:00:00:00:00:03
h: iptables-restore <<EOF
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m physdev --physdev-in ve1 --physdev-out ve2 -j ACCEPT
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
EOF`,
    );
    const id = net.send("p1", { proto: "udp", dst: ip("10.1.0.3"), sport: 40000, dport: 9 });
    const hooks = kinds(net.drain().filter((e) => e.packetId === id), "h").filter((k) => k.includes("/"));
    expect(hooks).toEqual(["PREROUTING/mangle in=br0 out=", "FORWARD/mangle in=br0 out=br0", "FORWARD/filter in=br0 out=br0", "POSTROUTING/mangle in= out=br0"]);
  });

  it("drops at ip_forward=0 with the sysctl named, and keeps the cluster untouched when a clone is traced", () => {
    const net = new Network();
    applyScript(
      net,
      `ip netns add c
ip netns add r
c: ip link add eth0 type veth peer name eth1 netns r
c: ip addr add 10.0.1.2/24 dev eth0
r: ip addr add 10.0.1.1/24 dev eth1
c: ip link set eth0 up
r: ip link set eth1 up
c: ip route add default via 10.0.1.1`,
    );
    const copy = net.clone();
    copy.send("c", { proto: "tcp", dst: ip("10.9.0.1"), sport: 40000, dport: 80 });
    const drop = copy.drain().find((e) => e.kind === "drop");
    expect(drop).toMatchObject({ ns: "r", reason: "forwarding-disabled", text: "not forwarded: net.ipv4.conf.eth1.forwarding=0 (ip_forward off)" });
    expect(net.ns("c").neigh.size).toBe(0);
    expect(copy.ns("c").neigh.size).toBe(1);
  });
});

describe("the underlay segment", () => {
  it("joins node NICs and an external host like a learning switch: ARP floods, unicast goes to one port", () => {
    const net = new Network();
    for (const n of ["node1", "node2", "ext"]) net.netnsAdd(n);
    net.nicAdd("node1", "eth0", "underlay");
    net.nicAdd("node2", "eth0", "underlay");
    net.nicAdd("ext", "eth0", "underlay");
    for (const [n, a] of [["node1", "192.168.1.10/24"], ["node2", "192.168.1.11/24"], ["ext", "192.168.1.100/24"]] as const) {
      net.ns(n).addrAdd("eth0", a);
      net.ns(n).linkSetUp("eth0");
    }
    net.ns("node2").listen("tcp", 0 as Ipv4, 30080, { label: "nodeport" });
    const id = net.send("ext", { proto: "tcp", dst: ip("192.168.1.11"), sport: 50000, dport: 30080 });
    const events = net.drain();
    expect(events.find((e) => e.kind === "deliver" && e.socket === "nodeport")?.ns).toBe("node2");
    // The SYN itself (after ARP) reaches node2 only; the ARP request was flooded to node1 too.
    expect(events.filter((e) => e.kind === "dev.rx" && e.packetId === id).map((e) => e.ns)).toEqual(["node2"]);
    expect(events.some((e) => e.kind === "dev.rx" && e.ns === "node1")).toBe(true);
  });

  it("a clone's index of ARP responders follows changes to the network it copies", () => {
    const net = new Network({ seed: 7 });
    for (const [n, a] of [["node1", "192.168.1.10/24"], ["ext", "192.168.1.100/24"]] as const) {
      net.netnsAdd(n);
      net.nicAdd(n, "eth0", "underlay");
      net.ns(n).addrAdd("eth0", a);
      net.ns(n).linkSetUp("eth0");
    }
    // Whether a trace's ARP for `dst` from ext gets an answer.
    const resolves = (dst: string): boolean => {
      const c = net.clone(7);
      c.send("ext", { proto: "udp", dst: ip(dst), sport: 50000, dport: 53 });
      return c.drain().some((e) => e.kind === "neigh" && e.result === "resolved" && e.ip === dst);
    };
    expect(resolves("192.168.1.50")).toBe(false);
    // node1 takes the address: the next trace's ARP for it must reach node1, which now answers.
    net.ns("node1").addrAdd("eth0", "192.168.1.50/24");
    expect(resolves("192.168.1.50")).toBe(true);
    // proxy_arp (with forwarding) makes node1 answer for addresses it routes elsewhere.
    applyScript(net, "node1: ip link add d0 type veth peer name d1\nnode1: ip link set d0 up\nnode1: ip route add 10.9.0.0/16 dev d0\next: ip route add 10.9.0.0/16 dev eth0");
    expect(resolves("10.9.0.7")).toBe(false);
    net.ns("node1").sysctlSet("net.ipv4.ip_forward", "1");
    net.ns("node1").sysctlSet("net.ipv4.conf.eth0.proxy_arp", "1");
    expect(resolves("10.9.0.7")).toBe(true);
  });

  it("a clone shares the segment's NICs until either side adds or removes one", () => {
    const net = new Network({ seed: 7 });
    // Explicit MACs: a copy's random MACs start from the same seed as the original's.
    const join = (n: Network, name: string, addr: string): void => {
      n.netnsAdd(name);
      n.nicAdd(name, "eth0", "underlay", `02:00:00:00:00:${addr.split("/")[0]?.split(".")[3]?.padStart(2, "0").slice(-2)}` as Mac);
      n.ns(name).addrAdd("eth0", addr);
      n.ns(name).linkSetUp("eth0");
      n.ns(name).listen("tcp", 0 as Ipv4, 80, { label: name });
    };
    join(net, "ext", "192.168.1.100/24");
    join(net, "node1", "192.168.1.10/24");
    join(net, "node2", "192.168.1.11/24");
    // Which namespace's socket a connection from ext to `dst` reaches (twice: by ARP, then by the learned port).
    const reached = (n: Network, dst: string): (string | undefined)[] =>
      [0, 1].map(() => {
        n.send("ext", { proto: "tcp", dst: ip(dst), sport: 50000, dport: 80 });
        return n.drain().find((e) => e.kind === "deliver" && e.socket !== "the connecting socket")?.ns;
      });
    const before = net.clone(7);
    const copy = net.clone(7);
    copy.netnsDel("node2");
    join(copy, "node3", "192.168.1.12/24");
    expect(reached(copy, "192.168.1.11")).toEqual([undefined, undefined]);
    expect(reached(copy, "192.168.1.12")).toEqual(["node3", "node3"]);
    // The original and an earlier copy still have node2, and never had node3.
    for (const n of [net.clone(7), before]) {
      expect(reached(n, "192.168.1.11")).toEqual(["node2", "node2"]);
      expect(reached(n, "192.168.1.12")).toEqual([undefined, undefined]);
    }
    // A change to the original after a copy leaves the copy as it was.
    const copy2 = net.clone(7);
    join(net, "node4", "192.168.1.13/24");
    expect(reached(net.clone(7), "192.168.1.13")).toEqual(["node4", "node4"]);
    expect(reached(copy2, "192.168.1.13")).toEqual([undefined, undefined]);
  });

  it("a clone leaves bystanders of a broadcast ARP uncopied and unvisited, with the original's events but their receives", () => {
    const build = (): Network => {
      const net = new Network({ seed: 7 });
      for (const n of ["node1", "node2", "ext", "router"]) net.netnsAdd(n);
      for (const n of ["node1", "node2", "ext", "router"]) net.nicAdd(n, "eth0", "underlay");
      for (const [n, a] of [["node1", "192.168.1.10/24"], ["node2", "192.168.1.11/24"], ["ext", "192.168.1.100/24"], ["router", "192.168.1.1/24"]] as const) {
        net.ns(n).addrAdd("eth0", a);
        net.ns(n).linkSetUp("eth0");
      }
      // A bystander that does answer: proxy_arp for 10.9.0.0/16, which ext reaches on-link.
      net.ns("router").sysctlSet("net.ipv4.ip_forward", "1");
      net.ns("router").sysctlSet("net.ipv4.conf.eth0.proxy_arp", "1");
      applyScript(net, "router: ip link add dummy type veth peer name dummy2\nrouter: ip link set dummy up\nrouter: ip link set dummy2 up\nrouter: ip route add 10.9.0.0/16 dev dummy\next: ip route add 10.9.0.0/16 dev eth0");
      net.ns("node2").listen("tcp", 0 as Ipv4, 30080, { label: "nodeport" });
      return net;
    };
    for (const dst of ["192.168.1.11", "10.9.0.5"]) {
      const direct = build();
      direct.send("ext", { proto: "tcp", dst: ip(dst), sport: 50000, dport: 30080 });
      const want = direct.drain();
      const orig = build();
      const copy = orig.clone(7);
      copy.send("ext", { proto: "tcp", dst: ip(dst), sport: 50000, dport: 30080 });
      const got = copy.drain();
      // The clone delivers the request only to NICs that could answer it (node2 owns .11, the
      // router does proxy_arp): the receives at namespaces it left uncopied, inert in the
      // original, are not there (node1's for both addresses, node2's for the proxied one).
      const bystander = (e: KernelEvent): boolean => e.kind === "dev.rx" && copy.peekNs(e.ns) === orig.ns(e.ns) && e.frame.payload.kind === "arp" && e.frame.payload.op === 1;
      expect(want.filter(bystander).map((e) => e.ns)).toEqual(dst === "10.9.0.5" ? ["node1", "node2"] : ["node1"]);
      expect(got.filter((e) => e.ns === "node1")).toEqual([]);
      const unseq = (es: readonly KernelEvent[]): unknown[] => es.map(({ seq: _seq, ...rest }) => rest);
      expect(JSON.stringify(unseq(got))).toBe(JSON.stringify(unseq(want.filter((e) => !bystander(e)))));
      // node1 neither answers nor learns: read in place, never copied.
      expect(copy.peekNs("node1")).toBe(orig.ns("node1"));
      // The router answers the proxied address, so it is copied (and the original left alone).
      if (dst === "10.9.0.5") expect(copy.peekNs("router")).not.toBe(orig.ns("router"));
      expect(orig.ns("router").neigh.size).toBe(0);
    }
  });
});

describe("a bridge's flood of a broadcast ARP request in a clone", () => {
  // A node's bridge with four pods (p1…p4, 10.244.1.2–5/24, gateway 10.244.1.1 on br0); p4 does
  // proxy_arp with forwarding (it answers for 10.99.0.0/16, which it routes).
  const build = (): Network => {
    const net = new Network({ seed: 5 });
    const script = ["ip netns add node", "node: ip link add br0 type bridge", "node: ip addr add 10.244.1.1/24 dev br0", "node: ip link set br0 up"];
    for (let i = 1; i <= 4; i++) {
      script.push(`ip netns add p${i}`, `node: ip link add veth${i} type veth peer name eth0 netns p${i}`, `node: ip link set veth${i} master br0`, `node: ip link set veth${i} up`);
      script.push(`p${i}: ip addr add 10.244.1.${i + 1}/24 dev eth0`, `p${i}: ip link set eth0 up`, `p${i}: ip route add default via 10.244.1.1`);
    }
    script.push("p4: ip link add d0 type veth peer name d1", "p4: ip link set d0 up", "p4: ip link set d1 up", "p4: ip route add 10.99.0.0/16 dev d0");
    applyScript(net, script.join("\n"));
    net.ns("p4").sysctlSet("net.ipv4.ip_forward", "1");
    net.ns("p4").sysctlSet("net.ipv4.conf.eth0.proxy_arp", "1");
    net.ns("p3").listen("tcp", 0 as Ipv4, 8080, { label: "p3" });
    return net;
  };
  const unseq = (es: readonly KernelEvent[]): unknown[] => es.map(({ seq: _seq, ...rest }) => rest);

  it.each([
    // p2 ignores every request; p3 owns .4 (and answers); p4 always gets it (proxy_arp).
    ["a pod's ARP for another pod", "p1", "10.244.1.4", ["p2"]],
    ["a pod's ARP for an address nobody has", "p1", "10.244.1.200", ["p2", "p3"]],
    ["the node's ARP for a pod (flooded from the bridge device)", "node", "10.244.1.4", ["p1", "p2"]],
  ])("%s: the original's events but the inert far ends' receives, which stay uncopied", (_what, from, dst, inert) => {
    const direct = build();
    direct.send(from, { proto: "tcp", dst: ip(dst), sport: 50000, dport: 8080 });
    const want = direct.drain();
    const orig = build();
    const copy = orig.clone(5);
    copy.send(from, { proto: "tcp", dst: ip(dst), sport: 50000, dport: 8080 });
    const got = copy.drain();
    const bystander = (e: KernelEvent): boolean => e.kind === "dev.rx" && e.ns !== from && copy.peekNs(e.ns) === orig.ns(e.ns) && e.frame.payload.kind === "arp" && e.frame.payload.op === 1;
    expect(want.filter(bystander).map((e) => e.ns)).toEqual(inert);
    expect(JSON.stringify(unseq(got))).toBe(JSON.stringify(unseq(want.filter((e) => !bystander(e)))));
    // The bridge still transmits on every port (tcpdump on veth2 sees the request).
    expect(got.some((e) => e.kind === "dev.tx" && e.ns === "node" && e.dev === "veth2" && e.frame.payload.kind === "arp")).toBe(true);
    expect(copy.peekNs("p2")).toBe(orig.ns("p2"));
  });

  it("follows the source: a pod that takes the address, or turns proxy_arp on, gets the next request", () => {
    const net = build();
    const answered = (dst: string): string | undefined => {
      const c = net.clone(5);
      c.send("p1", { proto: "udp", dst: ip(dst), sport: 50000, dport: 53 });
      const r = c.drain().find((e) => e.kind === "neigh" && e.result === "resolved" && e.ip === dst);
      return r && r.kind === "neigh" ? r.mac : undefined;
    };
    expect(answered("10.244.1.50")).toBeUndefined();
    net.ns("p2").addrAdd("eth0", "10.244.1.50/24");
    expect(answered("10.244.1.50")).toBe(net.ns("p2").dev("eth0").mac);
    // p3 starts proxying 10.77.0.0/16 (with forwarding), which p1 reaches on-link.
    applyScript(net, "p3: ip link add e0 type veth peer name e1\np3: ip link set e0 up\np3: ip link set e1 up\np3: ip route add 10.77.0.0/16 dev e0\np1: ip route add 10.77.0.0/16 dev eth0");
    expect(answered("10.77.0.9")).toBeUndefined();
    net.ns("p3").sysctlSet("net.ipv4.ip_forward", "1");
    net.ns("p3").sysctlSet("net.ipv4.conf.eth0.proxy_arp", "1");
    expect(answered("10.77.0.9")).toBe(net.ns("p3").dev("eth0").mac);
  });
});

describe("namespace copies share big tables until either side changes them", () => {
  // A node with a VXLAN device, remotes (neighbour, FDB entry, route) and a large route table.
  const build = (): Network => {
    const net = new Network({ seed: 3 });
    net.netnsAdd("n1");
    net.nicAdd("n1", "eth0", "underlay");
    const script = ["n1: ip addr add 192.168.1.10/24 dev eth0", "n1: ip link set eth0 up", "n1: ip link add flannel.1 type vxlan id 1 local 192.168.1.10 dev eth0 nolearning", "n1: ip addr add 10.244.1.0/32 dev flannel.1", "n1: ip link set flannel.1 up"];
    for (let i = 2; i < 40; i++) {
      script.push(`n1: ip neigh replace 10.244.${i}.0 lladdr 02:00:00:00:00:${i.toString(16).padStart(2, "0")} dev flannel.1 nud permanent`);
      script.push(`n1: bridge fdb append 02:00:00:00:00:${i.toString(16).padStart(2, "0")} dev flannel.1 dst 192.168.1.${i + 10}`);
      script.push(`n1: ip route add 10.244.${i}.0/24 via 10.244.${i}.0 dev flannel.1 onlink`);
    }
    applyScript(net, script.join("\n"));
    return net;
  };
  const views = (net: Network): string[] => [ipRoute(net.ns("n1")), ipNeigh(net.ns("n1")), bridgeFdbShow(net.ns("n1"))];

  it("a copy's changes leave the original as it was, and the original's later changes leave the copy", () => {
    const orig = build();
    const before = views(orig);
    const copy = orig.clone(1);
    const c = copy.ns("n1");
    c.routeDel({ addr: ip("10.244.2.0"), len: 24 });
    c.routeAdd({ dst: { addr: ip("10.99.0.0"), len: 16 }, via: ip("10.244.3.0"), dev: "flannel.1", onlink: true });
    c.neighReplace("flannel.1", ip("10.244.4.0"), "02:00:00:00:00:ff" as never);
    (c.neigh.get("flannel.1|" + ip("10.244.5.0")) as { state: string }).state = "STALE";
    c.bridgeFdbReplace("02:00:00:00:00:06" as never, "flannel.1", ip("192.168.1.99"));
    expect(views(orig)).toEqual(before);
    const copied = views(copy);
    expect(copied).not.toEqual(before);
    // And the other way for routes and VXLAN remotes (copy on write on both sides): the original
    // changes after the copy was made, the copy keeps what it had. (The neighbour table, like the
    // namespaces themselves, is copied on read: the original must not change while a copy is used.)
    const copy2 = orig.clone(2);
    const seen = views(copy2);
    orig.ns("n1").routeDel({ addr: ip("10.244.7.0"), len: 24 });
    orig.ns("n1").bridgeFdbDel("02:00:00:00:00:08" as never, "flannel.1");
    expect(views(copy2)).toEqual(seen);
    expect(views(orig)).not.toEqual(seen);
  });
});

describe("a namespace copy shares its nsids until either side allocates one", () => {
  it("an nsid a copy allocates stays in the copy, and one the original allocates later stays out of an earlier copy", () => {
    const net = new Network({ seed: 5 });
    for (const n of ["a", "b", "c"]) net.netnsAdd(n);
    net.ns("a").linkAdd({ kind: "veth", name: "ab", peer: "ba", peerNs: "b" });
    const copy = net.clone(1);
    copy.ns("a").linkAdd({ kind: "veth", name: "ac", peer: "ca", peerNs: "c" });
    expect([...net.ns("a").nsids]).toEqual([["b", 0]]);
    expect([...copy.ns("a").nsids]).toEqual([["b", 0], ["c", 1]]);
    const copy2 = net.clone(2);
    const a2 = copy2.ns("a");
    net.ns("a").linkAdd({ kind: "veth", name: "ac", peer: "ca", peerNs: "c" });
    expect([...a2.nsids]).toEqual([["b", 0]]);
    expect([...net.ns("a").nsids]).toEqual([["b", 0], ["c", 1]]);
  });
});

describe("a namespace copy shares its devices until it changes one", () => {
  const build = (learning: boolean): Network => {
    const net = new Network({ seed: 11 });
    for (const [n, me, peer, inner] of [["n1", "10", "11", "1"], ["n2", "11", "10", "2"]] as const) {
      net.netnsAdd(n);
      net.nicAdd(n, "eth0", "underlay");
      applyScript(
        net,
        [
          `${n}: ip addr add 192.168.1.${me}/24 dev eth0`,
          `${n}: ip link set eth0 up`,
          `${n}: ip link add vx0 type vxlan id 7 local 192.168.1.${me} dev eth0 dstport 4789${learning ? "" : " nolearning"}`,
          `${n}: ip addr add 10.0.0.${inner}/24 dev vx0`,
          `${n}: ip link set vx0 up`,
          `${n}: bridge fdb append 00:00:00:00:00:00 dev vx0 dst 192.168.1.${peer}`,
          `${n}: ip link add br0 type bridge`,
          `${n}: ip link add p1 type veth peer name q1`,
          `${n}: ip link add p2 type veth peer name q2`,
          `${n}: ip link set p1 master br0`,
          `${n}: ip link set p2 master br0`,
          `${n}: ip link set br0 up`,
          `${n}: ip link set p1 up`,
        ].join("\n"),
      );
    }
    return net;
  };
  const views = (net: Network, n: string): string[] => [ipLinkDetails(net.ns(n)), bridgeFdbShow(net.ns(n)), JSON.stringify([...net.ns(n).devices.values()]), JSON.stringify(["p1", "p2", "vx0"].map((d) => net.ns(n).conf(d)))];

  it("every link, bridge-port, FDB and per-interface sysctl change in the copy leaves the original's devices as they were", () => {
    const orig = build(false);
    const before = views(orig, "n1");
    const copy = orig.clone(1);
    const c = copy.ns("n1");
    expect(c.dev("p2")).toBe(orig.ns("n1").dev("p2"));
    c.linkSetDown("p1");
    c.linkSetUp("p2");
    c.linkSetMtu("p2", 1400);
    c.linkSetAddress("p1", "02:aa:00:00:00:01" as Mac);
    c.bridgeLinkSet("p2", { hairpin: true, learning: false });
    c.linkSetNomaster("p1");
    c.linkSetMaster("q1", "br0");
    c.bridgeFdbAppend(MAC_ZERO, "vx0", ip("192.168.1.99"));
    c.bridgeFdbReplace("02:00:00:00:00:09" as Mac, "vx0", ip("192.168.1.98"));
    c.sysctlSet("net.ipv4.conf.p2.proxy_arp", "1");
    c.sysctlSet("net.ipv4.ip_forward", "1");
    c.linkDel("br0");
    c.linkAdd({ kind: "bridge", name: "br9" });
    expect(views(copy, "n1")).not.toEqual(before);
    expect(views(orig, "n1")).toEqual(before);
    // And the original's changes after a copy was made leave the copy as it was.
    const copy2 = orig.clone(3);
    const seen = views(copy2, "n1");
    orig.ns("n1").linkSetMtu("p1", 1300);
    orig.ns("n1").bridgeLinkSet("p2", { hairpin: true });
    orig.ns("n1").bridgeFdbDel(MAC_ZERO, "vx0");
    orig.ns("n1").linkAdd({ kind: "bridge", name: "br8" });
    orig.ns("n1").linkDel("p2");
    expect(views(copy2, "n1")).toEqual(seen);
    expect(views(orig, "n1")).not.toEqual(seen);
  });

  it("a VXLAN device that learns in the copy learns there only", () => {
    const orig = build(true);
    const before = views(orig, "n2");
    const copy = orig.clone(2);
    copy.send("n1", { proto: "tcp", dst: ip("10.0.0.2"), sport: 40000, dport: 80 });
    copy.drain();
    const learned = (net: Network): string[] => bridgeFdbShow(net.ns("n2")).split("\n").filter((l) => l.includes(net.ns("n1").dev("vx0").mac));
    expect(learned(copy)).toHaveLength(1);
    expect(learned(orig)).toEqual([]);
    expect(views(orig, "n2")).toEqual(before);
  });
});

describe("the VXLAN FDB index", () => {
  it("follows appends, replaces and deletes, keeping the first entry per MAC and the defaults in order", () => {
    const net = new Network({ seed: 4 });
    net.netnsAdd("n");
    net.nicAdd("n", "eth0", "underlay");
    applyScript(net, "n: ip addr add 192.168.1.10/24 dev eth0\nn: ip link set eth0 up\nn: ip link add vx0 type vxlan id 7 local 192.168.1.10 dev eth0 nolearning");
    const ns = net.ns("n");
    const vx = ns.dev("vx0") as Vxlan;
    const m = "02:00:00:00:00:01" as Mac;
    expect(vxlanFdbLookup(vx, m)).toEqual({ exact: undefined, defaults: [] });
    ns.bridgeFdbAppend(MAC_ZERO, "vx0", ip("192.168.1.20"));
    ns.bridgeFdbAppend(MAC_ZERO, "vx0", ip("192.168.1.21"));
    expect(vxlanFdbLookup(vx, m).defaults).toEqual([ip("192.168.1.20"), ip("192.168.1.21")]);
    ns.bridgeFdbReplace(m, "vx0", ip("192.168.1.30"));
    expect(vxlanFdbLookup(vx, m).exact?.dst).toBe(ip("192.168.1.30"));
    ns.bridgeFdbReplace(m, "vx0", ip("192.168.1.31"));
    expect(vxlanFdbLookup(vx, m).exact?.dst).toBe(ip("192.168.1.31"));
    ns.bridgeFdbDel(m, "vx0");
    expect(vxlanFdbLookup(vx, m).exact).toBeUndefined();
    // A copy shares the index until it changes its own remotes.
    const c = net.clone(1).ns("n");
    c.bridgeFdbReplace(m, "vx0", ip("192.168.1.40"));
    expect(vxlanFdbLookup(c.dev("vx0") as Vxlan, m).exact?.dst).toBe(ip("192.168.1.40"));
    expect(vxlanFdbLookup(vx, m).exact).toBeUndefined();
  });

  it("append, replace and del answer and leave the table as a scan of the entries would, learning in between", () => {
    // The reference is the plain scan these commands used before the position index.
    const mac = fc.constantFrom(MAC_ZERO, "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03") as fc.Arbitrary<Mac>;
    const op = fc.record({ op: fc.constantFrom("append", "replace", "del", "learn", "copy"), mac, dst: fc.constantFrom(20, 21, 22) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        let net = new Network({ seed: 4 });
        net.netnsAdd("n");
        net.nicAdd("n", "eth0", "underlay");
        applyScript(net, "n: ip addr add 192.168.1.10/24 dev eth0\nn: ip link set eth0 up\nn: ip link add vx0 type vxlan id 7 local 192.168.1.10 dev eth0 nolearning");
        const ref: { mac: Mac; dst: Ipv4; learned: boolean }[] = [];
        for (const o of ops) {
          const ns = net.ns("n");
          const dst = ip(`192.168.1.${o.dst}`);
          const got = ((): string => {
            try {
              if (o.op === "append") ns.bridgeFdbAppend(o.mac, "vx0", dst);
              else if (o.op === "replace") ns.bridgeFdbReplace(o.mac, "vx0", dst);
              else if (o.op === "del") ns.bridgeFdbDel(o.mac, "vx0");
              else if (o.op === "learn") (ns.devMut("vx0") as Vxlan).fdb.push({ mac: o.mac, dst, learned: true, updatedAt: 0 }); // as vxlan_rcv learns
              else net = net.clone(1);
              return "ok";
            } catch (e) {
              return (e as Error).message;
            }
          })();
          const want = ((): string => {
            const i = ref.findIndex((e) => e.mac === o.mac);
            if (o.op === "append") {
              if (ref.some((e) => e.mac === o.mac && e.dst === dst) || (o.mac !== MAC_ZERO && i >= 0)) return "RTNETLINK answers: File exists";
              ref.push({ mac: o.mac, dst, learned: false });
            } else if (o.op === "replace") {
              if (i >= 0) ref[i] = { mac: o.mac, dst, learned: false };
              else ref.push({ mac: o.mac, dst, learned: false });
            } else if (o.op === "del") {
              if (i < 0) return "RTNETLINK answers: No such file or directory";
              ref.splice(i, 1);
            } else if (o.op === "learn") ref.push({ mac: o.mac, dst, learned: true });
            return "ok";
          })();
          expect(got).toBe(want);
          expect((net.ns("n").dev("vx0") as Vxlan).fdb.map((e) => ({ mac: e.mac, dst: e.dst, learned: e.learned }))).toEqual(ref);
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
