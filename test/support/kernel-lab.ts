/**
 * The kernel conformance harness: one lab script (src/kernel/ip-script.ts syntax) built both in
 * podwire and in real namespaces, the same probes sent in both, and the outcomes reduced to what
 * can be observed from the outside — did the client get an answer, which error, who answered,
 * which source address the server saw, and the TTL of a ping reply.
 *
 * Real side: every namespace is made by `Netns` under this test's prefix, with IPv6 disabled (the
 * emulator models IPv4 only); servers and clients are short Node scripts run with
 * `ip netns exec`, each bounded in time; traffic only flows between these namespaces.
 */
import { spawnSync, type ChildProcess } from "node:child_process";
import { runProbeClient, startProbeServer } from "../../src/materialize/probe-processes.js";
import { formatIpv4, ip } from "../../src/net/addr.js";
import type { IcmpMessage } from "../../src/net/headers/types.js";
import type { KernelEvent } from "../../src/kernel/events.js";
import { parseScript } from "../../src/kernel/ip-script.js";
import type { Network } from "../../src/kernel/network.js";
import type { Netns } from "./netns.js";

/** One probe: a client in `from` talks to `dst`. */
export interface Probe {
  readonly from: string;
  readonly proto: "tcp" | "udp" | "icmp";
  readonly dst: string;
  readonly port?: number;
  /** ping payload size (`ping -s`). */
  readonly size?: number;
  /** `ping -M do`. */
  readonly df?: boolean;
  /** `ping -t`. */
  readonly ttl?: number;
  /** How long the real client waits (ms); default 1500. */
  readonly timeoutMs?: number;
  /** Wait this long first (real sleep; virtual time in the emulator), e.g. to refill ICMP rate limits. */
  readonly waitMs?: number;
}

/** What the client and server observed. */
export interface Outcome {
  /** "connected"/"reply", an errno (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EACCES, EMSGSIZE), "icmp …" or "timeout". */
  readonly result: string;
  /** The server that answered (its label), or the address an ICMP message came from. */
  readonly from?: string;
  /** The source address the server saw. */
  readonly seenSrc?: string;
  /** TTL of the ping reply as received. */
  readonly ttl?: number;
  /** For a silent drop: the namespace and the kernel counter that recorded it (`r: InAddrErrors`). */
  readonly droppedAt?: string;
}

/** Drop reasons the kernel counts in /proc/net/snmp or /proc/net/netstat, by counter name. */
const DROP_COUNTER: Partial<Record<string, string>> = { "forwarding-disabled": "InAddrErrors", "rp-filter": "IPReversePathFilter" };
const COUNTERS = ["InAddrErrors", "InHdrErrors", "InDiscards", "OutNoRoutes", "InNoRoutes", "IPReversePathFilter"];

const ERRNO_OF_UNREACH: Record<number, string> = { 0: "ENETUNREACH", 1: "EHOSTUNREACH", 2: "ENOPROTOOPT", 3: "ECONNREFUSED", 9: "ENETUNREACH", 10: "EHOSTUNREACH", 13: "EACCES" };
const PING_TEXT: Record<number, string> = { 0: "Destination Net Unreachable", 1: "Destination Host Unreachable", 3: "Destination Port Unreachable", 13: "Packet filtered" };

/** Sends the probe in the emulator and reads the outcome from the events. */
export function emuProbe(net: Network, p: Probe): Outcome {
  if (p.waitMs !== undefined) net.clock.advance(p.waitMs);
  const sport = p.proto === "icmp" ? 4242 : 40000 + Math.floor(net.rng.next() * 10000);
  net.send(p.from, { proto: p.proto, dst: ip(p.dst), sport, dport: p.proto === "icmp" ? sport : (p.port ?? 0) }, { ...(p.size !== undefined ? { payloadBytes: p.size } : {}), ...(p.df !== undefined ? { df: p.df } : {}), ...(p.ttl !== undefined ? { ttl: p.ttl } : {}) });
  const t0 = net.clock.now();
  const events = net.drain();
  const o = outcomeOf(p, events, t0);
  // The real client waits out its timeout; time passes for rate limits and timers.
  net.clock.advance(o.result === "timeout" ? (p.timeoutMs ?? 1500) : 10);
  return o;
}

/** Reduces emulator events to the outcome a client would observe. */
export function outcomeOf(p: Probe, all: readonly KernelEvent[], t0 = 0): Outcome {
  // What happens after the client gave up is not seen by it.
  const events = all.filter((e) => e.t - t0 <= (p.timeoutMs ?? 1500));
  const server = events.find((e): e is Extract<KernelEvent, { kind: "deliver" }> => e.kind === "deliver" && e.to === "socket" && e.socket !== undefined && e.socket !== "the connecting socket");
  const seen = server ? { from: server.socket as string, seenSrc: formatIpv4(server.packet.header.src) } : {};
  const back = events.find((e): e is Extract<KernelEvent, { kind: "deliver" }> => e.kind === "deliver" && e.ns === p.from && e.socket === "the connecting socket");
  if (back) {
    const pl = back.packet.payload;
    if (pl.kind === "icmp" && pl.type !== 0) return p.proto === "icmp" ? { result: icmpResult(p, pl), from: formatIpv4(back.packet.header.src) } : { result: icmpResult(p, pl) };
    if (pl.kind === "tcp") return (pl.flags & 0x04) !== 0 ? { result: "ECONNREFUSED" } : { result: "connected", ...seen };
    if (pl.kind === "udp") return { result: "reply", ...seen };
    if (pl.kind === "icmp") return { result: "reply", from: formatIpv4(back.packet.header.src), ttl: back.packet.header.ttl };
  }
  const errno: Partial<Record<string, string>> = { "no-route": "ENETUNREACH", "route-unreachable": "EHOSTUNREACH", "route-prohibit": "EACCES", mtu: "EMSGSIZE", "route-blackhole": "EINVAL" };
  const local = events.find((e): e is Extract<KernelEvent, { kind: "drop" }> => e.kind === "drop" && e.ns === p.from && errno[e.reason] !== undefined);
  if (local) return { result: errno[local.reason] as string };
  const neigh = events.find((e): e is Extract<KernelEvent, { kind: "drop" }> => e.kind === "drop" && e.ns === p.from && e.reason === "neigh-failed");
  if (neigh) {
    // The local stack reports the failed resolution to the socket; ping prints it as coming from itself.
    const out = events.find((e): e is Extract<KernelEvent, { kind: "route.lookup" }> => e.kind === "route.lookup" && e.ns === p.from && e.src !== undefined);
    return p.proto === "icmp" ? { result: "icmp Destination Host Unreachable", from: out?.src ?? "?" } : { result: "EHOSTUNREACH" };
  }
  const silent = events.find((e): e is Extract<KernelEvent, { kind: "drop" }> => e.kind === "drop" && DROP_COUNTER[e.reason] !== undefined);
  return silent ? { result: "timeout", droppedAt: `${silent.ns}: ${DROP_COUNTER[silent.reason] as string}` } : { result: "timeout" };
}

function icmpResult(p: Probe, m: IcmpMessage): string {
  if (p.proto === "icmp") {
    if (m.type === 11) return "icmp Time to live exceeded";
    if (m.type === 3 && m.code === 4) return `icmp Frag needed and DF set (mtu = ${m.seq})`;
    return `icmp ${PING_TEXT[m.code] ?? `Dest Unreachable, Bad Code: ${m.code}`}`;
  }
  if (m.type === 11) return "EHOSTUNREACH";
  return ERRNO_OF_UNREACH[m.code] ?? `icmp type ${m.type} code ${m.code}`;
}

/** A lab script built in real namespaces. */
export class RealLab {
  private readonly servers: ChildProcess[] = [];
  readonly names = new Map<string, string>();

  constructor(private readonly nsx: Netns) {}

  private full(ns: string): string {
    const f = this.names.get(ns);
    if (!f) throw new Error(`namespace ${ns} is not part of this lab`);
    return f;
  }

  /** Builds the script; returns when every server is listening. */
  async build(script: string): Promise<void> {
    for (const l of parseScript(script)) {
      if (l.ns === undefined) {
        const name = l.argv[3] as string;
        const full = this.nsx.add(name);
        this.names.set(name, full);
        // Pin the baseline the emulator assumes: a new namespace inherits IPv4 conf/all and
        // conf/default from the host (devconf_inherit_init_net=0), and IPv6 is not modelled.
        this.nsx.exec(full, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", "net.ipv6.conf.lo.disable_ipv6=1", "net.ipv4.ip_forward=0", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0", "net.ipv4.conf.all.route_localnet=0", "net.ipv4.conf.all.proxy_arp=0", "net.ipv4.conf.default.proxy_arp=0", "net.bridge.bridge-nf-call-iptables=1"]);
        continue;
      }
      const ns = this.full(l.ns);
      const argv = l.argv.map((w, i) => (i > 0 && l.argv[i - 1] === "netns" ? this.full(w) : w));
      const cmd = argv[0];
      if (cmd === "listen") {
        const [, proto, addr, port] = argv;
        const li = argv.indexOf("label");
        const label = li > 0 ? (argv[li + 1] as string) : `${l.ns}`;
        await this.startServer(ns, [proto as string, addr as string, port as string, label]);
      } else if (cmd === "sysctl") {
        this.nsx.exec(ns, ["sysctl", "-q", ...argv.slice(1)]);
      } else {
        this.nsx.exec(ns, argv, l.body);
      }
    }
  }

  private startServer(ns: string, [proto, addr, port, label]: string[]): Promise<void> {
    return startProbeServer(ns, label ?? ns, [`${proto}/${port}@${addr}`], this.servers, 120_000, 5000);
  }

  /** The drop counters of every lab namespace (/proc/net/snmp and /proc/net/netstat). */
  private counters(): Map<string, number> {
    const m = new Map<string, number>();
    for (const [name, full] of this.names) {
      const text = this.nsx.exec(full, ["cat", "/proc/net/snmp", "/proc/net/netstat"]);
      const lines = text.split("\n");
      for (let i = 0; i + 1 < lines.length; i += 2) {
        const keys = (lines[i] as string).split(/\s+/);
        const vals = (lines[i + 1] as string).split(/\s+/);
        keys.forEach((k, j) => {
          if (COUNTERS.includes(k)) m.set(`${name}: ${k}`, (m.get(`${name}: ${k}`) ?? 0) + Number(vals[j]));
        });
      }
    }
    return m;
  }

  /** Sends the probe; for a timeout, names the namespace whose drop counter moved. */
  probe(p: Probe): Outcome {
    const before = this.counters();
    const o = this.probeOnly(p);
    if (o.result !== "timeout") return o;
    const after = this.counters();
    const moved = [...after].filter(([k, v]) => v > (before.get(k) ?? 0)).map(([k]) => k);
    return moved.length > 0 ? { ...o, droppedAt: moved.join(", ") } : o;
  }

  private probeOnly(p: Probe): Outcome {
    const ns = this.full(p.from);
    const timeout = p.timeoutMs ?? 1500;
    if (p.waitMs !== undefined) spawnSync("sleep", [String(p.waitMs / 1000)]);
    if (p.proto === "icmp") {
      const args = ["ping", "-n", "-c1", `-W${Math.ceil(timeout / 1000)}`, ...(p.size !== undefined ? ["-s", String(p.size)] : []), ...(p.df ? ["-M", "do"] : []), ...(p.ttl !== undefined ? ["-t", String(p.ttl)] : []), p.dst];
      const r = this.nsx.tryExec(ns, args, undefined, timeout + 3000);
      const out = `${r.stdout}\n${r.stderr}`;
      const ok = /bytes from ([\d.]+): icmp_seq=1 ttl=(\d+)/.exec(out);
      if (ok) return { result: "reply", from: ok[1] as string, ttl: Number(ok[2]) };
      const err = /From ([\d.]+) icmp_seq=1 (.+)/.exec(out);
      if (err) return { result: `icmp ${(err[2] as string).trim()}`, from: err[1] as string };
      if (/Message too long|message too long/.test(out)) return { result: "EMSGSIZE" };
      if (/Network is unreachable/.test(out)) return { result: "ENETUNREACH" };
      if (/No route to host/.test(out)) return { result: "EHOSTUNREACH" };
      return { result: "timeout" };
    }
    const r = runProbeClient(ns, p.proto, p.dst, p.port ?? 0, timeout);
    if (r.result !== "delivered") return { result: r.result };
    return { result: p.proto === "tcp" ? "connected" : "reply", ...(r.from !== undefined ? { from: r.from } : {}), ...(r.seen !== undefined ? { seenSrc: r.seen } : {}) };
  }

  /** Runs a command in one of the lab's namespaces (for views). */
  exec(ns: string, argv: readonly string[]): string {
    return this.nsx.exec(this.full(ns), argv);
  }

  /** Stops the servers; the namespaces go with Netns.teardown(). */
  stop(): void {
    for (const s of this.servers) s.kill("SIGKILL");
    this.servers.length = 0;
  }
}

/** For assertion messages. */
export function describeProbe(p: Probe): string {
  return `${p.from} → ${p.proto} ${p.dst}${p.port !== undefined ? `:${p.port}` : ""}${p.size !== undefined ? ` size ${p.size}` : ""}${p.df ? " DF" : ""}`;
}
