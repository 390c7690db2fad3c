/**
 * kube-proxy's own packet-flow tests (kubernetes/kubernetes pkg/proxy/iptables/proxier_test.go,
 * v1.33), their inputs and expected outcomes copied, run against the rules podwire's proxier
 * writes and podwire's first-packet walk of them (test/kube-proxy/flows.ts). IPv6 and SCTP cases
 * are left out: podwire models IPv4 over TCP, UDP and ICMP.
 */
import { describe, expect, it } from "vitest";
import { syncProxyRules, type ProxierConfig } from "../../src/kube-proxy/proxier.js";
import type { EndpointSlice, Service } from "../../src/cluster/api/types.js";
import { FAKE_PROXIER, TEST_NODE, slice, svc } from "./fake-proxier.js";
import { flowOutcome, nodeRuleset, type Flow } from "./flows.js";

const EXT = "203.0.113.2";
const EXT_BLOCKED = "203.0.113.130";
const NODE = "192.168.0.2";

function check(services: Service[], slices: EndpointSlice[], flows: Flow[], cfg: ProxierConfig = FAKE_PROXIER): void {
  const rs = nodeRuleset(syncProxyRules({ services, endpointSlices: slices }, cfg).restore);
  for (const f of flows) {
    const got = flowOutcome(rs, f);
    expect({ flow: f.name, output: got.output, ...(f.masq !== undefined ? { masq: got.masq } : {}) }).toEqual({ flow: f.name, output: f.output, ...(f.masq !== undefined ? { masq: f.masq } : {}) });
  }
}

const p80 = { name: "p80", port: 80, protocol: "TCP" as const };

describe("kube-proxy's flow tests", () => {
  it("TestNoEndpointsReject", () => {
    check(
      [svc("ns1", "svc1", { type: "LoadBalancer", clusterIP: "172.30.0.41", externalIPs: ["192.168.99.11"], ports: [{ name: "p80", protocol: "TCP", port: 80, nodePort: 3001 }] }, ["1.2.3.4"])],
      [],
      [
        { name: "pod to cluster IP with no endpoints", sourceIP: "10.0.0.2", destIP: "172.30.0.41", destPort: 80, output: "REJECT" },
        { name: "external to external IP with no endpoints", sourceIP: EXT, destIP: "192.168.99.11", destPort: 80, output: "REJECT" },
        { name: "pod to NodePort with no endpoints", sourceIP: "10.0.0.2", destIP: NODE, destPort: 3001, output: "REJECT" },
        { name: "external to NodePort with no endpoints", sourceIP: EXT, destIP: NODE, destPort: 3001, output: "REJECT" },
        { name: "pod to LoadBalancer IP with no endpoints", sourceIP: "10.0.0.2", destIP: "1.2.3.4", destPort: 80, output: "REJECT" },
        { name: "external to LoadBalancer IP with no endpoints", sourceIP: EXT, destIP: "1.2.3.4", destPort: 80, output: "REJECT" },
      ],
    );
  });

  it("TestClusterIPGeneral (TCP and UDP)", () => {
    const ports2 = [
      { name: "http", port: 80, protocol: "TCP" as const },
      { name: "https", port: 443, protocol: "TCP" as const, targetPort: 8443 },
      { name: "dns-udp", port: 53, protocol: "UDP" as const },
      { name: "dns-tcp", port: 53, protocol: "TCP" as const, targetPort: 5353 },
    ];
    const s2: EndpointSlice = {
      ...slice("ns2", "svc2", [{ addresses: ["10.180.0.1"], nodeName: TEST_NODE }, { addresses: ["10.180.2.1"], nodeName: "node2" }], { port: 80 }),
      ports: [
        { name: "http", port: 80, protocol: "TCP" },
        { name: "https", port: 8443, protocol: "TCP" },
        { name: "dns-udp", port: 53, protocol: "UDP" },
        { name: "dns-tcp", port: 5353, protocol: "TCP" },
      ],
    };
    check(
      [svc("ns1", "svc1", { clusterIP: "172.30.0.41", ports: [{ name: "http", port: 80, protocol: "TCP" }] }), svc("ns2", "svc2", { clusterIP: "172.30.0.42", ports: ports2 })],
      [slice("ns1", "svc1", [{ addresses: ["10.180.0.1"], nodeName: TEST_NODE }], { name: "http", port: 80 }), s2],
      [
        { name: "simple clusterIP", sourceIP: "10.180.0.2", destIP: "172.30.0.41", destPort: 80, output: "10.180.0.1:80", masq: false },
        { name: "hairpin to cluster IP", sourceIP: "10.180.0.1", destIP: "172.30.0.41", destPort: 80, output: "10.180.0.1:80", masq: true },
        { name: "clusterIP with multiple endpoints", sourceIP: "10.180.0.2", destIP: "172.30.0.42", destPort: 80, output: "10.180.0.1:80, 10.180.2.1:80", masq: false },
        { name: "clusterIP with TargetPort", sourceIP: "10.180.0.2", destIP: "172.30.0.42", destPort: 443, output: "10.180.0.1:8443, 10.180.2.1:8443", masq: false },
        { name: "clusterIP with TCP, UDP, and SCTP on same port (TCP)", sourceIP: "10.180.0.2", protocol: "tcp", destIP: "172.30.0.42", destPort: 53, output: "10.180.0.1:5353, 10.180.2.1:5353", masq: false },
        { name: "clusterIP with TCP, UDP, and SCTP on same port (UDP)", sourceIP: "10.180.0.2", protocol: "udp", destIP: "172.30.0.42", destPort: 53, output: "10.180.0.1:53, 10.180.2.1:53", masq: false },
        { name: "TCP-only port does not match UDP traffic", sourceIP: "10.180.0.2", protocol: "udp", destIP: "172.30.0.42", destPort: 80, output: "" },
        { name: "svc1 does not accept svc2's ports", sourceIP: "10.180.0.2", destIP: "172.30.0.41", destPort: 443, output: "" },
      ],
    );
  });

  it("TestLoadBalancer", () => {
    const ep = "10.180.0.1:80";
    check(
      [svc("ns1", "svc1", { type: "LoadBalancer", clusterIP: "172.30.0.41", ports: [{ name: "p80", port: 80, protocol: "TCP", nodePort: 3001 }], loadBalancerSourceRanges: ["192.168.0.0/24", " 203.0.113.0/25"] }, ["1.2.3.4", "5.6.7.8"])],
      [slice("ns1", "svc1", [{ addresses: ["10.180.0.1"] }], p80)],
      [
        { name: "pod to cluster IP", sourceIP: "10.0.0.2", destIP: "172.30.0.41", destPort: 80, output: ep, masq: false },
        { name: "external to nodePort", sourceIP: EXT, destIP: NODE, destPort: 3001, output: ep, masq: true },
        { name: "nodePort bypasses LoadBalancerSourceRanges", sourceIP: EXT_BLOCKED, destIP: NODE, destPort: 3001, output: ep, masq: true },
        { name: "accepted external to LB1", sourceIP: EXT, destIP: "1.2.3.4", destPort: 80, output: ep, masq: true },
        { name: "accepted external to LB2", sourceIP: EXT, destIP: "5.6.7.8", destPort: 80, output: ep, masq: true },
        { name: "blocked external to LB1", sourceIP: EXT_BLOCKED, destIP: "1.2.3.4", destPort: 80, output: "DROP" },
        { name: "blocked external to LB2", sourceIP: EXT_BLOCKED, destIP: "5.6.7.8", destPort: 80, output: "DROP" },
        { name: "pod to LB1 (blocked by LoadBalancerSourceRanges)", sourceIP: "10.0.0.2", destIP: "1.2.3.4", destPort: 80, output: "DROP" },
        { name: "pod to LB2 (blocked by LoadBalancerSourceRanges)", sourceIP: "10.0.0.2", destIP: "5.6.7.8", destPort: 80, output: "DROP" },
        { name: "node to LB1 (allowed by LoadBalancerSourceRanges)", sourceIP: NODE, destIP: "1.2.3.4", destPort: 80, output: ep, masq: true },
        { name: "node to LB2 (allowed by LoadBalancerSourceRanges)", sourceIP: NODE, destIP: "5.6.7.8", destPort: 80, output: ep, masq: true },
      ],
    );
  });

  describe("TestNodePorts (IPv4 cases)", () => {
    const cases = [
      { name: "ipv4, localhost-nodeports enabled", localhostNodePorts: true, nodePortAddresses: [] as string[], allowAlt: true, firewall: true },
      { name: "ipv4, localhost-nodeports disabled", localhostNodePorts: false, nodePortAddresses: [], allowAlt: true, firewall: false },
      { name: "ipv4, localhost-nodeports disabled, localhost in nodeport-addresses", localhostNodePorts: false, nodePortAddresses: ["192.168.0.0/24", "127.0.0.1/32"], allowAlt: false, firewall: false },
      { name: "ipv4, localhost-nodeports enabled, multiple nodeport-addresses", localhostNodePorts: false, nodePortAddresses: ["192.168.0.0/24", "192.168.1.0/24"], allowAlt: true, firewall: false },
    ];
    it.each(cases)("$name", (tc) => {
      const cfg: ProxierConfig = {
        ...FAKE_PROXIER,
        localhostNodePorts: tc.localhostNodePorts,
        nodePortAddresses: tc.nodePortAddresses,
        // The fake network interfacer: lo 127.0.0.1/8, eth0 with the three node addresses.
        nodeAddresses: [{ ip: "127.0.0.1", loopback: true }, { ip: "192.168.0.2" }, { ip: "192.168.1.2" }, { ip: "192.168.99.11" }],
      };
      const services = [svc("ns1", "svc1", { type: "NodePort", clusterIP: "172.30.0.41", ports: [{ name: "p80", port: 80, protocol: "TCP", nodePort: 3001 }] })];
      const slices = [slice("ns1", "svc1", [{ addresses: ["10.180.0.1"] }, { addresses: ["10.180.2.1"], nodeName: TEST_NODE }], p80)];
      const both = "10.180.0.1:80, 10.180.2.1:80";
      check(services, slices, [
        { name: "pod to cluster IP", sourceIP: "10.0.0.2", destIP: "172.30.0.41", destPort: 80, output: both, masq: false },
        { name: "external to nodePort", sourceIP: EXT, destIP: NODE, destPort: 3001, output: both, masq: true },
        { name: "node to nodePort", sourceIP: NODE, destIP: NODE, destPort: 3001, output: both, masq: true },
        tc.localhostNodePorts
          ? { name: "localhost to nodePort gets masqueraded", sourceIP: "127.0.0.1", destIP: "127.0.0.1", destPort: 3001, output: both, masq: true }
          : { name: "localhost to nodePort is ignored", sourceIP: "127.0.0.1", destIP: "127.0.0.1", destPort: 3001, output: "" },
        tc.allowAlt
          ? { name: "external to nodePort on secondary IP", sourceIP: EXT, destIP: "192.168.1.2", destPort: 3001, output: both, masq: true }
          : { name: "secondary nodeIP ignores NodePorts", sourceIP: EXT, destIP: "192.168.1.2", destPort: 3001, output: "" },
      ], cfg);
      const restore = syncProxyRules({ services, endpointSlices: slices }, cfg).restore;
      const fw = restore.split("\n").filter((l) => l.startsWith("-A KUBE-FIREWALL "));
      expect(fw).toEqual(tc.firewall ? ['-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP'] : []);
    });
  });

  it("TestHealthCheckNodePort", () => {
    const cfg = { ...FAKE_PROXIER, nodePortAddresses: ["127.0.0.0/8"], nodeAddresses: [{ ip: "127.0.0.1", loopback: true }, { ip: NODE }] };
    const s = svc("ns1", "svc1", { type: "LoadBalancer", clusterIP: "172.30.0.42", ports: [{ name: "p80", port: 80, protocol: "TCP", nodePort: 3001 }], healthCheckNodePort: 30000, externalTrafficPolicy: "Local" });
    check([s], [], [{ name: "firewall accepts HealthCheckNodePort", sourceIP: "1.2.3.4", destIP: NODE, destPort: 30000, output: "ACCEPT", masq: false }], cfg);
    check([], [], [{ name: "HealthCheckNodePort no longer has any rule", sourceIP: "1.2.3.4", destIP: NODE, destPort: 30000, output: "" }], cfg);
  });

  it("TestExternalTrafficPolicyLocal", () => {
    const both = "10.180.0.1:80, 10.180.2.1:80";
    const local = "10.180.2.1:80";
    check(
      [svc("ns1", "svc1", { type: "LoadBalancer", externalTrafficPolicy: "Local", clusterIP: "172.30.0.41", externalIPs: ["192.168.99.11"], ports: [{ name: "p80", port: 80, protocol: "TCP", nodePort: 3001, targetPort: 80 }], healthCheckNodePort: 30000 }, ["1.2.3.4"])],
      [slice("ns1", "svc1", [{ addresses: ["10.180.0.1"] }, { addresses: ["10.180.2.1"], nodeName: TEST_NODE }], p80)],
      [
        { name: "pod to cluster IP hits both endpoints, unmasqueraded", sourceIP: "10.0.0.2", destIP: "172.30.0.41", destPort: 80, output: both, masq: false },
        { name: "pod to external IP hits both endpoints, unmasqueraded", sourceIP: "10.0.0.2", destIP: "192.168.99.11", destPort: 80, output: both, masq: false },
        { name: "external to external IP hits only local endpoint, unmasqueraded", sourceIP: EXT, destIP: "192.168.99.11", destPort: 80, output: local, masq: false },
        { name: "pod to LB IP hits only both endpoints, unmasqueraded", sourceIP: "10.0.0.2", destIP: "1.2.3.4", destPort: 80, output: both, masq: false },
        { name: "external to LB IP hits only local endpoint, unmasqueraded", sourceIP: EXT, destIP: "1.2.3.4", destPort: 80, output: local, masq: false },
        { name: "pod to NodePort hits both endpoints, unmasqueraded", sourceIP: "10.0.0.2", destIP: NODE, destPort: 3001, output: both, masq: false },
        { name: "external to NodePort hits only local endpoint, unmasqueraded", sourceIP: EXT, destIP: NODE, destPort: 3001, output: local, masq: false },
      ],
    );
  });

  it("TestExternalTrafficPolicyCluster", () => {
    const both = "10.180.0.1:80, 10.180.2.1:80";
    check(
      [svc("ns1", "svc1", { type: "LoadBalancer", externalTrafficPolicy: "Cluster", clusterIP: "172.30.0.41", externalIPs: ["192.168.99.11"], ports: [{ name: "p80", port: 80, protocol: "TCP", nodePort: 3001, targetPort: 80 }] }, ["1.2.3.4"])],
      [slice("ns1", "svc1", [{ addresses: ["10.180.0.1"] }, { addresses: ["10.180.2.1"], nodeName: TEST_NODE }], p80)],
      [
        { name: "pod to cluster IP hits both endpoints, unmasqueraded", sourceIP: "10.0.0.2", destIP: "172.30.0.41", destPort: 80, output: both, masq: false },
        { name: "pod to external IP hits both endpoints, masqueraded", sourceIP: "10.0.0.2", destIP: "192.168.99.11", destPort: 80, output: both, masq: true },
        { name: "external to external IP hits both endpoints, masqueraded", sourceIP: EXT, destIP: "192.168.99.11", destPort: 80, output: both, masq: true },
        { name: "pod to LB IP hits both endpoints, masqueraded", sourceIP: "10.0.0.2", destIP: "1.2.3.4", destPort: 80, output: both, masq: true },
        { name: "external to LB IP hits both endpoints, masqueraded", sourceIP: EXT, destIP: "1.2.3.4", destPort: 80, output: both, masq: true },
        { name: "pod to NodePort hits both endpoints, masqueraded", sourceIP: "10.0.0.2", destIP: NODE, destPort: 3001, output: both, masq: true },
        { name: "external to NodePort hits both endpoints, masqueraded", sourceIP: EXT, destIP: NODE, destPort: 3001, output: both, masq: true },
      ],
    );
  });
});

// The next two are read from pkg/proxy/nftables/proxier_test.go, whose flow cases for endpoint
// selection mirror the iptables proxier's (both use proxy.CategorizeEndpoints).
describe("kube-proxy's endpoint-selection flow tests", () => {
  const eps = (list: [string, string][]): EndpointSlice => ({ ...slice("ns1", "svc1", list.map(([ip, node]) => ({ addresses: [ip], conditions: { ready: true }, nodeName: node })), { name: "", port: 80 }), ports: [{ name: "", port: 80, protocol: "TCP" }] });
  const itp = (policy: "Cluster" | "Local"): Service => svc("ns1", "svc1", { clusterIP: "172.30.1.1", selector: { foo: "bar" }, internalTrafficPolicy: policy, ports: [{ name: "", port: 80, protocol: "TCP" }] });
  const toSvc = (output: string, masq?: boolean): Flow => ({ name: "pod to ClusterIP", sourceIP: "10.0.0.2", destIP: "172.30.1.1", destPort: 80, output, ...(masq !== undefined ? { masq } : {}) });
  it.each([
    { name: "internalTrafficPolicy is cluster", policy: "Cluster" as const, endpoints: [["10.0.1.1", TEST_NODE], ["10.0.1.2", "node1"], ["10.0.1.3", "node2"]] as [string, string][], output: "10.0.1.1:80, 10.0.1.2:80, 10.0.1.3:80" },
    { name: "internalTrafficPolicy is local and there is one local endpoint", policy: "Local" as const, endpoints: [["10.0.1.1", TEST_NODE], ["10.0.1.2", "node1"], ["10.0.1.3", "node2"]] as [string, string][], output: "10.0.1.1:80" },
    { name: "internalTrafficPolicy is local and there are multiple local endpoints", policy: "Local" as const, endpoints: [["10.0.1.1", TEST_NODE], ["10.0.1.2", TEST_NODE], ["10.0.1.3", "node2"]] as [string, string][], output: "10.0.1.1:80, 10.0.1.2:80" },
    { name: "internalTrafficPolicy is local and there are no local endpoints", policy: "Local" as const, endpoints: [["10.0.1.1", "node0"], ["10.0.1.2", "node1"], ["10.0.1.3", "node2"]] as [string, string][], output: "DROP" },
  ])("TestInternalTrafficPolicy: $name", ({ policy, endpoints, output }) => {
    check([itp(policy)], [eps(endpoints)], [toSvc(output, output === "DROP" ? undefined : false)]);
    check([itp(policy)], [], [{ ...toSvc("REJECT"), name: "endpoints deleted" }]);
  });

  const lb = svc("ns1", "svc1", { type: "LoadBalancer", externalTrafficPolicy: "Local", clusterIP: "172.30.1.1", healthCheckNodePort: 30000, ports: [{ name: "", port: 80, protocol: "TCP", targetPort: 80 }] }, ["1.2.3.4"]);
  type C = { ready: boolean; serving: boolean; terminating: boolean };
  const ts = (list: [string, C, string][]): EndpointSlice => ({ ...slice("ns1", "svc1", list.map(([ip, conditions, node]) => ({ addresses: [ip], conditions, nodeName: node })), { name: "", port: 80 }), ports: [{ name: "", port: 80, protocol: "TCP" }] });
  const R: C = { ready: true, serving: true, terminating: false };
  const ST: C = { ready: false, serving: true, terminating: true };
  const T: C = { ready: false, serving: false, terminating: true };
  it.each([
    { name: "ready endpoints exist", eps: [["10.0.1.1", R, TEST_NODE], ["10.0.1.2", R, TEST_NODE], ["10.0.1.3", ST, TEST_NODE], ["10.0.1.4", T, TEST_NODE], ["10.0.1.5", R, "node-1"]] as [string, C, string][], pod: "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80", ext: "10.0.1.1:80, 10.0.1.2:80" },
    { name: "only terminating endpoints exist", eps: [["10.0.1.2", ST, TEST_NODE], ["10.0.1.3", ST, TEST_NODE], ["10.0.1.4", T, TEST_NODE], ["10.0.1.5", R, "node-1"]] as [string, C, string][], pod: "10.0.1.5:80", ext: "10.0.1.2:80, 10.0.1.3:80" },
    { name: "terminating endpoints on remote node", eps: [["10.0.1.5", ST, "node-1"]] as [string, C, string][], pod: "10.0.1.5:80", ext: "DROP" },
    { name: "no usable endpoints on any node", eps: [["10.0.1.5", T, TEST_NODE], ["10.0.1.5", T, "node-1"]] as [string, C, string][], pod: "REJECT", ext: "REJECT" },
  ])("TestTerminatingEndpointsTrafficPolicyLocal: $name", ({ eps: list, pod, ext }) => {
    check([lb], [ts(list)], [
      { name: "pod to clusterIP", sourceIP: "10.0.0.2", destIP: "172.30.1.1", destPort: 80, output: pod },
      { name: "external to LB", sourceIP: EXT, destIP: "1.2.3.4", destPort: 80, output: ext, ...(ext.includes(":") ? { masq: false } : {}) },
    ]);
    check([lb], [], [
      { name: "pod to clusterIP after endpoints deleted", sourceIP: "10.0.0.2", destIP: "172.30.1.1", destPort: 80, output: "REJECT" },
      { name: "external to LB after endpoints deleted", sourceIP: EXT, destIP: "1.2.3.4", destPort: 80, output: "REJECT" },
    ]);
  });
});

describe("kube-proxy's chain tests", () => {
  const forwardTail = ['-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT', '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'];
  const chain = (restore: string, name: string): string[] => restore.split("\n").filter((l) => l.startsWith(`-A ${name} `));
  it.each([
    { nfacct: false, liberal: false, drop: ["-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"] },
    { nfacct: true, liberal: false, drop: ["-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP"] },
    { nfacct: false, liberal: true, drop: [] },
  ])("TestDropInvalidRule: tcpLiberal $liberal, nfacct $nfacct", ({ nfacct, liberal, drop }) => {
    const out = syncProxyRules({ services: [], endpointSlices: [] }, { ...FAKE_PROXIER, nfacct, conntrackTcpLiberal: liberal });
    expect(chain(out.restore, "KUBE-FORWARD")).toEqual([...drop, ...forwardTail]);
  });
  it.each([false, true])("TestMasqueradeRule: randomFully %s", (randomFully) => {
    const out = syncProxyRules({ services: [], endpointSlices: [] }, { ...FAKE_PROXIER, randomFully });
    expect(chain(out.restore, "KUBE-POSTROUTING")).toEqual([
      "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
      "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
      `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${randomFully ? " --random-fully" : ""}`,
    ]);
  });
  it("the real binary writes the mark with Go's %#08x (kubernetes#34006: 0x00004000/0x00004000)", () => {
    const { masqueradeMark: _, ...cfg } = FAKE_PROXIER;
    const out = syncProxyRules({ services: [], endpointSlices: [] }, cfg);
    expect(chain(out.restore, "KUBE-MARK-MASQ")).toEqual(["-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000"]);
  });
});
