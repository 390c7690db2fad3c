/**
 * The proxier reuses a service port's lines from an earlier sync (this node's or another's) when
 * the port's Service object and its endpoints read the same (proxier.ts `sharedBlock`). Reuse must
 * never change the text: every sync below, on any node, with any settings, after any change of
 * endpoints, is compared with the same sync written afresh (`shared: false`). And the restore parser
 * must read that text the same way whether it comes as one string or as the proxier's lines.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EndpointSlice, Service } from "../../src/cluster/api/types.js";
import { syncProxyRules, type ProxierConfig } from "../../src/kube-proxy/proxier.js";
import { formatSave } from "../../src/netfilter/iptables-save.js";
import { parseRestore } from "../../src/netfilter/iptables-restore.js";
import { FAKE_PROXIER, slice, svc } from "./fake-proxier.js";

const NODES = ["node-a", "node-b", "node-c"];

const endpointArb = fc.record({
  host: fc.integer({ min: 1, max: 6 }),
  node: fc.option(fc.constantFrom(...NODES), { nil: undefined }),
  ready: fc.boolean(),
  serving: fc.boolean(),
  terminating: fc.boolean(),
});

const serviceArb = fc.record({
  type: fc.constantFrom("ClusterIP", "NodePort", "LoadBalancer"),
  internalLocal: fc.boolean(),
  externalLocal: fc.boolean(),
  affinity: fc.boolean(),
  ranges: fc.boolean(),
  externalIP: fc.boolean(),
  endpoints: fc.array(endpointArb, { maxLength: 4 }),
});

type SvcCase = typeof serviceArb extends fc.Arbitrary<infer T> ? T : never;

function objects(cases: readonly SvcCase[]): { services: Service[]; slices: EndpointSlice[] } {
  const services = cases.map((c, i) =>
    svc(
      "ns",
      `s${i}`,
      {
        type: c.type,
        clusterIP: `172.30.0.${i + 1}`,
        ports: [{ name: "p", port: 80, protocol: "TCP", ...(c.type !== "ClusterIP" ? { nodePort: 30000 + i } : {}) }],
        ...(c.internalLocal ? { internalTrafficPolicy: "Local" } : {}),
        ...(c.externalLocal && c.type !== "ClusterIP" ? { externalTrafficPolicy: "Local" } : {}),
        ...(c.type === "LoadBalancer" && c.externalLocal ? { healthCheckNodePort: 32000 + i } : {}),
        ...(c.affinity ? { sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } } : {}),
        ...(c.ranges ? { loadBalancerSourceRanges: ["192.168.0.0/24"] } : {}),
        ...(c.externalIP ? { externalIPs: [`192.168.99.${i + 1}`] } : {}),
      },
      c.type === "LoadBalancer" ? [`5.6.7.${i + 1}`] : [],
    ),
  );
  const slices = cases.map((c, i) => slice("ns", `s${i}`, endpointsOf(c, i), { name: "p", port: 80 }));
  return { services, slices };
}

function endpointsOf(c: SvcCase, i: number): EndpointSlice["endpoints"] {
  return c.endpoints.map((e) => ({
    addresses: [`10.180.${i}.${e.host}`],
    ...(e.node ? { nodeName: e.node } : {}),
    conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating },
  }));
}

const configs: readonly ProxierConfig[] = [
  FAKE_PROXIER,
  { ...FAKE_PROXIER, masqueradeAll: true },
  // Only the node's address differs: it decides whether the firewall chain lets the node's own traffic in.
  { ...FAKE_PROXIER, nodeIP: "192.168.1.9" },
  { ...FAKE_PROXIER, nodeIP: "192.168.1.9", localhostNodePorts: false, nfacct: false },
  { ...FAKE_PROXIER, localDetector: { mode: "InterfaceNamePrefix", prefix: "veth" } },
];

describe("service port blocks shared between syncs", () => {
  it("every sync writes the text a fresh sync writes, on any node, after any change of endpoints", () => {
    fc.assert(
      fc.property(
        fc.array(serviceArb, { minLength: 1, maxLength: 6 }),
        fc.array(fc.record({ node: fc.constantFrom(...NODES), cfg: fc.integer({ min: 0, max: configs.length - 1 }), change: fc.option(fc.tuple(fc.nat(), fc.array(endpointArb, { maxLength: 4 })), { nil: undefined }) }), { minLength: 1, maxLength: 8 }),
        (cases, steps) => {
          const { services, slices } = objects(cases);
          for (const step of steps) {
            if (step.change) {
              // A new slice object for one Service (as the controller writes it); the others stay the same objects.
              const [at, eps] = step.change;
              const i = at % cases.length;
              slices[i] = slice("ns", `s${i}`, endpointsOf({ ...(cases[i] as SvcCase), endpoints: eps }, i), { name: "p", port: 80 });
            }
            const cfg = { ...(configs[step.cfg] as ProxierConfig), nodeName: step.node };
            const input = { services, endpointSlices: slices };
            expect(syncProxyRules(input, cfg).restore).toBe(syncProxyRules(input, cfg, { shared: false }).restore);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a stale service chain is still deleted when the blocks come from the memo", () => {
    const { services, slices } = objects([{ type: "ClusterIP", internalLocal: false, externalLocal: false, affinity: false, ranges: false, externalIP: false, endpoints: [{ host: 1, node: "node-a", ready: true, serving: true, terminating: false }] }]);
    const input = { services, endpointSlices: slices };
    const first = syncProxyRules(input, FAKE_PROXIER);
    const again = syncProxyRules({ ...input, existingNatChains: ["KUBE-SVC-GONE0000000000", "KUBE-MARK-MASQ", ...first.lines.filter((l) => l.startsWith(":KUBE-S")).map((l) => l.slice(1, l.indexOf(" ")))] }, FAKE_PROXIER);
    expect(again.lines.filter((l) => l.startsWith("-X "))).toEqual(["-X KUBE-SVC-GONE0000000000"]);
    expect(again.restore).toBe(syncProxyRules({ ...input, existingNatChains: ["KUBE-SVC-GONE0000000000"] }, FAKE_PROXIER, { shared: false }).restore);
  });

  it("the restore parser reads the proxier's lines as it reads the joined text, interned or not", () => {
    const { services, slices } = objects([
      { type: "LoadBalancer", internalLocal: false, externalLocal: true, affinity: true, ranges: true, externalIP: true, endpoints: [{ host: 1, node: "test-node", ready: true, serving: true, terminating: false }, { host: 2, node: "node-b", ready: true, serving: true, terminating: false }] },
      { type: "NodePort", internalLocal: true, externalLocal: false, affinity: false, ranges: false, externalIP: false, endpoints: [{ host: 3, node: "node-b", ready: false, serving: true, terminating: true }] },
    ]);
    const out = syncProxyRules({ services, endpointSlices: slices }, FAKE_PROXIER);
    const fromText = parseRestore(out.restore);
    if (!fromText.ok) throw new Error(fromText.issue.message);
    for (const intern of [false, true, true]) {
      const fromLines = parseRestore(out.lines, { intern });
      if (!fromLines.ok) throw new Error(fromLines.issue.message);
      expect(formatSave(fromLines.ruleset)).toBe(formatSave(fromText.ruleset));
    }
  });
});
