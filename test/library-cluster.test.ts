/**
 * The control plane as another project's test would use it (README "Library"): load a topology
 * from text, read the settled objects, operate, settle again.
 */
import { expect, it } from "vitest";
import { cordon, drain, loadTopologyText } from "../src/index.js";

it("README example: a Deployment on two nodes, drained", () => {
  const topo = loadTopologyText(`
apiVersion: podwire.dev/v1alpha1
kind: Cluster
nodes: [{name: node-1}, {name: node-2}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27"}]}
`);
  const c = topo.cluster;
  expect(c.list("Pod").filter((p) => p.spec.nodeName === "node-1")).toHaveLength(2);
  expect(cordon(c, "node-2")).toEqual(["node/node-2 cordoned"]);
  drain(c, "node-1", { ignoreDaemonSets: true });
  c.settle();
  // The two evicted pods are recreated, but node-1 is drained and node-2 cordoned: they wait.
  const pending = c.list("Pod").filter((p) => !p.spec.nodeName);
  expect(pending).toHaveLength(2);
  expect(pending[0]?.status?.conditions?.[0]?.message).toBe("0/2 nodes are available: 2 node(s) were unschedulable. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling..");
});
