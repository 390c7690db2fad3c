/**
 * @module netfilter/matches/ct
 * `conntrack` and its alias `state` (libxt_conntrack), and `mark`/`connmark` (libxt_mark,
 * libxt_connmark). The save order of conntrack options is libxt_conntrack's `conntrack_dump`:
 * ctstate, ctproto, ctorigsrc, ctorigdst, ctreplsrc, ctrepldst, the four ports, ctstatus,
 * ctexpire, ctdir — whatever order the rule was written in.
 */
import { formatIpv4, parseIpv4, type Ipv4 } from "../../net/addr.js";
import { parseCidrLoose } from "../../net/cidr.js";
import type { CtState, CtTest, Match } from "../model.js";
import { formatPortRange, hex, parseMarkMask, parsePortRange, parseUint } from "../text.js";
import { bang, type MatchModule } from "./module.js";

type Conntrack = Extract<Match, { kind: "conntrack" }>;
type MarkLike = Extract<Match, { kind: "mark" | "connmark" }>;

/** print_state order. */
const STATE_ORDER: readonly CtState[] = ["INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT"];
/** print_status order. */
const STATUS_ORDER = ["EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED"] as const;
const KEY_ORDER: readonly CtTest["key"][] = [
  "ctstate",
  "ctproto",
  "ctorigsrc",
  "ctorigdst",
  "ctreplsrc",
  "ctrepldst",
  "ctorigsrcport",
  "ctorigdstport",
  "ctreplsrcport",
  "ctrepldstport",
  "ctstatus",
  "ctexpire",
  "ctdir",
];
const PROTO_NUMS: Readonly<Record<string, number>> = { tcp: 6, udp: 17, icmp: 1, sctp: 132, all: 0 };

function parseStates(s: string, allowNat: boolean): CtState[] | string {
  const out = new Set<CtState>();
  for (const part of s.split(",")) {
    const up = part.toUpperCase() as CtState;
    if (!STATE_ORDER.includes(up) || (!allowNat && (up === "SNAT" || up === "DNAT"))) {
      return `bad state "${part}"`;
    }
    out.add(up);
  }
  return STATE_ORDER.filter((st) => out.has(st));
}

function buildTest(name: string, arg: string, neg: boolean): CtTest | string {
  switch (name) {
    case "state":
    case "ctstate": {
      const states = parseStates(arg, name === "ctstate");
      return typeof states === "string" ? states : { key: "ctstate", states, neg };
    }
    case "ctproto": {
      const proto = PROTO_NUMS[arg.toLowerCase()] ?? parseUint(arg, 255);
      return proto === undefined ? `bad --ctproto "${arg}"` : { key: "ctproto", proto, neg };
    }
    case "ctorigsrc":
    case "ctorigdst":
    case "ctreplsrc":
    case "ctrepldst": {
      const c = parseCidrLoose(arg);
      if (!c.ok) return `bad --${name}: ${c.error}`;
      const a = parseIpv4(arg.split("/")[0] ?? "");
      return { key: name, addr: a.ok ? a.value : c.value.addr, len: c.value.len, neg };
    }
    case "ctorigsrcport":
    case "ctorigdstport":
    case "ctreplsrcport":
    case "ctrepldstport": {
      const r = parsePortRange(arg);
      return r ? { key: name, range: r, neg } : `bad --${name} "${arg}"`;
    }
    case "ctstatus": {
      const status: string[] = [];
      for (const s of arg.split(",")) {
        const up = s.toUpperCase();
        if (!(STATUS_ORDER as readonly string[]).includes(up) && up !== "NONE") return `bad --ctstatus "${s}"`;
        status.push(up);
      }
      return { key: "ctstatus", status: STATUS_ORDER.filter((s) => status.includes(s)), neg };
    }
    case "ctexpire": {
      const r = parsePortRange(arg);
      return r ? { key: "ctexpire", range: r, neg } : `bad --ctexpire "${arg}"`;
    }
    case "ctdir": {
      const up = arg.toUpperCase();
      return up === "ORIGINAL" || up === "REPLY" ? { key: "ctdir", dir: up } : `bad --ctdir "${arg}"`;
    }
    default:
      return `unknown conntrack option --${name}`;
  }
}

function saveTest(t: CtTest): string {
  switch (t.key) {
    case "ctstate":
      return `${bang(t.neg)} --ctstate ${t.states.join(",")}`;
    case "ctproto":
      return `${bang(t.neg)} --ctproto ${t.proto}`;
    case "ctorigsrc":
    case "ctorigdst":
    case "ctreplsrc":
    case "ctrepldst":
      return `${bang(t.neg)} --${t.key} ${formatIpv4(t.addr as Ipv4)}${t.len === 32 ? "" : `/${t.len}`}`;
    case "ctorigsrcport":
    case "ctorigdstport":
    case "ctreplsrcport":
    case "ctrepldstport":
      return `${bang(t.neg)} --${t.key} ${formatPortRange(t.range)}`;
    case "ctstatus":
      return `${bang(t.neg)} --ctstatus ${t.status.length === 0 ? "NONE" : t.status.join(",")}`;
    case "ctexpire":
      return `${bang(t.neg)} --ctexpire ${formatPortRange(t.range)}`;
    case "ctdir":
      return ` --ctdir ${t.dir}`;
  }
}

function ctModule(alias: "conntrack" | "state"): MatchModule<Conntrack> {
  const options: Record<string, number> =
    alias === "state"
      ? { state: 1 }
      : Object.fromEntries(KEY_ORDER.map((k) => [k, 1] as const));
  return {
    name: alias,
    options,
    build(opts) {
      const tests: CtTest[] = [];
      for (const o of opts) {
        const t = buildTest(o.name, o.args[0] ?? "", o.neg);
        if (typeof t === "string") return t;
        tests.push(t);
      }
      tests.sort((a, b) => KEY_ORDER.indexOf(a.key) - KEY_ORDER.indexOf(b.key));
      return { kind: "conntrack", alias, tests };
    },
    save(m) {
      if (m.alias === "state") {
        const t = m.tests[0];
        return t?.key === "ctstate" ? ` -m state${bang(t.neg)} --state ${t.states.join(",")}` : " -m state";
      }
      return ` -m conntrack${m.tests.map(saveTest).join("")}`;
    },
  };
}

export const conntrackModule = ctModule("conntrack");
export const stateModule = ctModule("state");

function markModule(kind: "mark" | "connmark"): MatchModule<MarkLike> {
  return {
    name: kind,
    options: { mark: 1 },
    build(opts) {
      const o = opts[0];
      const mm = parseMarkMask(o?.args[0] ?? "");
      if (!o || !mm) return `bad --mark "${o?.args[0] ?? ""}"`;
      return { kind, value: mm.value, mask: mm.mask ?? 0xffffffff, neg: o.neg };
    },
    save(m) {
      const mask = m.mask === 0xffffffff ? "" : `/${hex(m.mask)}`;
      return ` -m ${kind}${bang(m.neg)} --mark ${hex(m.value)}${mask}`;
    },
  };
}

export const markMatchModule = markModule("mark");
export const connmarkMatchModule = markModule("connmark");
