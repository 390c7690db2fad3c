/**
 * The topology loader (TOPOLOGY.md) and `podwire get`: problems as file:line:col with the field path,
 * all collected; the Cluster document strict, manifests validated by the apiserver; the Scenario
 * of the seeds' nginx story; the built-in default topology.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import { buildTopology } from "../src/topology/build.js";
import { TopologyError, parseTopology } from "../src/topology/load.js";

function problems(files: [string, string][]): string[] {
  try {
    buildTopology(parseTopology(files));
  } catch (e) {
    if (e instanceof TopologyError) return e.message.split("\n");
    throw e;
  }
  return [];
}

const CLUSTER = `apiVersion: podwire.dev/v1alpha1
kind: Cluster
networking:
  podSubnet: 10.244.0.0/16
nodes:
  - name: a
  - name: b
`;

describe("topology problems are reported as file:line:col: path: message, all together", () => {
  it("unknown fields in the Cluster document, with their path", () => {
    expect(problems([["c.yaml", CLUSTER.replace("  podSubnet", "  podSubnt: x\n  podSubnet")]])).toEqual([
      'c.yaml:4:3: networking.podSubnt: unknown field "podSubnt" (known: cni, bridge, flannel, podSubnet, nodeCidrMaskSize, serviceSubnet, nodePortRange, underlay, bridgePlugin, loadBalancer, kubeProxy, seed)',
    ]);
  });

  it("overlapping CIDRs, a podCIDR outside podSubnet, an address off the underlay, a duplicate name", () => {
    const text = `apiVersion: podwire.dev/v1alpha1
kind: Cluster
networking:
  serviceSubnet: 10.244.128.0/20
nodes:
  - name: a
    podCIDR: 10.99.0.0/24
  - name: a
    ip: 10.0.0.5
`;
    expect(problems([["t.yaml", text]])).toEqual([
      "t.yaml:4:3: networking.serviceSubnet: 10.244.128.0/20 overlaps networking.podSubnet 10.244.0.0/16",
      "t.yaml:7:5: nodes[0].podCIDR: 10.99.0.0/24 is not inside networking.podSubnet 10.244.0.0/16",
      'nodes[1].name: Duplicate value: "a"',
      "t.yaml:9:5: nodes[1].ip: 10.0.0.5 is not in networking.underlay.subnet 192.168.1.0/24",
    ].map((s) => (s.startsWith("nodes[1].name") ? `t.yaml:8:5: ${s}` : s)));
  });

  it("extraAddresses must be address/prefix strings", () => {
    const text = `${CLUSTER}    extraAddresses: [192.168.99.11/24, nonsense]\n`;
    const got = problems([["x.yaml", text]]);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^x\.yaml:8:5: nodes\[1\]\.extraAddresses\[1\]: /);
  });

  it("manifests are validated as the apiserver does, at the field's line, across files", () => {
    const svc = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - port: 80
      nodePort: 30001
`;
    const ns = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: api:1}]}
`;
    expect(problems([["c.yaml", CLUSTER], ["svc.yaml", svc], ["api.yaml", ns]])).toEqual([
      'api.yaml:1:1: namespaces "shop" not found',
      "svc.yaml:9:7: spec.ports[0].nodePort: Service \"web\" is invalid: Forbidden: may not be used when `type` is 'ClusterIP'",
    ]);
  });

  it("a file with no documents is an error, as for kubectl apply; so is malformed YAML", () => {
    expect(problems([["empty.yaml", "# nothing\n"]])).toEqual(["empty.yaml:1: no objects passed to apply"]);
    expect(problems([["bad.yaml", "kind: Service\n  x: [\n"]])[0]).toMatch(/^bad\.yaml:\d+:\d+: YAML: /);
  });

  it("a Namespace document makes its objects acceptable, whatever the order of the files", () => {
    const ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n";
    const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec: {containers: [{name: c, image: busybox:1.36}]}\n";
    const t = buildTopology(parseTopology([["pod.yaml", pod], ["ns.yaml", ns]]));
    expect(t.cluster.get("Pod", "shop/p")?.status?.phase).toBe("Running");
    // No Cluster document: the built-in default cluster (node-1, node-2).
    expect(t.cluster.list("Node").map((n) => n.metadata.name)).toEqual(["node-1", "node-2"]);
  });
});

describe("the nginx cordon/drain Scenario fixture", () => {
  const file = "topologies/nginx-cordon-drain.yaml";
  const t = buildTopology(parseTopology([[file, readFileSync(file, "utf8")]]));

  it("records the refused drain and goes on; the node ends drained and cordoned, pods moved", () => {
    expect(t.steps.map((s) => [s.verb, s.failed === undefined])).toEqual([["cordon", true], ["scale", true], ["drain", false], ["drain", true], ["uncordon", true]]);
    expect(t.steps[2]?.failed?.split("\n")[0]).toMatch(/^unable to drain node "worker-1" due to error: cannot delete DaemonSet-managed Pods \(use --ignore-daemonsets to ignore\): kube-system\/kube-proxy-[a-z0-9]{5}, continuing command\.\.\.$/);
    const nginx = t.cluster.list("Pod", "default");
    expect(nginx).toHaveLength(6);
    expect(nginx.every((p) => p.spec.nodeName === "worker-2")).toBe(true);
    expect(t.cluster.get("Node", "worker-1")?.spec.unschedulable).toBe(true);
    expect(t.cluster.events("default").some((e) => e.reason === "ScenarioStepFailed")).toBe(true);
  });

  it("a refused step without expectFailure stops the run naming the step", () => {
    const text = readFileSync(file, "utf8").replace("    expectFailure: true\n", "");
    const line = text.split("\n").indexOf("  - drain: {node: worker-1}") + 1;
    expect(line).toBeGreaterThan(0);
    expect(problems([[file, text]])).toEqual([`${file}:${line}:5: steps[2].drain: step 3 (drain) failed: error: ${t.steps[2]?.failed?.split("\n")[0]}`]);
  });
});

describe("podwire get", () => {
  async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const code = await main(args, { stdout: (s) => (out += s), stderr: (s) => (err += s), isTTY: false, env: {} });
    return { code, out, err };
  }

  it("prints nodes in kubectl's table, with SchedulingDisabled for a cordoned node", async () => {
    const r = await run(["get", "nodes", "-f", "topologies/nginx-cordon-drain.yaml"]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      ["NAME            STATUS                     ROLES           AGE   VERSION", "control-plane   Ready                      control-plane   11s   v1.33.1", "worker-1        Ready,SchedulingDisabled   <none>          11s   v1.33.1", "worker-2        Ready                      <none>          11s   v1.33.1", ""].join("\n"),
    );
  });

  it("-o json is a kubectl List; the default topology's Services carry every type", async () => {
    const r = await run(["get", "services", "-A", "-o", "json"]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.out) as { kind: string; items: { spec: { type: string } }[] };
    expect(list.kind).toBe("List");
    expect(new Set(list.items.map((s) => s.spec.type))).toEqual(new Set(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]));
  });

  it("bad input exits 1 with one line per problem", async () => {
    const r = await run(["get", "pods", "-f", "no/such.yaml"]);
    expect(r).toMatchObject({ code: 1, out: "" });
    expect(r.err).toBe("podwire: no/such.yaml: no such file or directory\n");
    const r2 = await run(["get", "widgets"]);
    expect(r2.err).toBe('podwire: get: unknown resource "widgets" (nodes, pods, services, endpointslices, events)\n');
  });
});
