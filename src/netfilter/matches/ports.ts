/**
 * @module netfilter/matches/ports
 * Protocol matches: `tcp`, `udp`, `icmp` (libxt_tcp/udp, libipt_icmp) and `multiport`.
 * @see man 8 iptables-extensions (tcp, udp, icmp, multiport)
 */
import type { Match, Neg, PortRange } from "../model.js";
import { formatPortRange, parsePortRange } from "../text.js";
import { bang, type MatchModule } from "./module.js";

type Tcp = Extract<Match, { kind: "tcp" }>;
type Udp = Extract<Match, { kind: "udp" }>;
type Icmp = Extract<Match, { kind: "icmp" }>;
type Multiport = Extract<Match, { kind: "multiport" }>;

const TCP_FLAG_BITS: ReadonlyArray<readonly [string, number]> = [
  ["FIN", 0x01],
  ["SYN", 0x02],
  ["RST", 0x04],
  ["PSH", 0x08],
  ["ACK", 0x10],
  ["URG", 0x20],
];

function parseTcpFlags(s: string): number | undefined {
  if (s === "ALL") return 0x3f;
  if (s === "NONE") return 0;
  let n = 0;
  for (const part of s.split(",")) {
    const bit = TCP_FLAG_BITS.find(([name]) => name === part.toUpperCase());
    if (!bit) return undefined;
    n |= bit[1];
  }
  return n;
}

/** libxt_tcp's print_tcpf: NONE, or the names in bit order (ALL prints as the full list). */
function formatTcpFlags(n: number): string {
  if (n === 0) return "NONE";
  return TCP_FLAG_BITS.filter(([, b]) => n & b)
    .map(([name]) => name)
    .join(",");
}

/**
 * The nf_tables backend stores tcp/udp port tests as nft comparisons, and iptables-save prints
 * back what it stored: a full range 0:65535 is no test at all, and a negated range touching 0 or
 * 65535 becomes the positive complement (`! --dport 0:1` → `--dport 2:65535`; a single port,
 * `! --dport 0`, stays as written). A negated full
 * range is stored as no test either (so such a rule matches every port on a real nft kernel, and
 * in podwire). Checked against iptables 1.8.9 (nf_tables).
 */
function nftPorts(r: PortRange, neg: boolean): Neg<PortRange> | undefined {
  if (r.lo === 0 && r.hi === 65535) return undefined;
  if (r.lo === r.hi) return { v: r, neg }; // a single port is an equality test, kept as written
  if (neg && r.lo === 0) return { v: { lo: r.hi + 1, hi: 65535 }, neg: false };
  if (neg && r.hi === 65535) return { v: { lo: 0, hi: r.lo - 1 }, neg: false };
  return { v: r, neg };
}

function withPorts<T extends Tcp | Udp>(m: T, which: "sport" | "dport", p: Neg<PortRange> | undefined): T {
  const { [which]: _drop, ...rest } = m;
  void _drop;
  return (p ? { ...rest, [which]: p } : rest) as T;
}

function range(o: { args: readonly string[] }, what: string): PortRange | string {
  const r = parsePortRange(o.args[0] ?? "");
  return r ?? `invalid ${what} "${o.args[0] ?? ""}"`;
}

export const tcpModule: MatchModule<Tcp> = {
  name: "tcp",
  options: { sport: 1, "source-port": 1, dport: 1, "destination-port": 1, "tcp-flags": 2, syn: 0, "tcp-option": 1 },
  build(opts) {
    let m: Tcp = { kind: "tcp" };
    for (const o of opts) {
      if (o.name === "sport" || o.name === "source-port" || o.name === "dport" || o.name === "destination-port") {
        const r = range(o, "port");
        if (typeof r === "string") return r;
        m = withPorts(m, o.name.startsWith("s") ? "sport" : "dport", nftPorts(r, o.neg));
      } else if (o.name === "syn") {
        m = { ...m, flags: { v: { mask: 0x17, comp: 0x02 }, neg: o.neg } };
      } else if (o.name === "tcp-flags") {
        const mask = parseTcpFlags(o.args[0] ?? "");
        const comp = parseTcpFlags(o.args[1] ?? "");
        if (mask === undefined || comp === undefined) return `invalid TCP flags "${o.args.join(" ")}"`;
        m = { ...m, flags: { v: { mask, comp }, neg: o.neg } };
      } else {
        return `--tcp-option is not supported`;
      }
    }
    return m;
  },
  save(m) {
    let s = " -m tcp";
    if (m.sport) s += `${bang(m.sport.neg)} --sport ${formatPortRange(m.sport.v)}`;
    if (m.dport) s += `${bang(m.dport.neg)} --dport ${formatPortRange(m.dport.v)}`;
    if (m.flags) s += `${bang(m.flags.neg)} --tcp-flags ${formatTcpFlags(m.flags.v.mask)} ${formatTcpFlags(m.flags.v.comp)}`;
    return s;
  },
};

export const udpModule: MatchModule<Udp> = {
  name: "udp",
  options: { sport: 1, "source-port": 1, dport: 1, "destination-port": 1 },
  build(opts) {
    let m: Udp = { kind: "udp" };
    for (const o of opts) {
      const r = range(o, "port");
      if (typeof r === "string") return r;
      m = withPorts(m, o.name.startsWith("s") ? "sport" : "dport", nftPorts(r, o.neg));
    }
    return m;
  },
  save(m) {
    let s = " -m udp";
    if (m.sport) s += `${bang(m.sport.neg)} --sport ${formatPortRange(m.sport.v)}`;
    if (m.dport) s += `${bang(m.dport.neg)} --dport ${formatPortRange(m.dport.v)}`;
    return s;
  },
};

/** ICMP type names iptables knows (libipt_icmp), by name → [type, code?]. */
const ICMP_TYPES: Readonly<Record<string, readonly [number, number?]>> = {
  any: [255],
  "echo-reply": [0],
  pong: [0],
  "destination-unreachable": [3],
  "network-unreachable": [3, 0],
  "host-unreachable": [3, 1],
  "protocol-unreachable": [3, 2],
  "port-unreachable": [3, 3],
  "fragmentation-needed": [3, 4],
  "source-route-failed": [3, 5],
  "network-prohibited": [3, 9],
  "host-prohibited": [3, 10],
  "communication-prohibited": [3, 13],
  "source-quench": [4],
  redirect: [5],
  "echo-request": [8],
  ping: [8],
  "router-advertisement": [9],
  "router-solicitation": [10],
  "time-exceeded": [11],
  "ttl-exceeded": [11],
  "ttl-zero-during-transit": [11, 0],
  "parameter-problem": [12],
  "timestamp-request": [13],
  "timestamp-reply": [14],
};

export const icmpModule: MatchModule<Icmp> = {
  name: "icmp",
  options: { "icmp-type": 1 },
  build(opts) {
    let m: Icmp = { kind: "icmp" };
    for (const o of opts) {
      const a = o.args[0] ?? "";
      const named = ICMP_TYPES[a];
      if (named) {
        m = { kind: "icmp", type: { v: { type: named[0], ...(named[1] !== undefined ? { code: named[1] } : {}), ...(a === "any" ? { name: "any" } : {}) }, neg: o.neg } };
        continue;
      }
      const mm = /^(\d+)(?:\/(\d+))?$/.exec(a);
      if (!mm || Number(mm[1]) > 255 || Number(mm[2] ?? 0) > 255) return `invalid ICMP type "${a}"`;
      m = { kind: "icmp", type: { v: { type: Number(mm[1]), ...(mm[2] !== undefined ? { code: Number(mm[2]) } : {}) }, neg: o.neg } };
    }
    return m;
  },
  save(m) {
    if (!m.type) return " -m icmp";
    const t = m.type.v;
    const v = t.name === "any" ? "any" : t.code !== undefined ? `${t.type}/${t.code}` : `${t.type}`;
    return ` -m icmp${bang(m.type.neg)} --icmp-type ${v}`;
  },
};

export const multiportModule: MatchModule<Multiport> = {
  name: "multiport",
  options: { sports: 1, "source-ports": 1, dports: 1, "destination-ports": 1, ports: 1 },
  build(opts) {
    const o = opts[0];
    if (!o || opts.length > 1) return "multiport needs exactly one of --sports, --dports or --ports";
    const ports: PortRange[] = [];
    for (const p of (o.args[0] ?? "").split(",")) {
      const r = parsePortRange(p);
      if (!r) return `invalid port "${p}" in multiport list`;
      ports.push(r);
    }
    if (ports.length > 15) return "multiport takes at most 15 ports";
    const dir = o.name.startsWith("s") ? "sports" : o.name === "ports" ? "ports" : "dports";
    return { kind: "multiport", dir, ports, neg: o.neg };
  },
  save(m) {
    return ` -m multiport${bang(m.neg)} --${m.dir} ${m.ports.map((p) => formatPortRange(p)).join(",")}`;
  },
};
