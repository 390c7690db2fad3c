/**
 * @module netfilter/targets
 * Parsing and iptables-save printing of targets: the verdicts, jumps and gotos, REJECT, DNAT,
 * SNAT, MASQUERADE, REDIRECT, MARK, CONNMARK, LOG, NFLOG, TRACE and CT. MARK and CONNMARK
 * `--set-mark/--or-mark/--and-mark/--xor-mark` are normalised to `--set-xmark value/mask` as the
 * kernel stores them (libxt_MARK: `mark = (mark & ~mask) ^ value`).
 * @see man 8 iptables-extensions (TARGET EXTENSIONS)
 */
import { formatIpv4, parseIpv4 } from "../net/addr.js";
import type { NatRange, PortRange, Target } from "./model.js";
import type { GivenOption } from "./matches/module.js";
import { formatPortRange, hex, parseMarkMask, parsePortRange, parseUint, saveString } from "./text.js";

const VERDICTS = new Set(["ACCEPT", "DROP", "RETURN", "QUEUE", "TRACE"]);

/** Options (→ arity) each known target takes. */
export const TARGET_OPTIONS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  REJECT: { "reject-with": 1 },
  DNAT: { "to-destination": 1, random: 0, persistent: 0 },
  SNAT: { "to-source": 1, random: 0, "random-fully": 0, persistent: 0 },
  MASQUERADE: { "to-ports": 1, random: 0, "random-fully": 0 },
  REDIRECT: { "to-ports": 1, random: 0 },
  MARK: { "set-mark": 1, "set-xmark": 1, "or-mark": 1, "and-mark": 1, "xor-mark": 1 },
  CONNMARK: { "set-mark": 1, "set-xmark": 1, "or-mark": 1, "and-mark": 1, "xor-mark": 1, "save-mark": 0, "restore-mark": 0, mask: 1, nfmask: 1, ctmask: 1 },
  LOG: { "log-prefix": 1, "log-level": 1, "log-tcp-sequence": 0, "log-tcp-options": 0, "log-ip-options": 0, "log-uid": 0, "log-macdecode": 0 },
  NFLOG: { "nflog-group": 1, "nflog-prefix": 1, "nflog-range": 1, "nflog-size": 1, "nflog-threshold": 1 },
  CT: { notrack: 0, zone: 1, helper: 1, ctevents: 1, expevents: 1, timeout: 1 },
};

const REJECT_WITH: Readonly<Record<string, string>> = {
  "icmp-net-unreachable": "icmp-net-unreachable",
  "net-unreach": "icmp-net-unreachable",
  "icmp-host-unreachable": "icmp-host-unreachable",
  "host-unreach": "icmp-host-unreachable",
  "icmp-port-unreachable": "icmp-port-unreachable",
  "port-unreach": "icmp-port-unreachable",
  "icmp-proto-unreachable": "icmp-proto-unreachable",
  "proto-unreach": "icmp-proto-unreachable",
  "icmp-net-prohibited": "icmp-net-prohibited",
  "net-prohib": "icmp-net-prohibited",
  "icmp-host-prohibited": "icmp-host-prohibited",
  "host-prohib": "icmp-host-prohibited",
  "icmp-admin-prohibited": "icmp-admin-prohibited",
  "admin-prohib": "icmp-admin-prohibited",
  "tcp-reset": "tcp-reset",
  "tcp-rst": "tcp-reset",
};

const LOG_LEVELS: Readonly<Record<string, number>> = { emerg: 0, alert: 1, crit: 2, error: 3, err: 3, warning: 4, warn: 4, notice: 5, info: 6, debug: 7 };
const LOG_FLAGS = ["log-tcp-sequence", "log-tcp-options", "log-ip-options", "log-uid", "log-macdecode"];

/** `a.b.c.d[-e.f.g.h][:port[-port]]`, as DNAT/SNAT take it. */
function parseNatRange(s: string, needProto: boolean): NatRange | string {
  const colon = s.indexOf(":");
  const addrPart = colon < 0 ? s : s.slice(0, colon);
  const [a, b, extra] = addrPart.split("-");
  const from = parseIpv4(a ?? "");
  const to = parseIpv4(b ?? a ?? "");
  if (!from.ok || !to.ok || extra !== undefined) {
    return `bad NAT address range "${addrPart}"`;
  }
  if (colon < 0) {
    return { from: from.value, to: to.value };
  }
  if (!needProto) {
    return "Need TCP, UDP, SCTP or DCCP with port specification";
  }
  const ports = parsePortRange(s.slice(colon + 1), "-");
  return ports ? { from: from.value, to: to.value, ports } : `bad NAT port range "${s.slice(colon + 1)}"`;
}

function formatNatRange(r: NatRange): string {
  const a = r.from === r.to ? formatIpv4(r.from as never) : `${formatIpv4(r.from as never)}-${formatIpv4(r.to as never)}`;
  return r.ports ? `${a}:${formatPortRange(r.ports, "-")}` : a;
}

function markOp(o: GivenOption): { value: number; mask: number } | string {
  const mm = parseMarkMask(o.args[0] ?? "");
  if (!mm) return `bad --${o.name} "${o.args[0] ?? ""}"`;
  switch (o.name) {
    case "set-xmark":
      return { value: mm.value, mask: mm.mask ?? 0xffffffff };
    case "set-mark":
      return { value: mm.value, mask: (mm.mask ?? 0xffffffff) | mm.value };
    case "or-mark":
      return { value: mm.value, mask: mm.value };
    case "and-mark":
      return { value: 0, mask: ~mm.value >>> 0 };
    default:
      return { value: mm.value, mask: 0 };
  }
}

/**
 * Builds a target from `-j NAME` and its options. `chains` tells a jump to a user chain from an
 * unknown target name. `proto` is the rule's protocol number (port specs need TCP/UDP/SCTP/DCCP).
 */
export function buildTarget(name: string, opts: readonly GivenOption[], goto: boolean, isChain: boolean, proto: number): Target | string {
  if (goto || (isChain && !VERDICTS.has(name))) {
    return opts.length > 0 ? `unknown option "--${opts[0]?.name ?? ""}" for jump to chain ${name}` : { kind: goto ? "GOTO" : "JUMP", chain: name };
  }
  const has = (n: string): boolean => opts.some((o) => o.name === n);
  const arg = (n: string): string | undefined => opts.find((o) => o.name === n)?.args[0];
  const portProto = proto === 6 || proto === 17 || proto === 132 || proto === 33;
  switch (name) {
    case "ACCEPT":
    case "DROP":
    case "RETURN":
    case "QUEUE":
    case "TRACE":
      return { kind: name };
    case "REJECT": {
      const w = REJECT_WITH[arg("reject-with") ?? "icmp-port-unreachable"];
      if (!w) return `bad --reject-with "${arg("reject-with") ?? ""}"`;
      if (w === "tcp-reset" && proto !== 6) return "REJECT --reject-with tcp-reset needs -p tcp";
      return { kind: "REJECT", with: w };
    }
    case "DNAT":
    case "SNAT": {
      const spec = arg(name === "DNAT" ? "to-destination" : "to-source");
      if (!spec) return `${name} needs --${name === "DNAT" ? "to-destination" : "to-source"}`;
      const r = parseNatRange(spec, portProto);
      if (typeof r === "string") return r;
      return { kind: name, ranges: [r], random: has("random"), randomFully: has("random-fully"), persistent: has("persistent") };
    }
    case "MASQUERADE":
    case "REDIRECT": {
      const p = arg("to-ports");
      let ports: PortRange | undefined;
      if (p !== undefined) {
        if (!portProto) return "Need TCP, UDP, SCTP or DCCP with port specification";
        ports = parsePortRange(p, "-");
        if (!ports) return `bad --to-ports "${p}"`;
      }
      return { kind: name, ...(ports ? { ports } : {}), random: has("random"), randomFully: has("random-fully") };
    }
    case "MARK": {
      const o = opts[0];
      if (!o || opts.length > 1) return "MARK needs exactly one of --set-xmark, --set-mark, --or-mark, --and-mark, --xor-mark";
      const m = markOp(o);
      return typeof m === "string" ? m : { kind: "MARK", ...m };
    }
    case "CONNMARK":
      return buildConnmark(opts);
    case "LOG": {
      const lvl = arg("log-level");
      if (lvl !== undefined && LOG_LEVELS[lvl] === undefined && parseUint(lvl, 7) === undefined) return `bad --log-level "${lvl}"`;
      return { kind: "LOG", args: opts.flatMap((o) => [`--${o.name}`, ...o.args]) };
    }
    case "NFLOG":
      return { kind: "NFLOG", args: opts.flatMap((o) => [`--${o.name}`, ...o.args]) };
    case "CT":
      return { kind: "CT", notrack: has("notrack"), args: opts.flatMap((o) => [`--${o.name}`, ...o.args]) };
    default:
      return { kind: "unknown", name, args: opts.flatMap((o) => [...(o.neg ? ["!"] : []), `--${o.name}`, ...o.args]) };
  }
}

function buildConnmark(opts: readonly GivenOption[]): Target | string {
  const mode = opts.find((o) => o.name === "save-mark" || o.name === "restore-mark");
  const num = (n: string): number | undefined => {
    const a = opts.find((o) => o.name === n)?.args[0];
    return a === undefined ? undefined : parseUint(a);
  };
  if (mode) {
    const mask = num("mask") ?? 0xffffffff;
    return { kind: "CONNMARK", mode: mode.name === "save-mark" ? "save" : "restore", nfmask: num("nfmask") ?? mask, ctmask: num("ctmask") ?? mask };
  }
  const o = opts[0];
  if (!o) return "CONNMARK needs --set-xmark, --set-mark, --save-mark or --restore-mark";
  const m = markOp(o);
  return typeof m === "string" ? m : { kind: "CONNMARK", mode: "set", ...m };
}

function logArgs(args: readonly string[]): string {
  const prefix = args[args.indexOf("--log-prefix") + 1];
  const lvlText = args.includes("--log-level") ? (args[args.indexOf("--log-level") + 1] ?? "4") : "4";
  const level = LOG_LEVELS[lvlText] ?? Number(lvlText);
  let s = args.includes("--log-prefix") && prefix !== undefined ? ` --log-prefix ${saveString(prefix)}` : "";
  if (level !== 4) s += ` --log-level ${level}`;
  for (const f of LOG_FLAGS) {
    if (args.includes(`--${f}`)) s += ` --${f}`;
  }
  return s;
}

function nflogArgs(args: readonly string[]): string {
  const get = (n: string): string | undefined => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : undefined);
  let s = "";
  const prefix = get("nflog-prefix");
  if (prefix !== undefined) s += ` --nflog-prefix ${saveString(prefix)}`;
  const group = get("nflog-group");
  if (group !== undefined && Number(group) !== 0) s += ` --nflog-group ${Number(group)}`;
  const size = get("nflog-size") ?? get("nflog-range");
  if (size !== undefined) s += ` --nflog-size ${Number(size)}`;
  const thr = get("nflog-threshold");
  if (thr !== undefined && Number(thr) !== 1) s += ` --nflog-threshold ${Number(thr)}`;
  return s;
}

/** The text iptables-save prints for a target, starting with ` -j` or ` -g`. */
export function saveTarget(t: Target): string {
  switch (t.kind) {
    case "ACCEPT":
    case "DROP":
    case "RETURN":
    case "QUEUE":
    case "TRACE":
      return ` -j ${t.kind}`;
    case "JUMP":
      return ` -j ${t.chain}`;
    case "GOTO":
      return ` -g ${t.chain}`;
    case "REJECT":
      return ` -j REJECT --reject-with ${t.with}`;
    case "DNAT":
    case "SNAT": {
      const opt = t.kind === "DNAT" ? "--to-destination" : "--to-source";
      let s = ` -j ${t.kind}${t.ranges.map((r) => ` ${opt} ${formatNatRange(r)}`).join("")}`;
      if (t.random) s += " --random";
      if (t.randomFully) s += " --random-fully";
      if (t.persistent) s += " --persistent";
      return s;
    }
    case "MASQUERADE":
    case "REDIRECT": {
      let s = ` -j ${t.kind}`;
      if (t.ports) s += ` --to-ports ${formatPortRange(t.ports, "-")}`;
      if (t.random) s += " --random";
      if (t.randomFully) s += " --random-fully";
      return s;
    }
    case "MARK":
      return ` -j MARK --set-xmark ${hex(t.value)}/${hex(t.mask)}`;
    case "CONNMARK":
      return t.mode === "set"
        ? ` -j CONNMARK --set-xmark ${hex(t.value)}/${hex(t.mask)}`
        : ` -j CONNMARK --${t.mode}-mark --nfmask ${hex(t.nfmask)} --ctmask ${hex(t.ctmask)}`;
    case "LOG":
      return ` -j LOG${logArgs(t.args)}`;
    case "NFLOG":
      return ` -j NFLOG${nflogArgs(t.args)}`;
    case "CT":
      return ` -j CT${t.notrack ? " --notrack" : t.args.map((a) => ` ${a}`).join("")}`;
    case "unknown":
      return ` -j ${t.name}${t.args.map((a) => ` ${a}`).join("")}`;
  }
}
