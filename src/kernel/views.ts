/**
 * @module kernel/views
 * A namespace's state printed as the real tools print it — `ip link`, `ip -d link`, `ip addr`,
 * `ip -br addr`, `ip route [show table local]`, `ip neigh`, `bridge fdb show`, `conntrack -L` —
 * byte for byte as iproute2 6.1 and conntrack-tools 1.4.7 print the same state on kernel 6.18
 * (test/oracle/kernel-views.test.ts compares them with the real tools), trailing spaces included.
 *
 * Where the kernel's order is a hash order (`ip neigh`, learned FDB entries, `conntrack -L`),
 * podwire prints insertion order. The bridge and port timers in `ip -d link` (hello, tcn, gc …)
 * are not modelled and print as 0.00; the real values depend on when the tool runs.
 * IPv6 is not modelled: the views match a namespace with `disable_ipv6=1` (no inet6 lines, no
 * solicited-node multicast entries).
 */
import { formatIpv4, type Mac } from "../net/addr.js";
import { formatConntrackLine } from "../netfilter/conntrack.js";
import type { NetNs } from "./netns.js";
import type { Bridge, Device, Route } from "./types.js";

/** Options for views whose output depends on the machine. */
export interface ViewOptions {
  /** `num_possible_cpus()`: a veth gets that many queues (default 2). */
  readonly possibleCpus?: number;
}

function linkName(ns: NetNs, d: Device): string {
  if (d.kind !== "veth") return d.name;
  if (d.peerNs === ns.name) return `${d.name}@${d.peer}`;
  const peer = ns.peerIfindex(d);
  return `${d.name}@if${peer}`;
}

function flags(ns: NetNs, d: Device): string {
  const f: string[] = [];
  const carrier = ns.carrier(d);
  if (d.up && !carrier) f.push("NO-CARRIER");
  f.push(...(d.kind === "loopback" ? ["LOOPBACK"] : ["BROADCAST", "MULTICAST"]));
  if (d.up) f.push("UP");
  if (carrier) f.push("LOWER_UP");
  // iproute2 resolves IFLA_LINK in the local namespace only: a veth whose peer is here and down.
  if (d.kind === "veth" && d.peerNs === ns.name && !(ns.devices.get(d.peer)?.up ?? false)) f.push("M-DOWN");
  return `<${f.join(",")}>`;
}

/** The operational state iproute2 shows (IF_OPER_*). */
export function operState(ns: NetNs, d: Device): "UP" | "DOWN" | "UNKNOWN" | "LOWERLAYERDOWN" {
  if (!d.up) return "DOWN";
  if (d.kind === "loopback" || d.kind === "vxlan") return "UNKNOWN";
  if (ns.carrier(d)) return "UP";
  // default_operstate: no carrier and a lower device (iflink) that is not itself → LOWERLAYERDOWN.
  // A veth's iflink is its peer's ifindex, compared with its own even across namespaces.
  return d.kind === "veth" && ns.peerIfindex(d) !== d.ifindex ? "LOWERLAYERDOWN" : "DOWN";
}

function header(ns: NetNs, d: Device, mode: boolean): string {
  const qdisc = d.up ? "noqueue" : "noop";
  const master = d.master !== undefined ? ` master ${d.master}` : "";
  return `${d.ifindex}: ${linkName(ns, d)}: ${flags(ns, d)} mtu ${d.mtu} qdisc ${qdisc}${master} state ${operState(ns, d)}${mode ? " mode DEFAULT" : ""} group default ${d.txqlen > 0 ? `qlen ${d.txqlen}` : ""}`;
}

function linkLine(ns: NetNs, d: Device): string {
  if (d.kind === "loopback") return `    link/loopback ${d.mac} brd 00:00:00:00:00:00`;
  const netns = d.kind === "veth" && d.peerNs !== ns.name ? ` ${ns.peerNetnsLabel(d)}` : "";
  return `    link/ether ${d.mac} brd ff:ff:ff:ff:ff:ff${netns}`;
}

/** `ip link show`. */
export function ipLink(ns: NetNs): string {
  return [...ns.devices.values()].map((d) => `${header(ns, d, true)}\n${linkLine(ns, d)}\n`).join("");
}

/** `ip addr show`. */
export function ipAddr(ns: NetNs): string {
  let out = "";
  for (const d of ns.devices.values()) {
    out += `${header(ns, d, false)}\n${linkLine(ns, d)}\n`;
    for (const a of ns.addrs) {
      if (a.dev !== d.name) continue;
      const brd = a.brd !== undefined ? ` brd ${formatIpv4(a.brd)}` : "";
      out += `    inet ${formatIpv4(a.addr)}/${a.len}${brd} scope ${a.scope}${a.secondary ? " secondary" : ""} ${a.dev}\n       valid_lft forever preferred_lft forever\n`;
    }
  }
  return out;
}

/** `ip -br addr show`. */
export function ipBriefAddr(ns: NetNs): string {
  let out = "";
  for (const d of ns.devices.values()) {
    const addrs = ns.addrs.filter((a) => a.dev === d.name).map((a) => `${formatIpv4(a.addr)}/${a.len} `);
    out += `${linkName(ns, d).padEnd(16)} ${operState(ns, d).padEnd(14)} ${addrs.join("")}\n`;
  }
  return out;
}

/** `ip -br link show`. */
export function ipBriefLink(ns: NetNs): string {
  return [...ns.devices.values()].map((d) => `${linkName(ns, d).padEnd(16)} ${operState(ns, d).padEnd(14)} ${d.mac} ${flags(ns, d)} \n`).join("");
}

function routeLine(ns: NetNs, r: Route): string {
  const parts: string[] = [];
  if (r.type !== "unicast") parts.push(r.type);
  parts.push(r.dst.len === 0 && r.type === "unicast" ? "default" : r.dst.len === 32 ? formatIpv4(r.dst.addr) : `${formatIpv4(r.dst.addr)}/${r.dst.len}`);
  if (r.via !== undefined) parts.push("via", formatIpv4(r.via));
  if (r.dev !== undefined) parts.push("dev", r.dev);
  if (r.proto !== undefined && r.proto !== "boot") parts.push("proto", r.proto);
  if (r.scope !== "global") parts.push("scope", r.scope);
  if (r.src !== undefined) parts.push("src", formatIpv4(r.src));
  if (r.metric !== 0) parts.push("metric", String(r.metric));
  if (r.onlink) parts.push("onlink");
  const dev = r.dev !== undefined ? ns.devices.get(r.dev) : undefined;
  if (dev && r.type !== "local" && !ns.carrier(dev)) parts.push("linkdown");
  return `${parts.join(" ")} \n`;
}

/** `ip route show [table local]`. */
export function ipRoute(ns: NetNs, table: "main" | "local" = "main"): string {
  return (table === "main" ? ns.main : ns.local)
    .list()
    .map((r) => routeLine(ns, r))
    .join("");
}

/** `ip neigh show`. */
export function ipNeigh(ns: NetNs): string {
  let out = "";
  for (const n of ns.neigh.values()) {
    const ll = n.mac !== undefined && n.state !== "INCOMPLETE" && n.state !== "FAILED" ? ` lladdr ${n.mac}` : "";
    out += `${formatIpv4(n.ip)} dev ${n.dev}${ll} ${n.state} \n`;
  }
  return out;
}

/** The device's own multicast list, as `bridge fdb show` prints it under `self permanent`. */
function mcList(d: Device): Mac[] {
  if (d.kind === "loopback") return [];
  const l = ["33:33:00:00:00:01"];
  if (d.up) {
    if (d.kind === "bridge") l.push("01:00:5e:00:00:6a", "33:33:00:00:00:6a");
    l.push("01:00:5e:00:00:01");
  }
  return l as Mac[];
}

/** `bridge fdb show`. */
export function bridgeFdbShow(ns: NetNs): string {
  let out = "";
  const now = ns.now();
  for (const d of ns.devices.values()) {
    if (d.kind === "vxlan") {
      for (const e of d.fdb) out += `${e.mac} dev ${d.name} dst ${formatIpv4(e.dst)} self${e.learned ? "" : " permanent"}\n`;
      continue;
    }
    if (d.master !== undefined) {
      const br = ns.devices.get(d.master) as Bridge;
      for (const e of ns.fdbs.get(d.master)?.entries(now, br.ageingTime * 10) ?? []) {
        if (e.port !== d.name) continue;
        out += `${e.mac} dev ${d.name} master ${d.master}${e.local ? " permanent" : e.permanent ? " static" : " "}\n`;
      }
    }
    for (const m of mcList(d)) out += `${m} dev ${d.name} self permanent\n`;
    if (d.kind === "bridge") {
      for (const e of ns.fdbs.get(d.name)?.entries(now, d.ageingTime * 10) ?? []) {
        if (e.port === undefined) out += `${e.mac} dev ${d.name} master ${d.name} permanent\n`;
      }
    }
  }
  return out;
}

/** `conntrack -L` (the entries; conntrack prints its summary line on stderr). */
export function conntrackList(ns: NetNs): string {
  const now = ns.now();
  return ns.conntrack
    .entries(now)
    .map((e) => `${formatConntrackLine(e, now)}\n`)
    .join("");
}

const TAIL = (queues: number): string => `addrgenmode eui64 numtxqueues ${queues} numrxqueues ${queues} gso_max_size 65536 gso_max_segs 65535 tso_max_size 524280 tso_max_segs 65535 gro_max_size 65536 `;

/** A bridge id as iproute2 prints it: priority in 4 hex digits, then the MAC without zero padding. */
function bridgeId(mac: Mac): string {
  return `8000.${mac
    .split(":")
    .map((o) => parseInt(o, 16).toString(16))
    .join(":")}`;
}

const timer = (s: number): string => s.toFixed(2).padStart(7);

/** `ip -d link show`. */
export function ipLinkDetails(ns: NetNs, opts: ViewOptions = {}): string {
  const cpus = opts.possibleCpus ?? 2;
  let out = "";
  for (const d of ns.devices.values()) {
    out += `${header(ns, d, true)}\n`;
    const port = d.master !== undefined;
    const common = `promiscuity ${port ? 1 : 0}  allmulti ${port ? 1 : 0} minmtu ${d.kind === "loopback" ? 0 : 68} maxmtu ${d.kind === "loopback" ? 0 : 65535} `;
    if (d.kind === "loopback") {
      out += `    link/loopback ${d.mac} brd 00:00:00:00:00:00 ${common}${TAIL(1)}\n`;
      continue;
    }
    out += `${linkLine(ns, d)} ${common}\n`;
    const queues = d.kind === "veth" ? cpus : 1;
    let kind = "";
    if (d.kind === "veth") kind = "veth ";
    else if (d.kind === "vxlan") {
      kind = `vxlan id ${d.vni} ${d.local !== undefined ? `local ${formatIpv4(d.local)} ` : ""}${d.dev !== undefined ? `dev ${d.dev} ` : ""}srcport 0 0 dstport ${d.dstport} ${d.fdbLearning ? "" : "nolearning "}ttl auto ageing 300 udpcsum noudp6zerocsumtx noudp6zerocsumrx `;
    } else if (d.kind === "bridge") {
      const id = bridgeId(d.mac);
      kind =
        `bridge forward_delay 1500 hello_time 200 max_age 2000 ageing_time ${d.ageingTime} stp_state 0 priority 32768 vlan_filtering 0 bridge_id ${id} designated_root ${id} root_port 0 root_path_cost 0 topology_change 0 topology_change_detected 0 ` +
        `hello_timer ${timer(0)} tcn_timer ${timer(0)} topology_change_timer ${timer(0)} gc_timer ${timer(0)} group_fwd_mask 0 group_address 01:80:c2:00:00:00 mcast_snooping 1 no_linklocal_learn 0 mcast_vlan_snooping 0 mcast_router 1 mcast_query_use_ifaddr 0 mcast_querier 0 mcast_hash_elasticity 16 mcast_hash_max 4096 mcast_last_member_count 2 mcast_startup_query_count 2 mcast_last_member_interval 100 mcast_membership_interval 26000 mcast_querier_interval 25500 mcast_query_interval 12500 mcast_query_response_interval 1000 mcast_startup_query_interval 3124 mcast_stats_enabled 0 mcast_igmp_version 2 mcast_mld_version 1 nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 `;
    }
    if (port) {
      const br = ns.devices.get(d.master as string) as Bridge;
      const id = bridgeId(br.mac);
      const no = d.portNo ?? 0;
      const state = d.up && br.up ? "forwarding" : "disabled";
      out += `    ${kind}\n`;
      out +=
        `    bridge_slave state ${state} priority 32 cost 2 hairpin ${d.hairpin ? "on" : "off"} guard off root_block off fastleave off learning ${d.learning ? "on" : "off"} flood on port_id 0x${(0x8000 + no).toString(16)} port_no 0x${no.toString(16)} designated_port ${0x8000 + no} designated_cost 0 designated_bridge ${id} designated_root ${id} ` +
        `hold_timer ${timer(0)} message_age_timer ${timer(0)} forward_delay_timer ${timer(0)} topology_change_ack 0 config_pending 0 proxy_arp off proxy_arp_wifi off mcast_router 1 mcast_fast_leave off mcast_flood on bcast_flood on mcast_to_unicast off neigh_suppress off group_fwd_mask 0 group_fwd_mask_str 0x0 vlan_tunnel off isolated off locked off ${TAIL(queues)}\n`;
    } else {
      out += `    ${kind}${TAIL(queues)}\n`;
    }
  }
  return out;
}
