/**
 * @module materialize/plan
 * The commands that build a topology's emulated machines in real network namespaces (the oracle,
 * DESIGN "Materialize"): one namespace for the underlay switch, one per node, pod and external
 * host; the same devices (names, MACs, MTUs, veth peers, bridges and their ports with hairpin,
 * flannel's VXLAN device), addresses, routes, PERMANENT neighbours, VXLAN FDB entries, sysctls,
 * and each machine's iptables rules as its `iptables-save` text (with the nfacct counters the rules
 * use). Pure: it reads the emulated state and returns commands; `apply.ts` runs them and
 * `script.ts` prints them.
 *
 * Every name the commands carry comes from the prefix and an index (namespaces) or from device
 * names checked against the kernel's rules, and every value from typed addresses, so nothing in a
 * topology file reaches a shell or a namespace name.
 */
import { formatIpv4 } from "../net/addr.js";
import type { NetNs } from "../kernel/netns.js";
import type { Device } from "../kernel/types.js";
import { formatSave } from "../netfilter/iptables-save.js";
import type { Topology } from "../topology/build.js";
import { places } from "../trace/endpoints.js";

/** One command: `argv` run inside namespace `ns` (`ip netns exec`), or on its own (`ip netns add`). */
export interface Command {
  readonly ns?: string;
  readonly argv: readonly string[];
  readonly input?: string;
}

/** What apply prints with `-o json` (CLI.md). */
export interface Manifest {
  readonly prefix: string;
  readonly netns: Readonly<Record<string, { readonly netns: string; readonly ip: string }>>;
}

/** The plan for one topology. */
export interface Plan {
  readonly manifest: Manifest;
  /** Real namespace names, in creation order (destroy removes exactly these). */
  readonly namespaces: readonly string[];
  /** Emulated namespace → real one. */
  readonly real: ReadonlyMap<string, string>;
  readonly commands: readonly Command[];
}

/** A materialize problem (a bad prefix, a name the kernel would refuse). */
export class MaterializeError extends Error {
  override readonly name = "MaterializeError";
}

const PREFIX = /^[a-z][a-z0-9]{0,7}$/;
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** Checks a prefix: a lower-case letter, then up to 7 letters or digits. */
export function checkPrefix(p: string): string {
  if (!PREFIX.test(p)) throw new MaterializeError(`--prefix: "${p}" must be a lower-case letter followed by up to 7 lower-case letters or digits`);
  return p;
}

/** The pattern of the namespaces a prefix owns (`pw-sw`, `pw-node0`, `pw-pod3`, `pw-host1`). */
export function ownedBy(prefix: string): RegExp {
  return new RegExp(`^${prefix}-(sw|node\\d+|pod\\d+|host\\d+)$`);
}

function ifname(ns: string, name: string): string {
  if (!IFNAME.test(name) || name === "." || name === "..") throw new MaterializeError(`device "${name}" in ${ns} is not a name the kernel accepts (1–15 of A–Z a–z 0–9 _ . -)`);
  return name;
}

/** `sysctl` key for an interface: dots in the name become slashes (`net.ipv4.conf.flannel/1.rp_filter`). */
const ifKey = (dev: string, field: string): string => `net/ipv4/conf/${dev}/${field}`;

/** Builds the plan. */
export function materializePlan(t: Topology, prefixIn: string): Plan {
  const prefix = checkPrefix(prefixIn);
  t.dataplane.syncAll();
  const net = t.dataplane.net;
  const pl = places(t);
  const real = new Map<string, string>();
  const manifest: Record<string, { netns: string; ip: string }> = {};
  const sw = `${prefix}-sw`;
  t.nodes.forEach((n, i) => {
    real.set(n.name, `${prefix}-node${i}`);
    manifest[`node/${n.name}`] = { netns: `${prefix}-node${i}`, ip: n.ip };
  });
  t.hosts.forEach((h, i) => {
    real.set(h.name, `${prefix}-host${i}`);
    manifest[`host/${h.name}`] = { netns: `${prefix}-host${i}`, ip: h.ip };
  });
  let podIndex = 0;
  for (const [nsName, p] of [...pl].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (p.kind !== "pod") continue;
    const r = `${prefix}-pod${podIndex++}`;
    real.set(nsName, r);
    manifest[`pod/${p.namespace}/${p.name}`] = { netns: r, ip: p.ip };
  }
  for (const p of t.cluster.list("Pod")) {
    if (p.spec.hostNetwork && p.spec.nodeName) manifest[`pod/${p.metadata.namespace ?? "default"}/${p.metadata.name}`] = { netns: real.get(p.spec.nodeName) as string, ip: p.status?.podIP ?? "" };
  }
  const machines = [...real.keys()].map((k) => net.ns(k));
  const cmds: Command[] = [];
  const add = (ns: string | undefined, ...argv: string[]): void => void cmds.push({ ...(ns !== undefined ? { ns } : {}), argv });
  const R = (ns: NetNs): string => real.get(ns.name) as string;

  // Namespaces, IPv6 off (podwire models IPv4 only), the baseline IPv4 conf.
  add(undefined, "ip", "netns", "add", sw);
  for (const ns of machines) add(undefined, "ip", "netns", "add", R(ns));
  for (const name of [sw, ...machines.map(R)]) add(name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", "net.ipv6.conf.lo.disable_ipv6=1");
  add(sw, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0");
  add(sw, "ip", "link", "add", "br0", "type", "bridge");
  add(sw, "ip", "link", "set", "br0", "up");
  add(sw, "ip", "link", "set", "lo", "up");
  for (const ns of machines) {
    const s = ns.sysctls;
    add(R(ns), "sysctl", "-qw", `net.ipv4.ip_forward=${s.all.forwarding ? 1 : 0}`, `net.ipv4.conf.all.rp_filter=${s.all.rpFilter}`, `net.ipv4.conf.default.rp_filter=${s.default.rpFilter}`, `net.ipv4.conf.all.route_localnet=${s.all.routeLocalnet ? 1 : 0}`, `net.ipv4.conf.all.proxy_arp=${s.all.proxyArp ? 1 : 0}`, `net.bridge.bridge-nf-call-iptables=${s.bridgeNfCallIptables ? 1 : 0}`, `net.ipv4.ip_default_ttl=${s.defaultTtl}`, `net.ipv4.icmp_echo_ignore_all=${s.icmpEchoIgnoreAll ? 1 : 0}`);
  }

  // Links: NICs (a veth into the switch), bridges, VXLAN devices, veth pairs (once, from the
  // pod's side as the CNI plugin makes them).
  let port = 0;
  const pairs = new Set<string>();
  const devs = (ns: NetNs): Device[] => [...ns.devices.values()];
  for (const ns of machines) {
    for (const d of devs(ns)) {
      ifname(ns.name, d.name);
      if (d.kind === "nic") {
        const p = `p${port++}`;
        add(R(ns), "ip", "link", "add", d.name, "type", "veth", "peer", "name", p, "netns", sw);
        add(sw, "ip", "link", "set", p, "master", "br0");
        add(sw, "ip", "link", "set", p, "up");
      } else if (d.kind === "bridge") add(R(ns), "ip", "link", "add", d.name, "txqueuelen", String(d.txqlen), "type", "bridge");
      else if (d.kind === "vxlan") {
        add(R(ns), "ip", "link", "add", d.name, "txqueuelen", String(d.txqlen), "type", "vxlan", "id", String(d.vni), ...(d.local !== undefined ? ["local", formatIpv4(d.local)] : []), ...(d.dev !== undefined ? ["dev", d.dev] : []), "dstport", String(d.dstport), ...(d.fdbLearning ? [] : ["nolearning"]));
      }
    }
  }
  for (const ns of machines) {
    for (const d of devs(ns)) {
      if (d.kind !== "veth") continue;
      const peer = net.namespaces.get(d.peerNs);
      if (!peer || !real.has(d.peerNs)) throw new MaterializeError(`veth ${d.name} in ${ns.name} has its peer in a namespace podwire does not materialize (${d.peerNs})`);
      const key = [`${ns.name}/${d.name}`, `${d.peerNs}/${d.peer}`].sort().join("|");
      if (pairs.has(key)) continue;
      pairs.add(key);
      add(R(ns), "ip", "link", "add", d.name, "txqueuelen", String(d.txqlen), "type", "veth", "peer", "name", ifname(d.peerNs, d.peer), "netns", R(peer), "txqueuelen", String(peer.dev(d.peer).txqlen));
    }
  }
  // MACs, ports, hairpin, MTUs.
  for (const ns of machines) {
    for (const d of devs(ns)) {
      if (d.kind === "loopback") continue;
      add(R(ns), "ip", "link", "set", "dev", d.name, "address", d.mac);
      if (d.master !== undefined) {
        add(R(ns), "ip", "link", "set", "dev", d.name, "master", d.master);
        add(R(ns), "ip", "link", "set", "dev", d.name, "type", "bridge_slave", "hairpin", d.hairpin ? "on" : "off", "learning", d.learning ? "on" : "off");
      }
    }
    for (const d of devs(ns)) if (d.kind !== "loopback") add(R(ns), "ip", "link", "set", "dev", d.name, "mtu", String(d.mtu));
  }
  // Addresses, then links up (the kernel adds the prefix routes), then routes and neighbours.
  for (const ns of machines) {
    for (const a of ns.addrs) {
      if (a.dev === "lo" && a.addr === 0x7f000001) continue;
      add(R(ns), "ip", "addr", "add", `${formatIpv4(a.addr)}/${a.len}`, ...(a.brd !== undefined ? ["brd", formatIpv4(a.brd)] : []), "scope", a.scope, "dev", a.dev);
    }
    for (const d of devs(ns)) if (d.up) add(R(ns), "ip", "link", "set", "dev", d.name, "up");
  }
  for (const ns of machines) {
    for (const r of ns.main.list()) {
      if (r.proto === "kernel") continue;
      const dst = r.dst.len === 0 ? "default" : `${formatIpv4(r.dst.addr)}/${r.dst.len}`;
      add(R(ns), "ip", "route", "replace", ...(r.type !== "unicast" ? [r.type] : []), dst, ...(r.via !== undefined ? ["via", formatIpv4(r.via)] : []), ...(r.dev !== undefined ? ["dev", r.dev] : []), ...(r.src !== undefined ? ["src", formatIpv4(r.src)] : []), ...(r.metric !== 0 ? ["metric", String(r.metric)] : []), ...(r.onlink ? ["onlink"] : []));
    }
    for (const n of ns.neigh.values()) if (n.state === "PERMANENT" && n.mac) add(R(ns), "ip", "neigh", "replace", formatIpv4(n.ip), "lladdr", n.mac, "dev", n.dev, "nud", "permanent");
    for (const d of devs(ns)) if (d.kind === "vxlan") for (const e of d.fdb) if (!e.learned) add(R(ns), "bridge", "fdb", "append", e.mac, "dev", d.name, "dst", formatIpv4(e.dst), "self", "permanent");
    // Per-interface conf as the emulated kernel holds it.
    for (const d of devs(ns)) {
      const c = ns.sysctls.perIf.get(d.name);
      if (!c) continue;
      add(R(ns), "sysctl", "-qw", `${ifKey(d.name, "forwarding")}=${c.forwarding ? 1 : 0}`, `${ifKey(d.name, "rp_filter")}=${c.rpFilter}`, `${ifKey(d.name, "route_localnet")}=${c.routeLocalnet ? 1 : 0}`, `${ifKey(d.name, "proxy_arp")}=${c.proxyArp ? 1 : 0}`);
    }
    // The rules, as the machine holds them, with the nfacct counters they name.
    if (ns.ruleset.tables.size > 0) {
      const text = formatSave(ns.ruleset);
      for (const m of new Set([...text.matchAll(/--nfacct-name\s+(\S+)/g)].map((x) => x[1] as string))) add(R(ns), "nfacct", "add", m);
      cmds.push({ ns: R(ns), argv: ["iptables-restore"], input: text });
    }
  }
  return { manifest: { prefix, netns: manifest }, namespaces: [sw, ...machines.map(R)], real, commands: cmds };
}
