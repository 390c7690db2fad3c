/**
 * Builders for control-plane tests: a cluster with the TOPOLOGY.md defaults and manifests written
 * the way users write them.
 */
import { Cluster, type NodeSpec } from "../../src/cluster/cluster.js";
import type { AnyObject, Deployment, Pod, Service } from "../../src/cluster/api/types.js";
import { cidr } from "../../src/net/cidr.js";

/** A cluster with the default networking (10.244.0.0/16, 10.96.0.0/12, 30000-32767) and the given nodes. */
export function testCluster(nodes: readonly (Omit<NodeSpec, "ip"> & { ip?: string })[], opts: { seed?: number; pool?: string } = {}): Cluster {
  const c = new Cluster({
    seed: opts.seed ?? 1,
    serviceSubnet: cidr("10.96.0.0/12"),
    podSubnet: cidr("10.244.0.0/16"),
    nodeCidrMaskSize: 24,
    nodePortRange: { base: 30000, last: 32767 },
    ...(opts.pool ? { loadBalancerPool: cidr(opts.pool) } : {}),
  });
  nodes.forEach((n, i) => c.addNode({ ...n, ip: n.ip ?? `192.168.1.${10 + i}` }));
  c.settle();
  return c;
}

/** The seeds' three nodes: a tainted control plane and two workers... plus `extra` workers. */
export function threeNodes(extraWorkers = 0): Cluster {
  const nodes: (Omit<NodeSpec, "ip">)[] = [{ name: "control-plane", role: "control-plane" }, { name: "worker-1" }, { name: "worker-2" }];
  for (let i = 0; i < extraWorkers; i += 1) nodes.push({ name: `worker-${3 + i}` });
  return testCluster(nodes);
}

/** `kubectl create deployment NAME --image=IMAGE --replicas=N` with `app: NAME`. */
export function deployment(name: string, replicas: number, extra: { image?: string; cpu?: string; ns?: string; port?: number } = {}): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, ...(extra.ns ? { namespace: extra.ns } : {}) },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name, image: extra.image ?? "nginx", ...(extra.port ? { ports: [{ containerPort: extra.port }] } : {}), ...(extra.cpu ? { resources: { requests: { cpu: extra.cpu } } } : {}) }] },
      },
    },
  };
}

/** A bare pod. */
export function pod(name: string, spec: Partial<Pod["spec"]> = {}, labels: Record<string, string> = {}): Pod {
  return { apiVersion: "v1", kind: "Pod", metadata: { name, labels }, spec: { containers: [{ name: "app", image: "busybox:1.36" }], ...spec } };
}

/** A Service. */
export function service(name: string, spec: Service["spec"]): Service {
  return { apiVersion: "v1", kind: "Service", metadata: { name }, spec };
}

/** Applies and settles. */
export function applyAll(c: Cluster, objs: readonly AnyObject[]): void {
  for (const o of objs) c.apply(o);
  c.settle();
}

/** Pods of a deployment (by app label) per node. */
export function placement(c: Cluster, app: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of c.list("Pod")) {
    if (p.metadata.labels?.["app"] !== app || p.metadata.deletionTimestamp) continue;
    const n = p.spec.nodeName ?? "<pending>";
    out[n] = (out[n] ?? 0) + 1;
  }
  return out;
}
