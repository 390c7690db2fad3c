/**
 * `podwire trace` on the fixtures, for the flows the trace issue lists. The expected outcomes are
 * the real components' as the reference records them: dataplane.md §7.8 (a: same-node pods
 * bridged, TTL kept; b: across nodes over VXLAN, no NAT; c/d: ClusterIP DNAT and the reply
 * un-DNATed; e: hairpin masqueraded to the cni0 address; f: NodePort with eTP Cluster
 * masqueraded to the ingress node's flannel.1 address, with eTP Local dropped by
 * KUBE-EXTERNAL-SERVICES on a node without an endpoint and the client address kept on one with
 * it; g: pod → outside masqueraded by FLANNEL-POSTRTG to the node address; h: node → ClusterIP
 * masqueraded to the flannel.1 address), kube-proxy.md §4.9 (no endpoints → REJECT with ICMP port
 * unreachable; iTP Local without a local endpoint → DROP) and the netns testbed's probes.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadTopologyText, type Topology } from "../src/topology/index.js";
import { trace, type TraceRequest } from "../src/trace/tracer.js";
import { traceJson, traceText } from "../src/trace/render.js";
import { main } from "../src/cli/main.js";

const load = (f: string): Topology => loadTopologyText(readFileSync(new URL(`../topologies/${f}`, import.meta.url), "utf8"), `topologies/${f}`);

describe("trace on topologies/service-policies.yaml", () => {
  let t: Topology;
  beforeAll(() => {
    t = load("service-policies.yaml");
  });
  const podIp = (prefix: string): string => t.cluster.list("Pod").find((p) => p.metadata.name.startsWith(prefix))?.status?.podIP ?? "";
  const run = (r: TraceRequest) => trace(t, r);

  it("external → NodePort with eTP Cluster on a node without the endpoint: masqueraded to that node's flannel.1 address (§7.8 f)", () => {
    const r = run({ from: "host/client", to: "node/worker-2:30080" });
    expect(r.verdict).toBe("delivered");
    expect(r.delivered?.node).toBe("worker-1");
    expect(r.observedSource?.ip).toBe("10.244.2.0");
    expect(r.nat.map((n) => [n.node, n.type])).toEqual([["worker-2", "DNAT"], ["worker-2", "MASQUERADE"]]);
    expect(r.hops.some((h) => h.event === "vxlan encap" && h.detail.includes("> 192.168.1.11:8472 udp"))).toBe(true);
    expect(r.reply?.observedSource).toEqual({ ip: "192.168.1.12", port: 30080 });
  });

  it("external → NodePort with eTP Local on a node without an endpoint: dropped by KUBE-EXTERNAL-SERVICES (§7.8 f, T9)", () => {
    const r = run({ from: "host/client", to: "node/worker-2:30081" });
    expect(r.verdict).toBe("dropped");
    expect([r.drop?.node, r.drop?.table, r.drop?.chain]).toEqual(["worker-2", "filter", "KUBE-EXTERNAL-SERVICES"]);
    expect(r.drop?.rule).toContain('"default/web-local has no local endpoints"');
    expect(r.explanation.at(-1)).toBe("externalTrafficPolicy: Local and no local endpoint of Service default/web-local on worker-2 → dropped (filter KUBE-EXTERNAL-SERVICES)");
  });

  it("external → NodePort with eTP Local on the node with the endpoint: the client's address is kept (§7.8 f)", () => {
    const r = run({ from: "host/client", to: "node/worker-1:30081" });
    expect([r.verdict, r.observedSource?.ip]).toEqual(["delivered", "192.168.1.100"]);
    expect(r.nat.map((n) => n.type)).toEqual(["DNAT"]);
  });

  it("external → LoadBalancer address: the load balancer hands it to a node with a local endpoint; source range allowed; client kept", () => {
    const r = run({ from: "host/client", to: "lb/web-lb:80" });
    expect([r.verdict, r.delivered?.node, r.observedSource?.ip]).toEqual(["delivered", "worker-1", "192.168.1.100"]);
    expect(r.hops.find((h) => h.where === "host client")).toMatchObject({ event: "load balancer", detail: expect.stringContaining("via 192.168.1.11 dev eth0 src 192.168.1.100 (the load balancer hands") });
    expect(r.reply?.observedSource?.ip).toBe(t.cluster.get("Service", "default/web-lb")?.status?.loadBalancer?.ingress?.[0]?.ip);
  });

  it("pod → ClusterIP with internalTrafficPolicy Local and no local endpoint: DROP in filter KUBE-SERVICES (kube-proxy.md §4.9)", () => {
    const r = run({ from: "pod/client-2", to: "svc/web-itp:80" });
    expect([r.verdict, r.drop?.chain]).toEqual(["dropped", "KUBE-SERVICES"]);
    expect(r.explanation.at(-1)).toContain("internalTrafficPolicy: Local and no local endpoint of Service default/web-itp on worker-2");
  });

  it("pod → Service without endpoints: REJECT, the sender gets ICMP port unreachable (kube-proxy.md §4.9)", () => {
    const r = run({ from: "pod/client-2", to: "svc/broken:80" });
    expect(r.verdict).toBe("rejected");
    expect(r.reply?.what).toBe("ICMP port unreachable");
    expect(r.explanation.at(-1)).toBe("Service default/broken has no ready endpoints → REJECT in filter KUBE-SERVICES on worker-2");
  });

  it("pod → pod across nodes: over VXLAN, no NAT, TTL 64 → 62 (§7.8 b)", () => {
    const r = run({ from: "pod/client-2", to: `${podIp("web-")}:8080` });
    expect([r.verdict, r.observedSource?.ip, r.nat.length]).toEqual(["delivered", podIp("client-2"), 0]);
    expect(r.hops.filter((h) => h.event === "ttl").map((h) => h.detail)).toEqual(["TTL 64 → 63 (forwarded)", "TTL 63 → 62 (forwarded)"]);
  });

  it("node → ClusterIP: masqueraded to the node's flannel.1 address; the reply comes from the cluster IP (§7.8 h)", () => {
    const r = run({ from: "node/control-plane", to: "svc/web-cluster:80" });
    expect([r.verdict, r.observedSource?.ip]).toEqual(["delivered", "10.244.0.0"]);
    expect(r.reply?.observedSource).toEqual({ ip: t.cluster.get("Service", "default/web-cluster")?.spec.clusterIP, port: 80 });
  });

  it("pod → outside: FLANNEL-POSTRTG masquerades to the node's address (§7.8 g)", () => {
    const r = run({ from: "pod/client-2", to: "host/client:8080" });
    expect([r.verdict, r.delivered?.kind, r.observedSource?.ip]).toEqual(["delivered", "host", "192.168.1.12"]);
    expect(r.nat[0]?.rule).toContain("FLANNEL-POSTRTG");
  });

  it("a port nothing listens on: the pod's kernel answers RST", () => {
    const r = run({ from: "pod/client-2", to: `${podIp("web-")}:9999` });
    expect([r.verdict, r.reply?.what]).toEqual(["rejected", "TCP RST"]);
  });

  it("pod → its own Service (hairpin) on one path: masqueraded to the cni0 address (§7.8 e)", () => {
    const web = t.cluster.list("Pod").find((p) => p.metadata.name.startsWith("web-"));
    const r = run({ from: `pod/${web?.metadata.name}`, to: "svc/web-cluster:80", allPaths: true });
    const self = r.paths?.find((p) => p.delivered?.name === web?.metadata.name);
    expect(self?.observedSource?.ip).toBe("10.244.1.1");
    expect(self?.explanation.some((l) => l.includes("hairpin"))).toBe(true);
    const other = r.paths?.find((p) => p.delivered?.name !== web?.metadata.name);
    expect(other?.observedSource?.ip).toBe(web?.status?.podIP);
    expect(r.paths?.reduce((s, p) => s + p.probability, 0)).toBeCloseTo(1, 12);
  });
});

describe("trace on the other fixtures", () => {
  it("same-node pods on the default topology: bridged on cni0, TTL kept (§7.8 a)", () => {
    const t = load("default.yaml");
    const pods = t.cluster.list("Pod").filter((p) => p.spec.nodeName === "node-1");
    const [a, b] = pods;
    const r = trace(t, { from: `pod/${a?.metadata.namespace}/${a?.metadata.name}`, to: `pod/${b?.metadata.namespace}/${b?.metadata.name}:${b?.spec.containers[0]?.ports?.[0]?.containerPort ?? 80}`, proto: b?.spec.containers[0]?.ports?.[0]?.protocol === "UDP" ? "udp" : "tcp" });
    expect(r.verdict).toBe("delivered");
    expect(r.hops.some((h) => h.event === "ttl")).toBe(false);
    expect(r.hops.some((h) => h.event === "bridge" && h.detail.includes("is on port"))).toBe(true);
  });

  it("docker0: a container reaching the outside is masqueraded by Docker's rule", () => {
    const t = loadTopologyText(readFileSync(new URL("../topologies/docker0-single-host.yaml", import.meta.url), "utf8").replace("ip: 192.168.1.100", 'ip: 192.168.1.100\n    listen: "22"'));
    const r = trace(t, { from: "pod/web", to: "host/laptop:22" });
    expect([r.verdict, r.observedSource?.ip]).toEqual(["delivered", "192.168.1.10"]);
    expect(r.nat[0]?.rule).toBe("-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE");
    expect(r.explanation.some((l) => l.includes("Docker masquerades"))).toBe(true);
  });

  it("host-gw: pod → pod across nodes routed via the other node's address, unencapsulated", () => {
    const t = load("flannel-host-gw.yaml");
    const [a, b] = t.cluster.list("Pod");
    const r = trace(t, { from: `pod/${a?.metadata.name}`, to: `pod/${b?.metadata.name}:80` });
    expect(r.verdict).toBe("delivered");
    expect(r.hops.some((h) => h.event.startsWith("vxlan"))).toBe(false);
    expect(r.hops.some((h) => h.event === "route" && /via 192\.168\.1\.1[01] dev eth0/.test(h.detail))).toBe(true);
  });

  it("a bare outside address entering a node with --at", () => {
    const t = load("service-policies.yaml");
    const r = trace(t, { from: "198.51.100.7", at: "node/worker-1", to: "node/worker-1:30081" });
    expect([r.verdict, r.observedSource?.ip]).toEqual(["delivered", "198.51.100.7"]);
    // The reply goes to the default gateway, which no host answers for: it is lost.
    expect(r.reply?.verdict).toBe("dropped");
  });

  it("DNS names resolve to the Service's cluster IP, as CoreDNS answers", () => {
    const t = load("service-policies.yaml");
    const r = trace(t, { from: "pod/client-2", to: "web-cluster.default.svc.cluster.local:80" });
    expect(r.request.dst).toBe(t.cluster.get("Service", "default/web-cluster")?.spec.clusterIP);
  });
});

describe("trace output", () => {
  const t = load("default.yaml");
  it("is deterministic for a seed, and JSON follows podwire.dev/trace/v1", () => {
    const a = trace(t, { from: "pod/client", to: "svc/web:80", seed: 3 });
    const b = trace(t, { from: "pod/client", to: "svc/web:80", seed: 3 });
    expect(traceText(a)).toBe(traceText(b));
    const j = traceJson(a) as Record<string, unknown>;
    expect(Object.keys(j)).toEqual(expect.arrayContaining(["schema", "packet", "verdict", "delivered", "observedSource", "drop", "reply", "nat", "hops"]));
    expect(j["schema"]).toBe("podwire.dev/trace/v1");
    expect((j["packet"] as { src: string }).src).toMatch(/^10\.244\.0\.\d+:\d+$/);
  });

  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const code = await main(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s), isTTY: false, env: {} });
    return { code, out, err };
  }

  it("with no --from/--to traces a representative flow of the default topology and says so", async () => {
    const r = await cli("trace");
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toBe("No --from/--to given: tracing pod/default/client → svc/default/web:80 (tcp), a representative flow of the topology.");
    await expect(r.out).toMatchFileSnapshot("__snapshots__/trace.default.txt");
  });

  it("snapshots: a drop and its JSON, all paths", async () => {
    const f = ["-f", "topologies/service-policies.yaml"];
    await expect((await cli("trace", ...f, "--from", "host/client", "--to", "node/worker-2:30081")).out).toMatchFileSnapshot("__snapshots__/trace.etp-local-drop.txt");
    await expect((await cli("trace", ...f, "--from", "host/client", "--to", "node/worker-2:30080", "-o", "json", "--all-paths")).out).toMatchFileSnapshot("__snapshots__/trace.nodeport.json");
  });

  it.each([
    { argv: ["trace", "--from", "pod/nope", "--to", "svc/web:80"], msg: 'podwire: --from: no pod "default/nope" in the topology' },
    { argv: ["trace", "--from", "pod/client"], msg: "--to: give it with --from (or neither, for a representative flow)" },
    { argv: ["trace", "--from", "pod/client", "--to", "svc/web"], msg: "--to: needs a port (…:PORT) for tcp" },
    { argv: ["trace", "--from", "pod/client", "--to", "10.96.0.10:53", "--proto", "sctp"], msg: '--proto: "sctp" must be tcp, udp or icmp' },
    { argv: ["trace", "--from", "9.9.9.9", "--to", "svc/web:80"], msg: "--from: 9.9.9.9 belongs to no pod, node or host; say where it enters with --at node/NAME" },
    { argv: ["trace", "--from", "9.9.9.9", "--at", "worker-1", "--to", "svc/web:80"], msg: '--at: "worker-1" must be node/NAME' },
    { argv: ["trace", "--from", "pod/client", "--to", "lb/web:80"], msg: 'Service "default/web" has no load-balancer address (type ClusterIP)' },
    { argv: ["trace", "--from", "pod/client", "--to", "10.96.0.10:70000"], msg: '--to: port "70000" must be 1–65535' },
    { argv: ["trace", "--from", "pod/client", "--to", "1.2.3.4:80", "-o", "yaml"], msg: '-o: "yaml" must be text or json' },
  ])("$argv → exit 1, one line", async ({ argv, msg }) => {
    const r = await cli(...argv);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toContain(msg);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });
});
