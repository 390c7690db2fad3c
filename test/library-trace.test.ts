/**
 * podwire as another project's test fixture, written as a consumer would write it (the README's
 * library example): load a topology from a string, trace flows, assert on the typed result, and
 * look at a node's state. Imports go through the package's public entry point.
 */
import { describe, expect, it } from "vitest";
import { kernel, loadTopologyText, trace } from "../src/index.js";

const TOPOLOGY = `
apiVersion: podwire.dev/v1alpha1
kind: Cluster
metadata: {name: shop}
nodes:
  - {name: node-a, ip: 192.168.1.10}
  - {name: node-b, ip: 192.168.1.11}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      nodeSelector: {kubernetes.io/hostname: node-b}
      containers: [{name: api, image: shop/api:1, ports: [{containerPort: 9000}]}]
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: 9000}]
---
apiVersion: v1
kind: Pod
metadata: {name: frontend}
spec:
  nodeName: node-a
  containers: [{name: web, image: shop/web:1}]
`;

describe("podwire as a fixture", () => {
  const topo = loadTopologyText(TOPOLOGY);

  it("the frontend reaches the api through its Service, across nodes, unmasqueraded", () => {
    const r = trace(topo, { from: "pod/frontend", to: "api.default.svc.cluster.local:80" });
    expect(r.verdict).toBe("delivered");
    expect(r.delivered).toMatchObject({ kind: "pod", node: "node-b", port: 9000 });
    expect(r.observedSource?.ip).toBe(topo.cluster.get("Pod", "default/frontend")?.status?.podIP);
    expect(r.reply?.observedSource?.port).toBe(80);
  });

  it("a wrong port is refused, and the test can say so", () => {
    const r = trace(topo, { from: "pod/frontend", to: "svc/api:8080" });
    expect(r.verdict).not.toBe("delivered");
  });

  it("node state is there to inspect", () => {
    const routes = kernel.ipRoute(topo.dataplane.node("node-a"));
    expect(routes).toContain("10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink");
  });
});
