/**
 * Packet-flow tables (kube-proxy's `packetFlowTest` style) through the sample node-1 dump
 * (samples/node-1.rules = dataplane.md §8.4, loaded into a real kernel by the oracle tests).
 * Expected outcomes are the packet walks of dataplane.md §7.8 and kube-proxy.md §4–§5.
 */
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ip } from "../net/addr.js";
import type { Proto } from "../net/tuple.js";
import { explore } from "./explore.js";
import { traceFirstPacket } from "./first-packet.js";
import { parseRestore } from "./iptables-restore.js";
import { setChainIndexes } from "./traverse.js";

const sample = parseRestore(readFileSync(new URL("../../samples/node-1.rules", import.meta.url), "utf8"));
if (!sample.ok) throw new Error(sample.issue.message);
const rs = sample.ruleset;
const local = [ip("192.168.1.10"), ip("10.244.0.1"), ip("10.244.0.0")];

function flow(proto: Proto, src: string, dst: string, dport: number, inIface: string, outIface: string, hook: "PREROUTING" | "OUTPUT" = "PREROUTING") {
  const input = { ruleset: rs, tuple: { proto, src: ip(src), sport: 40000, dst: ip(dst), dport }, hook, local, inIface, outIface } as const;
  return explore((choose) => traceFirstPacket(input, choose)).map((p) => ({
    p: Number(p.probability.toFixed(6)),
    verdict: p.result.verdict,
    dnat: p.result.dnat?.to ?? null,
    masq: p.result.snat?.kind === "MASQUERADE",
  }));
}

describe("kube-proxy + flannel rules of node-1 (dataplane.md §7.8)", () => {
  it.each([
    {
      name: "f) external client → NodePort 30080: DNAT to the remote endpoint and masquerade (eTP Cluster)",
      got: () => flow("tcp", "192.168.1.100", "192.168.1.10", 30080, "eth0", "flannel.1"),
      want: [{ p: 1, verdict: "accept", dnat: "10.244.1.2:8080", masq: true }],
    },
    {
      name: "d) pod → kube-dns ClusterIP: one of two endpoints, 50/50, no SNAT (FLANNEL-POSTRTG returns)",
      got: () => flow("udp", "10.244.0.5", "10.96.0.10", 53, "cni0", "cni0"),
      want: [
        { p: 0.5, verdict: "accept", dnat: "10.244.0.2:53", masq: false },
        { p: 0.5, verdict: "accept", dnat: "10.244.0.3:53", masq: false },
      ],
    },
    {
      name: "e) a kube-dns pod → its own Service: masqueraded (hairpin KUBE-SEP rule) only when it picks itself",
      got: () => flow("udp", "10.244.0.2", "10.96.0.10", 53, "cni0", "cni0"),
      want: [
        { p: 0.5, verdict: "accept", dnat: "10.244.0.2:53", masq: true },
        { p: 0.5, verdict: "accept", dnat: "10.244.0.3:53", masq: false },
      ],
    },
    {
      name: "h) host-network process → ClusterIP of the apiserver: DNAT to the node itself, masqueraded (source not in the cluster CIDR)",
      got: () => flow("tcp", "192.168.1.10", "10.96.0.1", 443, "", "eth0", "OUTPUT"),
      want: [{ p: 1, verdict: "accept", dnat: "192.168.1.10:6443", masq: true }],
    },
    {
      name: "g) pod → internet: no DNAT, MASQUERADE by FLANNEL-POSTRTG",
      got: () => flow("tcp", "10.244.0.5", "1.1.1.1", 443, "cni0", "eth0"),
      want: [{ p: 1, verdict: "accept", dnat: null, masq: true }],
    },
    {
      name: "b) pod → pod on another node: untouched",
      got: () => flow("tcp", "10.244.0.5", "10.244.1.2", 8080, "cni0", "flannel.1"),
      want: [{ p: 1, verdict: "accept", dnat: null, masq: false }],
    },
  ])("$name", ({ got, want }) => {
    expect(got()).toEqual(want);
  });
});

describe("kube-proxy filter rules", () => {
  const text = readFileSync(new URL("../../test/corpus/no-endpoints.rules", import.meta.url), "utf8");
  const r = parseRestore(text);
  if (!r.ok) throw new Error(r.issue.message);
  const run = (src: string, dst: string, dport: number, hook: "PREROUTING" | "OUTPUT") =>
    traceFirstPacket({ ruleset: r.ruleset, tuple: { proto: "tcp", src: ip(src), sport: 40000, dst: ip(dst), dport }, hook, local, inIface: "eth0", outIface: "eth0" }, () => true);

  it("a Service with no endpoints is REJECTed (kube-proxy.md §4.9)", () => {
    const res = run("10.244.0.5", "10.96.0.20", 80, "PREROUTING");
    expect([res.verdict, res.rejectWith]).toEqual(["reject", "icmp-port-unreachable"]);
  });
  it("eTP Local without a local endpoint DROPs NodePort traffic (dataplane.md T9)", () => {
    expect(run("192.168.1.100", "192.168.1.10", 30090, "PREROUTING").verdict).toBe("drop");
  });
  it("the same NodePort on another address of nobody's is not matched (addrtype LOCAL)", () => {
    expect(run("192.168.1.100", "192.168.1.77", 30090, "PREROUTING").verdict).toBe("accept");
  });
});

describe("statistic cascade (kube-proxy.md §4.4)", () => {
  it("N endpoints with probabilities 1/(N-i) (%0.10f) explore to N paths summing to 1, each ≈ 1/N", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), (n) => {
        const rules = Array.from({ length: n }, (_, i) => {
          const stat = i < n - 1 ? ` -m statistic --mode random --probability ${(1 / (n - i)).toFixed(10)}` : "";
          return `-A KUBE-SVC-X${stat} -j KUBE-SEP-${i}`;
        });
        const seps = Array.from({ length: n }, (_, i) => `:KUBE-SEP-${i} - [0:0]\n-A KUBE-SEP-${i} -p tcp -m tcp -j DNAT --to-destination 10.0.${i >> 8}.${i & 255}:80`);
        const text = `*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SVC-X - [0:0]\n${seps.join("\n")}\n-A PREROUTING -j KUBE-SVC-X\n${rules.join("\n")}\nCOMMIT\n`;
        const rr = parseRestore(text);
        if (!rr.ok) throw new Error(rr.issue.message);
        const input = { ruleset: rr.ruleset, tuple: { proto: "tcp" as const, src: ip("10.1.0.1"), sport: 1, dst: ip("10.96.0.1"), dport: 80 }, hook: "PREROUTING" as const, local: [], inIface: "eth0", outIface: "eth0" };
        const paths = explore((c) => traceFirstPacket(input, c));
        expect(paths.length).toBe(n);
        expect(paths.reduce((s, p) => s + p.probability, 0)).toBeCloseTo(1, 9);
        for (const p of paths) expect(p.probability).toBeCloseTo(1 / n, 6);
        expect(new Set(paths.map((p) => p.result.dnat?.to)).size).toBe(n);
      }),
      { numRuns: 30 },
    );
  });
});

describe("modules podwire cannot evaluate", () => {
  it("says so plainly, naming the module, rule and line, and never guesses a match", () => {
    const text = readFileSync(new URL("../../test/corpus/unknown-modules.rules", import.meta.url), "utf8");
    const r = parseRestore(text);
    if (!r.ok) throw new Error(r.issue.message);
    const res = traceFirstPacket(
      { ruleset: r.ruleset, tuple: { proto: "tcp", src: ip("192.168.1.10"), sport: 40000, dst: ip("1.1.1.1"), dport: 443 }, hook: "OUTPUT", local, inIface: "", outIface: "eth0" },
      () => true,
    );
    const line = text.split("\n").findIndex((l) => l.includes("--uid-owner")) + 1;
    expect(res.unknowns).toEqual([`cannot evaluate -m owner at rule 1 of filter OUTPUT (line ${line}); treated as not matching`]);
    const fwd = traceFirstPacket(
      { ruleset: r.ruleset, tuple: { proto: "tcp", src: ip("10.244.0.5"), sport: 40000, dst: ip("1.1.1.1"), dport: 443 }, hook: "PREROUTING", local, inIface: "cni0", outIface: "eth0" },
      () => true,
    );
    const mss = text.split("\n").findIndex((l) => l.includes("TCPMSS")) + 1;
    expect(fwd.unknowns).toEqual([`cannot evaluate -j TCPMSS at rule 1 of mangle FORWARD (line ${mss}); the walk continues past it`]);
    // The owner rule did not decide: the OUTPUT policy did.
    expect(res.steps.find((s) => s.table === "filter")?.result.decidedBy).toBeUndefined();
  });
});

describe("chain indexes skip only rules that cannot match", () => {
  // Long chains (past the index threshold) mixing what the destination and port indexes key on
  // with what they must not skip (negated ports, multiport, a statistic draw before the port
  // match, marks, rules without a target); the indexed walk must equal the linear one, paths,
  // probabilities and hits included.
  const ports = [53, 80, 81, 30000];
  const dsts = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "192.168.1.10"];
  const ruleArb = fc.oneof(
    fc.record({ k: fc.constant("d"), a: fc.constantFrom(...dsts), p: fc.constantFrom(...ports) }).map((r) => `-d ${r.a}/32 -p tcp -m tcp --dport ${r.p} -j ACCEPT`),
    fc.constantFrom(...ports).map((p) => `-m comment --comment "svc ${p}" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport ${p} -j DROP`),
    fc.constantFrom(...ports).map((p) => `-m comment --comment u${p} -p udp -m udp --dport ${p} -j REJECT`),
    fc.constantFrom(...ports).map((p) => `-p tcp -m tcp ! --dport ${p} -m comment --comment neg -j RETURN`),
    fc.constantFrom(...ports).map((p) => `-m statistic --mode random --probability 0.5000000000 -p tcp -m tcp --dport ${p} -j ACCEPT`),
    fc.constantFrom(...ports).map((p) => `-p tcp -m multiport --dports ${p},443 -j ACCEPT`),
    fc.constant("-s 10.1.0.0/16 -m comment --comment count"),
    fc.constant("-m mark --mark 0x1/0x1 -j ACCEPT"),
  );
  const packetArb = fc.record({ proto: fc.constantFrom<Proto>("tcp", "udp", "icmp"), dst: fc.constantFrom(...dsts), dport: fc.constantFrom(...ports), src: fc.constantFrom("10.1.2.3", "10.2.0.9") });

  it("agrees with a linear walk (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { minLength: 70, maxLength: 120 }), fc.array(packetArb, { minLength: 1, maxLength: 6 }), (rules, packets) => {
        const text = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":LONG - [0:0]", "-A INPUT -j LONG", "-A FORWARD -j LONG", ...rules.map((r) => `-A LONG ${r}`), "COMMIT", ""].join("\n");
        const parsed = parseRestore(text);
        if (!parsed.ok) throw new Error(`${parsed.issue.line}: ${parsed.issue.message}`);
        for (const p of packets) {
          const input = { ruleset: parsed.ruleset, tuple: { proto: p.proto, src: ip(p.src), sport: 40000, dst: ip(p.dst), dport: p.dport }, hook: "PREROUTING" as const, local: [ip("192.168.1.10")], inIface: "eth0", outIface: "eth0" };
          const walk = (): string => JSON.stringify(explore((choose) => traceFirstPacket(input, choose)));
          const indexed = walk();
          setChainIndexes(false);
          try {
            expect(indexed).toBe(walk());
          } finally {
            setChainIndexes(true);
          }
        }
      }),
      { seed: 20261202, numRuns: 150 },
    );
  });
});
