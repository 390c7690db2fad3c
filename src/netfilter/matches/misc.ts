/**
 * @module netfilter/matches/misc
 * The remaining match modules a Kubernetes node's dump contains: comment, statistic, addrtype,
 * recent, physdev, pkttype, iprange, limit, nfacct and set. Each save function prints what the
 * libxt_* extension's `save` prints (checked against the real iptables-save in
 * test/oracle/save-roundtrip.test.ts).
 */
import { formatIpv4, parseIpv4 } from "../../net/addr.js";
import type { Match, RecentMatch } from "../model.js";
import { parseUint, saveString } from "../text.js";
import { bang, type MatchModule } from "./module.js";

type M<K extends Match["kind"]> = Extract<Match, { kind: K }>;

export const commentModule: MatchModule<M<"comment">> = {
  name: "comment",
  options: { comment: 1 },
  build(opts) {
    const o = opts[0];
    if (!o) return "comment needs --comment";
    if (o.neg) return "comment cannot be negated";
    if ((o.args[0] ?? "").length > 255) return "comment is longer than 255 characters";
    return { kind: "comment", text: o.args[0] ?? "" };
  },
  save: (m) => ` -m comment --comment ${saveString(m.text)}`,
};

/** `statistic`: the kernel compares `prandom_u32() & 0x7fffffff` with lround(p·2^31). */
export const statisticModule: MatchModule<M<"statistic">> = {
  name: "statistic",
  options: { mode: 1, probability: 1, every: 1, packet: 1 },
  build(opts) {
    const get = (n: string): (typeof opts)[number] | undefined => opts.find((o) => o.name === n);
    const mode = get("mode")?.args[0];
    const neg = opts.some((o) => o.neg);
    if (mode === "random") {
      const p = Number(get("probability")?.args[0]);
      if (!(p >= 0 && p <= 1)) return `bad --probability "${get("probability")?.args[0] ?? ""}" (must be 0.0–1.0)`;
      return { kind: "statistic", mode: "random", probability: Math.round(p * 0x80000000) / 0x80000000, neg };
    }
    if (mode === "nth") {
      const every = parseUint(get("every")?.args[0] ?? "");
      const packet = parseUint(get("packet")?.args[0] ?? "0");
      if (!every || packet === undefined || packet >= every) return "statistic nth needs --every N (and --packet below N)";
      return { kind: "statistic", mode: "nth", every, packet, neg };
    }
    return `bad statistic --mode "${mode ?? ""}" (random or nth)`;
  },
  save(m) {
    if (m.mode === "random") {
      return ` -m statistic --mode random${bang(m.neg)} --probability ${m.probability.toFixed(11)}`;
    }
    return ` -m statistic --mode nth${bang(m.neg)} --every ${m.every} --packet ${m.packet}`;
  },
};

/** Route types addrtype knows, in the bit order it prints them. */
export const ADDR_TYPES = ["UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE"] as const;

function addrTypes(s: string): string[] | string {
  const want = s.split(",").map((x) => x.toUpperCase());
  const bad = want.find((w) => !(ADDR_TYPES as readonly string[]).includes(w));
  return bad === undefined ? ADDR_TYPES.filter((t) => want.includes(t)) : `bad address type "${bad}"`;
}

export const addrtypeModule: MatchModule<M<"addrtype">> = {
  name: "addrtype",
  options: { "src-type": 1, "dst-type": 1, "limit-iface-in": 0, "limit-iface-out": 0 },
  build(opts) {
    let m: M<"addrtype"> = { kind: "addrtype", limitIn: false, limitOut: false };
    for (const o of opts) {
      if (o.name === "limit-iface-in") m = { ...m, limitIn: true };
      else if (o.name === "limit-iface-out") m = { ...m, limitOut: true };
      else {
        const t = addrTypes(o.args[0] ?? "");
        if (typeof t === "string") return t;
        m = o.name === "src-type" ? { ...m, src: { v: t, neg: o.neg } } : { ...m, dst: { v: t, neg: o.neg } };
      }
    }
    if (m.limitIn && m.limitOut) return "addrtype: --limit-iface-in and --limit-iface-out are exclusive";
    return m;
  },
  save(m) {
    let s = " -m addrtype";
    if (m.src) s += `${bang(m.src.neg)} --src-type ${m.src.v.join(",")}`;
    if (m.dst) s += `${bang(m.dst.neg)} --dst-type ${m.dst.v.join(",")}`;
    if (m.limitIn) s += " --limit-iface-in";
    if (m.limitOut) s += " --limit-iface-out";
    return s;
  },
};

export const recentModule: MatchModule<RecentMatch> = {
  name: "recent",
  options: { set: 0, rcheck: 0, update: 0, remove: 0, seconds: 1, reap: 0, hitcount: 1, rttl: 0, name: 1, mask: 1, rsource: 0, rdest: 0 },
  build(opts) {
    let cmd: RecentMatch["cmd"] | undefined;
    let m: Omit<RecentMatch, "cmd"> = { kind: "recent", neg: false, name: "DEFAULT", reap: false, rttl: false, mask: 0xffffffff, side: "rsource" };
    for (const o of opts) {
      switch (o.name) {
        case "set":
        case "rcheck":
        case "update":
        case "remove":
          if (cmd) return "recent takes only one of --set, --rcheck, --update, --remove";
          cmd = o.name;
          m = { ...m, neg: o.neg };
          break;
        case "seconds":
        case "hitcount": {
          const n = parseUint(o.args[0] ?? "");
          if (n === undefined) return `bad --${o.name} "${o.args[0] ?? ""}"`;
          m = { ...m, [o.name]: n };
          break;
        }
        case "mask": {
          const a = parseIpv4(o.args[0] ?? "");
          if (!a.ok) return `bad --mask: ${a.error}`;
          m = { ...m, mask: a.value };
          break;
        }
        case "name":
          m = { ...m, name: o.args[0] ?? "" };
          break;
        default:
          m = o.name === "reap" ? { ...m, reap: true } : o.name === "rttl" ? { ...m, rttl: true } : { ...m, side: o.name as "rsource" | "rdest" };
      }
    }
    if (!cmd) return "recent needs one of --set, --rcheck, --update, --remove";
    if (m.reap && m.seconds === undefined) return "recent: --reap needs --seconds";
    return { ...m, cmd };
  },
  save(m) {
    let s = ` -m recent${bang(m.neg)} --${m.cmd}`;
    if (m.seconds !== undefined) s += ` --seconds ${m.seconds}`;
    if (m.reap) s += " --reap";
    if (m.hitcount !== undefined) s += ` --hitcount ${m.hitcount}`;
    if (m.rttl) s += " --rttl";
    return `${s} --name ${m.name} --mask ${formatIpv4(m.mask as never)} --${m.side}`;
  },
};

export const physdevModule: MatchModule<M<"physdev">> = {
  name: "physdev",
  options: { "physdev-in": 1, "physdev-out": 1, "physdev-is-in": 0, "physdev-is-out": 0, "physdev-is-bridged": 0 },
  build(opts) {
    let m: M<"physdev"> = { kind: "physdev" };
    for (const o of opts) {
      if (o.name === "physdev-in") m = { ...m, in: { v: o.args[0] ?? "", neg: o.neg } };
      else if (o.name === "physdev-out") m = { ...m, out: { v: o.args[0] ?? "", neg: o.neg } };
      else if (o.name === "physdev-is-in") m = { ...m, isIn: true, negIsIn: o.neg };
      else if (o.name === "physdev-is-out") m = { ...m, isOut: true, negIsOut: o.neg };
      else m = { ...m, isBridged: true, negIsBridged: o.neg };
    }
    return m;
  },
  save(m) {
    let s = " -m physdev";
    if (m.in) s += `${bang(m.in.neg)} --physdev-in ${m.in.v}`;
    if (m.out) s += `${bang(m.out.neg)} --physdev-out ${m.out.v}`;
    if (m.isIn) s += `${bang(m.negIsIn)} --physdev-is-in`;
    if (m.isOut) s += `${bang(m.negIsOut)} --physdev-is-out`;
    if (m.isBridged) s += `${bang(m.negIsBridged)} --physdev-is-bridged`;
    return s;
  },
};

export const pkttypeModule: MatchModule<M<"pkttype">> = {
  name: "pkttype",
  options: { "pkt-type": 1 },
  build(opts) {
    const o = opts[0];
    const t = (o?.args[0] ?? "").toLowerCase();
    if (!o || !["unicast", "broadcast", "multicast", "host", "otherhost", "outgoing", "loopback"].includes(t)) return `bad --pkt-type "${o?.args[0] ?? ""}"`;
    return { kind: "pkttype", type: t, neg: o.neg };
  },
  save: (m) => ` -m pkttype${bang(m.neg)} --pkt-type ${m.type}`,
};

export const iprangeModule: MatchModule<M<"iprange">> = {
  name: "iprange",
  options: { "src-range": 1, "dst-range": 1 },
  build(opts) {
    let m: M<"iprange"> = { kind: "iprange" };
    for (const o of opts) {
      const [a, b] = (o.args[0] ?? "").split("-");
      const from = parseIpv4(a ?? "");
      const to = parseIpv4(b ?? a ?? "");
      if (!from.ok || !to.ok) return `bad --${o.name} "${o.args[0] ?? ""}"`;
      const v = { v: { from: from.value, to: to.value }, neg: o.neg };
      m = o.name === "src-range" ? { ...m, src: v } : { ...m, dst: v };
    }
    return m;
  },
  save(m) {
    const r = (x: { from: number; to: number }): string => `${formatIpv4(x.from as never)}-${formatIpv4(x.to as never)}`;
    let s = " -m iprange";
    if (m.src) s += `${bang(m.src.neg)} --src-range ${r(m.src.v)}`;
    if (m.dst) s += `${bang(m.dst.neg)} --dst-range ${r(m.dst.v)}`;
    return s;
  },
};

const XT_LIMIT_SCALE = 10000;
const LIMIT_UNITS: ReadonlyArray<readonly [string, number]> = [
  ["day", XT_LIMIT_SCALE * 86400],
  ["hour", XT_LIMIT_SCALE * 3600],
  ["min", XT_LIMIT_SCALE * 60],
  ["sec", XT_LIMIT_SCALE],
];

/** libxt_limit's print_rate: the largest unit the period divides into well. */
function printRate(period: number): string {
  let i = 1;
  for (; i < LIMIT_UNITS.length; ++i) {
    const mult = (LIMIT_UNITS[i] as readonly [string, number])[1];
    if (period > mult || Math.floor(mult / period) < mult % period) break;
  }
  const [name, mult] = LIMIT_UNITS[i - 1] as readonly [string, number];
  return `${Math.floor(mult / period)}/${name}`;
}

export const limitModule: MatchModule<M<"limit">> = {
  name: "limit",
  options: { limit: 1, "limit-burst": 1 },
  build(opts) {
    let avg = Math.floor((XT_LIMIT_SCALE * 3600) / 3); // default 3/hour
    let burst = 5;
    for (const o of opts) {
      if (o.name === "limit") {
        const mm = /^(\d+)(?:\/(second|sec|s|minute|min|m|hour|h|day|d))?$/i.exec(o.args[0] ?? "");
        const r = Number(mm?.[1]);
        if (!mm || !r) return `bad --limit "${o.args[0] ?? ""}"`;
        const u = (mm[2] ?? "s").toLowerCase()[0];
        const mult = u === "d" ? 86400 : u === "h" ? 3600 : u === "m" ? 60 : 1;
        avg = Math.floor((XT_LIMIT_SCALE * mult) / r);
      } else {
        const b = parseUint(o.args[0] ?? "", 10000);
        if (b === undefined) return `bad --limit-burst "${o.args[0] ?? ""}"`;
        burst = b;
      }
    }
    return { kind: "limit", perSecond: XT_LIMIT_SCALE / avg, rateText: printRate(avg), burst };
  },
  save: (m) => ` -m limit --limit ${m.rateText}${m.burst !== 5 ? ` --limit-burst ${m.burst}` : ""}`,
};

export const nfacctModule: MatchModule<M<"nfacct">> = {
  name: "nfacct",
  options: { "nfacct-name": 1 },
  build(opts) {
    const n = opts[0]?.args[0];
    return n ? { kind: "nfacct", name: n } : "nfacct needs --nfacct-name";
  },
  // libxt_nfacct prints "--nfacct-name " and then the saved string with its own leading space,
  // so the real iptables-save has two spaces here (checked against iptables 1.8.9).
  save: (m) => ` -m nfacct --nfacct-name  ${saveString(m.name)}`,
};

export const setModule: MatchModule<M<"set">> = {
  name: "set",
  options: { "match-set": 2, "return-nomatch": 0, "update-counters": 0, "update-subcounters": 0, "packets-eq": 1, "packets-lt": 1, "packets-gt": 1, "bytes-eq": 1, "bytes-lt": 1, "bytes-gt": 1 },
  build(opts) {
    const ms = opts.find((o) => o.name === "match-set");
    if (!ms) return "set needs --match-set NAME src|dst[,…]";
    const flags = (ms.args[1] ?? "").split(",");
    if (flags.some((f) => f !== "src" && f !== "dst")) return `bad set flags "${ms.args[1] ?? ""}" (src or dst, comma-separated)`;
    const extra = opts.filter((o) => o !== ms).flatMap((o) => [`--${o.name}`, ...o.args]);
    return { kind: "set", name: ms.args[0] ?? "", flags: flags as ("src" | "dst")[], neg: ms.neg, extra };
  },
  save: (m) => ` -m set${bang(m.neg)} --match-set ${m.name} ${m.flags.join(",")}${m.extra.map((e) => ` ${e}`).join("")}`,
};
