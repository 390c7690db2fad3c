/**
 * @module kernel/ip-script
 * A small lab script in the real commands' own syntax, one per line, prefixed by the namespace
 * it runs in — the way a network engineer writes a namespace lab, and the form the kernel
 * conformance suite builds both in podwire and in real namespaces from:
 *
 *     ip netns add a
 *     a: ip link add v1 type veth peer name v2 netns b
 *     a: ip addr add 10.0.0.1/24 dev v1
 *     a: ip link set v1 up
 *     r: sysctl -w net.ipv4.ip_forward=1
 *     r: iptables-restore <<EOF
 *     *nat
 *     -A PREROUTING -d 10.0.0.100/32 -p tcp -j DNAT --to-destination 10.1.0.2
 *     COMMIT
 *     EOF
 *     b: listen tcp 0.0.0.0 80 label web
 *
 * Supported: `ip netns add`, `ip link add` (veth, bridge, vxlan), `ip link set`
 * (up/down/master/nomaster/address/mtu), `ip addr add`, `ip route add`, `ip neigh add|replace`,
 * `bridge fdb add|append`, `bridge link set … hairpin|learning`, `sysctl -w`, `iptables-restore`
 * (here-document) and podwire's `listen PROTO ADDR PORT [echo] [label NAME]` (a server).
 * Anything else is refused with its line number.
 */
import { parseIpv4, parseMac, type Ipv4, type Mac } from "../net/addr.js";
import { parseCidr, type Cidr } from "../net/cidr.js";
import type { Network } from "./network.js";
import type { RouteSpec } from "./netns.js";
import type { NudState, RouteType } from "./types.js";

/** One parsed script line. */
export interface ScriptLine {
  readonly line: number;
  /** The namespace it runs in (undefined for `ip netns add`). */
  readonly ns?: string;
  /** The command's words. */
  readonly argv: readonly string[];
  /** The here-document body, for iptables-restore. */
  readonly body?: string;
}

/** A script problem, with its 1-based line. */
export class ScriptError extends Error {
  override readonly name = "ScriptError";
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const NAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** Splits a script into lines (here-documents folded into their command). */
export function parseScript(text: string): ScriptLine[] {
  const out: ScriptLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).trim();
    if (raw === "" || raw.startsWith("#")) continue;
    const m = /^(?:([A-Za-z0-9_.-]+):\s+)?(.*)$/.exec(raw) as RegExpExecArray;
    const ns = m[1];
    let cmd = m[2] as string;
    let body: string | undefined;
    const first = i + 1;
    const here = /\s*<<\s*'?(\w+)'?\s*$/.exec(cmd);
    if (here) {
      cmd = cmd.slice(0, here.index);
      const end = here[1] as string;
      const start = i;
      const bodyLines: string[] = [];
      for (i++; i < lines.length && (lines[i] as string).trim() !== end; i++) bodyLines.push(lines[i] as string);
      if (i >= lines.length) throw new ScriptError(start + 1, `here-document not closed by ${end}`);
      body = bodyLines.join("\n") + "\n";
    }
    const argv = cmd.split(/\s+/).filter((w) => w !== "");
    if (ns !== undefined && !NAME.test(ns)) throw new ScriptError(first, `bad namespace name "${ns}"`);
    out.push({ line: first, ...(ns !== undefined ? { ns } : {}), argv, ...(body !== undefined ? { body } : {}) });
  }
  return out;
}

function ipv4Arg(l: ScriptLine, s: string | undefined, what: string): Ipv4 {
  const r = parseIpv4(s ?? "");
  if (!r.ok) throw new ScriptError(l.line, `${what}: ${r.error}`);
  return r.value;
}

function macArg(l: ScriptLine, s: string | undefined): Mac {
  const r = parseMac(s ?? "");
  if (!r.ok) throw new ScriptError(l.line, r.error);
  return r.value;
}

function prefixArg(l: ScriptLine, s: string | undefined): Cidr {
  if (s === "default") return { addr: 0 as Ipv4, len: 0 };
  const withLen = s !== undefined && !s.includes("/") ? `${s}/32` : (s ?? "");
  const r = parseCidr(withLen);
  if (!r.ok) throw new ScriptError(l.line, r.error);
  return r.value;
}

function intArg(l: ScriptLine, s: string | undefined, what: string): number {
  const n = Number(s);
  if (s === undefined || !Number.isInteger(n) || n < 0) throw new ScriptError(l.line, `${what} must be a non-negative integer, got "${s ?? ""}"`);
  return n;
}

/** Options keyed by word: `{ via: "1.2.3.4", dev: "eth0" }` from `via 1.2.3.4 dev eth0`; flags map to "". */
function options(l: ScriptLine, words: readonly string[], withValue: readonly string[], flags: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (flags.includes(w)) m.set(w, "");
    else if (withValue.includes(w)) {
      const v = words[++i];
      if (v === undefined) throw new ScriptError(l.line, `"${w}" needs a value`);
      m.set(w, v);
    } else throw new ScriptError(l.line, `unknown word "${w}" (expected one of: ${[...withValue, ...flags].join(", ")})`);
  }
  return m;
}

/** Runs a parsed script against a network; throws ScriptError naming the line on any failure. */
export function applyScript(net: Network, script: readonly ScriptLine[] | string): void {
  const lines = typeof script === "string" ? parseScript(script) : script;
  for (const l of lines) {
    try {
      applyLine(net, l);
    } catch (e) {
      if (e instanceof ScriptError) throw e;
      throw new ScriptError(l.line, (e as Error).message);
    }
  }
}

function applyLine(net: Network, l: ScriptLine): void {
  const [cmd, ...rest] = l.argv;
  if (l.ns === undefined) {
    if (cmd === "ip" && rest[0] === "netns" && rest[1] === "add" && rest[2] !== undefined && NAME.test(rest[2])) {
      net.netnsAdd(rest[2]);
      return;
    }
    throw new ScriptError(l.line, `expected "NS: command" or "ip netns add NAME"`);
  }
  const ns = net.ns(l.ns);
  switch (cmd) {
    case "ip":
      return ipCommand(net, l, rest);
    case "bridge": {
      const [obj, verb, ...w] = rest;
      if (obj === "fdb" && (verb === "append" || verb === "add")) {
        const mac = macArg(l, w[0]);
        const o = options(l, w.slice(1), ["dev", "dst"], ["self", "permanent", "master", "static"]);
        const dev = o.get("dev");
        if (dev === undefined) throw new ScriptError(l.line, `bridge fdb needs "dev"`);
        const dst = o.get("dst");
        ns.bridgeFdbAppend(mac, dev, dst !== undefined ? ipv4Arg(l, dst, "dst") : undefined);
        return;
      }
      if (obj === "link" && verb === "set") {
        const o = options(l, w, ["dev", "hairpin", "learning"], []);
        const dev = o.get("dev");
        if (dev === undefined) throw new ScriptError(l.line, `bridge link set needs "dev"`);
        const onOff = (k: string): boolean | undefined => (o.has(k) ? o.get(k) === "on" : undefined);
        const hairpin = onOff("hairpin");
        const learning = onOff("learning");
        ns.bridgeLinkSet(dev, { ...(hairpin !== undefined ? { hairpin } : {}), ...(learning !== undefined ? { learning } : {}) });
        return;
      }
      throw new ScriptError(l.line, `unsupported bridge command "${rest.join(" ")}"`);
    }
    case "sysctl": {
      const kv = rest[0] === "-w" || rest[0] === "-qw" ? rest[1] : rest[0];
      const m = /^([^=]+)=(.*)$/.exec(kv ?? "");
      if (!m) throw new ScriptError(l.line, `expected sysctl -w KEY=VALUE`);
      ns.sysctlSet(m[1] as string, m[2] as string);
      return;
    }
    case "iptables-restore":
      if (l.body === undefined) throw new ScriptError(l.line, `iptables-restore needs a here-document (iptables-restore <<EOF … EOF)`);
      ns.iptablesRestore(l.body, { noflush: rest.includes("--noflush") || rest.includes("-n") });
      return;
    case "listen": {
      const [proto, addr, port, ...w] = rest;
      if (proto !== "tcp" && proto !== "udp") throw new ScriptError(l.line, `listen needs tcp or udp, got "${proto ?? ""}"`);
      const o = options(l, w, ["label"], ["echo"]);
      const label = o.get("label");
      ns.listen(proto, ipv4Arg(l, addr, "listen address"), intArg(l, port, "port"), { reply: o.has("echo") || proto === "udp" ? "echo" : "none", label: label ?? l.ns });
      return;
    }
    default:
      throw new ScriptError(l.line, `unsupported command "${cmd ?? ""}"`);
  }
}

function ipCommand(net: Network, l: ScriptLine, w: readonly string[]): void {
  const ns = net.ns(l.ns as string);
  const [obj, verb, ...a] = w;
  if (obj === "link" && verb === "add") {
    const name = a[0];
    if (name === undefined || !NAME.test(name)) throw new ScriptError(l.line, `bad link name "${name ?? ""}"`);
    const ti = a.indexOf("type");
    const type = a[ti + 1];
    const o = a.slice(ti + 2);
    if (type === "veth") {
      if (o[0] !== "peer" || o[1] !== "name") throw new ScriptError(l.line, `veth needs "peer name NAME"`);
      const opt = options(l, o.slice(3), ["netns"], []);
      const peer = o[2];
      if (peer === undefined || !NAME.test(peer)) throw new ScriptError(l.line, `veth needs "peer name NAME"`);
      const peerNs = opt.get("netns");
      ns.linkAdd({ kind: "veth", name, peer, ...(peerNs !== undefined ? { peerNs } : {}) });
      return;
    }
    if (type === "bridge") {
      ns.linkAdd({ kind: "bridge", name });
      return;
    }
    if (type === "vxlan") {
      const opt = options(l, o, ["id", "local", "dev", "dstport"], ["nolearning", "learning"]);
      const local = opt.get("local");
      const dev = opt.get("dev");
      ns.linkAdd({
        kind: "vxlan",
        name,
        vni: intArg(l, opt.get("id"), "id"),
        ...(local !== undefined ? { local: ipv4Arg(l, local, "local") } : {}),
        ...(dev !== undefined ? { dev } : {}),
        dstport: opt.has("dstport") ? intArg(l, opt.get("dstport"), "dstport") : 8472,
        learning: !opt.has("nolearning"),
      });
      return;
    }
    throw new ScriptError(l.line, `unsupported link type "${type ?? ""}" (veth, bridge, vxlan)`);
  }
  if (obj === "link" && verb === "set") {
    const words = a[0] === "dev" ? a.slice(1) : a;
    const name = words[0] as string;
    for (let i = 1; i < words.length; i++) {
      const word = words[i];
      if (word === "up") ns.linkSetUp(name);
      else if (word === "down") ns.linkSetDown(name);
      else if (word === "nomaster") ns.linkSetNomaster(name);
      else if (word === "master") ns.linkSetMaster(name, words[++i] ?? "");
      else if (word === "address") ns.linkSetAddress(name, macArg(l, words[++i]));
      else if (word === "mtu") ns.linkSetMtu(name, intArg(l, words[++i], "mtu"));
      else throw new ScriptError(l.line, `unsupported "ip link set" word "${word ?? ""}"`);
    }
    return;
  }
  if ((obj === "addr" || obj === "address") && verb === "add") {
    const opt = options(l, a.slice(1), ["dev", "brd", "broadcast", "scope"], []);
    const dev = opt.get("dev");
    if (dev === undefined) throw new ScriptError(l.line, `ip addr add needs "dev"`);
    const brd = opt.get("brd") ?? opt.get("broadcast");
    const scope = opt.get("scope");
    if (scope !== undefined && scope !== "global" && scope !== "link" && scope !== "host") throw new ScriptError(l.line, `scope must be global, link or host`);
    ns.addrAdd(dev, a[0] ?? "", { ...(brd === "+" ? { brd: "+" as const } : brd !== undefined ? { brd: ipv4Arg(l, brd, "brd") } : {}), ...(scope !== undefined ? { scope } : {}) });
    return;
  }
  if (obj === "route" && verb === "add") {
    const types: readonly string[] = ["blackhole", "unreachable", "prohibit", "unicast"];
    const type = types.includes(a[0] ?? "") ? (a[0] as RouteType) : undefined;
    const rest = type ? a.slice(1) : a;
    const dst = prefixArg(l, rest[0]);
    const opt = options(l, rest.slice(1), ["via", "dev", "src", "metric", "scope", "proto"], ["onlink"]);
    const via = opt.get("via");
    const dev = opt.get("dev");
    const src = opt.get("src");
    const scope = opt.get("scope");
    const spec: RouteSpec = {
      dst,
      ...(type ? { type } : {}),
      ...(via !== undefined ? { via: ipv4Arg(l, via, "via") } : {}),
      ...(dev !== undefined ? { dev } : {}),
      ...(src !== undefined ? { src: ipv4Arg(l, src, "src") } : {}),
      ...(opt.has("metric") ? { metric: intArg(l, opt.get("metric"), "metric") } : {}),
      ...(scope === "link" || scope === "host" || scope === "global" ? { scope } : {}),
      onlink: opt.has("onlink"),
    };
    ns.routeAdd(spec);
    return;
  }
  if (obj === "neigh" && (verb === "add" || verb === "replace")) {
    const ipAddr = ipv4Arg(l, a[0], "neighbour");
    const opt = options(l, a.slice(1), ["lladdr", "dev", "nud"], []);
    const dev = opt.get("dev");
    if (dev === undefined) throw new ScriptError(l.line, `ip neigh needs "dev"`);
    const nud = (opt.get("nud") ?? "permanent").toUpperCase() as NudState;
    ns.neighReplace(dev, ipAddr, macArg(l, opt.get("lladdr")), nud);
    return;
  }
  throw new ScriptError(l.line, `unsupported ip command "ip ${w.join(" ")}"`);
}
