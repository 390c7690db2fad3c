/**
 * Oracle: the rules podwire's first-packet walk says matched are exactly the rules whose packet
 * counters the real kernel incremented for the same packet. A throwaway "node" namespace loads
 * a dump with the real iptables-restore; a "client" namespace sends one connection attempt
 * (bounded by `timeout`); a "sink" namespace receives forwarded traffic and answers nothing.
 * Then `iptables-save -c` shows which rules the kernel matched.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ip } from "../../src/net/addr.js";
import type { Proto } from "../../src/net/tuple.js";
import { explore, parseRestore, traceFirstPacket, type FirstPacketResult, type Ruleset } from "../../src/netfilter/index.js";
import { Netns, oracleUnavailable } from "../support/netns.js";

const why = oracleUnavailable();
if (why) console.warn(`skipping real-kernel trace oracle: ${why}`);

const node1 = readFileSync(new URL("../../samples/node-1.rules", import.meta.url), "utf8");
const noEndpoints = readFileSync(new URL("../corpus/no-endpoints.rules", import.meta.url), "utf8");

/** `table chain index` of every rule whose packet counter is above zero. */
function countedRules(save: string, skipChains: ReadonlySet<string>): string[] {
  let table = "";
  const seen = new Map<string, number>();
  const out: string[] = [];
  for (const line of save.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1);
    const m = /^\[(\d+):\d+\] -A (\S+)/.exec(line);
    if (!m) continue;
    const key = `${table} ${m[2] ?? ""}`;
    const idx = (seen.get(key) ?? 0) + 1;
    seen.set(key, idx);
    if (Number(m[1]) > 0 && !skipChains.has(m[2] ?? "")) out.push(`${key} #${idx}`);
  }
  return out.sort();
}

function emulatedRules(r: FirstPacketResult): string[] {
  return r.steps
    .flatMap((s) => s.result.hits)
    .filter((h) => h.rule.line !== 0 && !h.verdict.startsWith("not evaluated"))
    .map((h) => `${h.table} ${h.chain} #${h.index}`)
    .sort();
}

describe.skipIf(why !== undefined)("first-packet walk agrees with the real kernel's rule counters", () => {
  const nsm = new Netns("trc");
  let client = "";
  let node = "";
  const local = [ip("192.168.1.10"), ip("10.99.0.1")];

  beforeAll(() => {
    client = nsm.add("client");
    node = nsm.add("node");
    const sink = nsm.add("sink");
    nsm.link(client, "eth0", node, "eth0");
    nsm.link(node, "eth1", sink, "eth0");
    nsm.exec(client, ["ip", "addr", "add", "192.168.1.100/24", "dev", "eth0"]);
    nsm.exec(client, ["ip", "route", "add", "10.96.0.0/12", "via", "192.168.1.10"]);
    nsm.exec(node, ["ip", "addr", "add", "192.168.1.10/24", "dev", "eth0"]);
    nsm.exec(node, ["ip", "addr", "add", "10.99.0.1/24", "dev", "eth1"]);
    // Everything not local leaves towards the sink (the offline walk assumes a route exists).
    nsm.exec(node, ["ip", "route", "add", "default", "via", "10.99.0.2"]);
    nsm.exec(node, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    nsm.exec(sink, ["ip", "addr", "add", "10.99.0.2/24", "dev", "eth0"]);
  });
  afterAll(() => nsm.teardown());

  /** Loads rules (zeroing counters), sends one attempt, and returns the kernel's matched rules. */
  function kernel(rules: string, from: string, proto: Proto, dst: string, port: number, skip: ReadonlySet<string>): string[] {
    // A fresh, zeroed ruleset: flush and delete every chain of every table first.
    for (const t of ["raw", "mangle", "nat", "filter"]) {
      nsm.exec(node, ["iptables", "-t", t, "-F"]);
      nsm.exec(node, ["iptables", "-t", t, "-X"]);
      nsm.exec(node, ["iptables", "-t", t, "-Z"]);
    }
    nsm.exec(node, ["iptables-restore"], rules);
    const dev = proto === "udp" ? "udp" : "tcp";
    // One packet only: TCP retransmits its SYN after 1 s (and a retransmission, no longer NEW
    // to nat, takes another path), so the attempt is cut at 0.5 s.
    nsm.tryExec(from, ["timeout", "0.5", "bash", "-c", `echo x > /dev/${dev}/${dst}/${port}`], undefined, 5000);
    return countedRules(nsm.exec(node, ["iptables-save", "-c"]), skip);
  }

  function emulate(rules: string, src: string, proto: Proto, dst: string, port: number, hook: "PREROUTING" | "OUTPUT", outIface: string): FirstPacketResult[] {
    const r = parseRestore(rules);
    if (!r.ok) throw new Error(r.issue.message);
    const rs: Ruleset = r.ruleset;
    const input = { ruleset: rs, tuple: { proto, src: ip(src), sport: 40000, dst: ip(dst), dport: port }, hook, local, inIface: hook === "OUTPUT" ? "" : "eth0", outIface };
    return explore((c) => traceFirstPacket(input, c)).map((p) => p.result);
  }

  // Replies (a local RST, an ICMP error) leave through OUTPUT; only the request path is compared.
  const noOutput = new Set(["OUTPUT"]);

  it.each([
    { name: "external client → NodePort 30080 (DNAT, forwarded, MASQUERADE)", rules: node1, dst: "192.168.1.10", port: 30080, proto: "tcp" as const, verdict: "accept" },
    { name: "external client → ClusterIP of the apiserver (mark for masquerade, DNAT to the node itself)", rules: node1, dst: "10.96.0.1", port: 443, proto: "tcp" as const, verdict: "accept" },
    { name: "Service without endpoints → REJECT in filter KUBE-SERVICES", rules: noEndpoints, dst: "10.96.0.20", port: 80, proto: "tcp" as const, verdict: "reject" },
    { name: "eTP Local NodePort without a local endpoint → DROP", rules: noEndpoints, dst: "192.168.1.10", port: 30090, proto: "tcp" as const, verdict: "drop" },
  ])("$name", ({ rules, dst, port, proto, verdict }) => {
    const got = kernel(rules, client, proto, dst, port, noOutput);
    const paths = emulate(rules, "192.168.1.100", proto, dst, port, "PREROUTING", "eth1");
    expect(paths).toHaveLength(1);
    const emu = paths[0] as FirstPacketResult;
    expect(emu.verdict).toBe(verdict);
    expect(emulatedRules(emu).filter((r) => !r.includes(" OUTPUT "))).toEqual(got);
  });

  it("node → kube-dns ClusterIP (OUTPUT, random endpoint): the kernel's rules are one of the explored paths", () => {
    const got = kernel(node1, node, "udp", "10.96.0.10", 53, new Set());
    const paths = emulate(node1, "192.168.1.10", "udp", "10.96.0.10", 53, "OUTPUT", "eth1").map(emulatedRules);
    expect(paths).toHaveLength(2);
    expect(paths).toContainEqual(got);
  });
});
