/**
 * The differential suite (the materialize issue): every fixture topology is built in real
 * namespaces and every generated flow is probed with real packets; the kernel's outcome, the
 * endpoint that answered and the source address it saw must be among the emulator's answers
 * (`podwire verify`). Then targeted failure modes, built from small topologies: ip_forward off,
 * br_netfilter off, the FORWARD policy DROP without accepting rules, a wrong targetPort, no
 * endpoints, externalTrafficPolicy Local without a local endpoint. And the comparison is shown to
 * bite: a sysctl flipped on the real side only is caught. Skips when not root.
 */
import { readdirSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { loadTopologyText, type Topology } from "../../src/topology/index.js";
import { defaultFlows, openLab, type Flow, type Lab } from "../../src/materialize/verify.js";
import { applyPlan, destroyPrefix, listNetns } from "../../src/materialize/apply.js";
import { materializePlan } from "../../src/materialize/plan.js";
import { oracleUnavailable } from "../support/netns.js";

const why = oracleUnavailable();
if (why) console.warn(`skipping the real-kernel verify suite: ${why}`);
const PREFIX = `pv${process.pid % 100000}`;

const dir = new URL("../../topologies/", import.meta.url);
const fixtures = readdirSync(dir).filter((f) => f.endsWith(".yaml"));

function lines(rows: ReturnType<Lab["check"]>[]): string[] {
  return rows.filter((r) => !r.agree).map((r) => `${r.flow.from} → ${r.flow.to} ${r.flow.proto}: emulator ${r.emulator.outcomes.join("|")} [${r.emulator.seen.join(", ")}], kernel ${r.kernel.outcomes.join("|")} [${r.kernel.seen.join(", ")}]`);
}

describe.skipIf(why !== undefined)("podwire verify: the emulator against the real kernel", () => {
  afterAll(() => {
    for (const n of listNetns()) if (n.startsWith(`${PREFIX}-`)) execFileSync("ip", ["netns", "del", n]);
  });

  it.each(fixtures)("every generated flow of topologies/%s agrees", async (f) => {
    const t = loadTopologyText(readFileSync(new URL(f, dir), "utf8"), `topologies/${f}`);
    const lab = await openLab(t, PREFIX);
    try {
      const rows = defaultFlows(t, 80).map((flow) => lab.check(flow, 2));
      expect(rows.length).toBeGreaterThan(0);
      expect(lines(rows)).toEqual([]);
    } finally {
      lab.close();
    }
    expect(listNetns().filter((n) => n.startsWith(`${PREFIX}-`))).toEqual([]);
  }, 240_000);

  const twoNodes = (networking: string, nodeExtra = "", manifests = ""): Topology =>
    loadTopologyText(`apiVersion: podwire.dev/v1alpha1
kind: Cluster
networking: {${networking}}
nodes:
  - {name: node-1, ip: 192.168.1.10${nodeExtra}}
  - {name: node-2, ip: 192.168.1.11}
hosts:
  - {name: client, ip: 192.168.1.100}
---
apiVersion: v1
kind: Pod
metadata: {name: a, labels: {app: a}}
spec: {nodeName: node-1, containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, labels: {app: b}}
spec: {nodeName: node-1, containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, labels: {app: c}}
spec: {nodeName: node-2, containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}
${manifests}`);

  const cases: { name: string; t: () => Topology; flows: Flow[]; expect: Record<string, string> }[] = [
    {
      name: "ip_forward off on node-1: across nodes is dropped, same node still bridged (T2)",
      t: () => twoNodes("", ", sysctls: {net.ipv4.ip_forward: 0}"),
      flows: [{ from: "pod/a", to: "pod/c:8080", proto: "tcp" }, { from: "pod/a", to: "pod/b:8080", proto: "tcp" }],
      expect: { "pod/a → pod/c:8080": "timeout", "pod/a → pod/b:8080": "delivered" },
    },
    {
      name: "br_netfilter off on node-1: a Service reply from a pod on the same bridge is not un-NATed (T1)",
      t: () => twoNodes("", ", sysctls: {net.bridge.bridge-nf-call-iptables: 0}", "---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {selector: {app: b}, ports: [{port: 80, targetPort: 8080}]}\n"),
      flows: [{ from: "pod/a", to: "svc/b:80", proto: "tcp" }],
      expect: { "pod/a → svc/b:80": "timeout" },
    },
    {
      name: "a wrong targetPort: refused by the pod",
      t: () => twoNodes("", "", "---\napiVersion: v1\nkind: Service\nmetadata: {name: c}\nspec: {selector: {app: c}, ports: [{port: 80, targetPort: 9090}]}\n"),
      flows: [{ from: "pod/a", to: "svc/c:80", proto: "tcp" }],
      expect: { "pod/a → svc/c:80": "refused" },
    },
    {
      name: "no endpoints: REJECT",
      t: () => twoNodes("", "", "---\napiVersion: v1\nkind: Service\nmetadata: {name: none}\nspec: {selector: {app: nothing}, ports: [{port: 80}]}\n"),
      flows: [{ from: "pod/a", to: "svc/none:80", proto: "tcp" }, { from: "node/node-2", to: "svc/none:80", proto: "tcp" }],
      expect: { "pod/a → svc/none:80": "refused", "node/node-2 → svc/none:80": "refused" },
    },
    {
      name: "externalTrafficPolicy Local without a local endpoint: dropped on node-1, kept on node-2 (T9)",
      t: () => twoNodes("", "", "---\napiVersion: v1\nkind: Service\nmetadata: {name: c}\nspec: {type: NodePort, externalTrafficPolicy: Local, selector: {app: c}, ports: [{port: 80, targetPort: 8080, nodePort: 30090}]}\n"),
      flows: [{ from: "host/client", to: "node/node-1:30090", proto: "tcp" }, { from: "host/client", to: "node/node-2:30090", proto: "tcp" }],
      expect: { "host/client → node/node-1:30090": "timeout", "host/client → node/node-2:30090": "delivered" },
    },
    {
      name: "Docker's FORWARD policy DROP: NodePort traffic still forwarded (KUBE-FORWARD accepts kube-proxy's mark), containers still reach out",
      t: () => loadTopologyText(readFileSync(new URL("docker0-single-host.yaml", dir), "utf8").replace("ip: 192.168.1.100", 'ip: 192.168.1.100\n    listen: "22"')),
      flows: [{ from: "pod/web", to: "host/laptop:22", proto: "tcp" }, { from: "host/laptop", to: "node/docker-host:30080", proto: "tcp" }],
      expect: { "pod/web → host/laptop:22": "delivered", "host/laptop → node/docker-host:30080": "delivered" },
    },
  ];

  it.each(cases)("$name", async (c) => {
    const t = c.t();
    const lab = await openLab(t, PREFIX);
    try {
      const rows = c.flows.map((f) => lab.check(f, 2));
      expect(lines(rows)).toEqual([]);
      expect(Object.fromEntries(rows.map((r) => [`${r.flow.from} → ${r.flow.to}`, r.kernel.outcomes.join("|")]))).toEqual(c.expect);
    } finally {
      lab.close();
    }
  }, 120_000);

  it("a build that fails midway leaves no namespace of the prefix behind, and names the command", () => {
    const t = twoNodes("");
    const plan = materializePlan(t, PREFIX);
    const broken = { ...plan, commands: [...plan.commands.slice(0, 20), { ns: plan.namespaces[1] as string, argv: ["ip", "link", "add", "x0", "type", "no-such-kind"] }] };
    expect(() => applyPlan(broken)).toThrow(/ip link add x0 type no-such-kind/);
    expect(listNetns().filter((n) => n.startsWith(`${PREFIX}-`))).toEqual([]);
  });

  it("applying twice with one prefix is refused, naming the namespaces", () => {
    const plan = materializePlan(twoNodes(""), PREFIX);
    applyPlan(plan);
    try {
      expect(() => applyPlan(plan)).toThrow(new RegExp(`prefix "${PREFIX}" is in use: namespaces .*${PREFIX}-sw`));
    } finally {
      expect(destroyPrefix(PREFIX).sort()).toEqual([...plan.namespaces].sort());
    }
    expect(listNetns().filter((n) => n.startsWith(`${PREFIX}-`))).toEqual([]);
  });

  it("bites: ip_forward turned off on the real node-2 only is caught as a disagreement", async () => {
    const t = twoNodes("");
    const lab = await openLab(t, PREFIX);
    try {
      execFileSync("ip", ["netns", "exec", lab.plan.real.get("node-2") as string, "sysctl", "-qw", "net.ipv4.ip_forward=0"]);
      const row = lab.check({ from: "pod/a", to: "pod/c:8080", proto: "tcp" }, 2);
      expect(row.emulator.outcomes).toEqual(["delivered"]);
      expect(row.kernel.outcomes).toEqual(["timeout"]);
      expect(row.agree).toBe(false);
    } finally {
      lab.close();
    }
  }, 60_000);
});
