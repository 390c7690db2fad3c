/**
 * The scheduler cache's per-node aggregates, kept from the watch, against a recount from scratch
 * over the pods as they stand. The reference is the definition (kube-scheduler's NodeInfo sums the
 * requests and host ports of the pods assigned to the node that have not finished), applied to
 * the final objects; the cache sees only the stream of changes, most of them status updates that
 * keep the spec, which it skips.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Node, Pod } from "../../src/cluster/api/types.js";
import { NodeInfoCache, occupiesNode, podHostPorts, podRequests } from "../../src/cluster/node-info.js";
import type { WatchEvent } from "../../src/cluster/store.js";

const NODES = ["n1", "n2", "n3"];

function node(name: string): Node {
  return { apiVersion: "v1", kind: "Node", metadata: { name }, spec: {}, status: { allocatable: { cpu: "4", memory: "8Gi", pods: "110" } } } as Node;
}

function pod(name: string, cpu: string | undefined, hostPort: number | undefined): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: { containers: [{ name: "c", image: "nginx", ...(cpu ? { resources: { requests: { cpu } } } : {}), ...(hostPort ? { ports: [{ containerPort: 80, hostPort }] } : {}) }] },
  } as Pod;
}

type Op =
  | { op: "create"; pod: number; cpu: string | undefined; hostPort: number | undefined }
  | { op: "bind"; pod: number; node: number }
  | { op: "status"; pod: number; phase: "Pending" | "Running" | "Succeeded" | "Failed" }
  | { op: "resize"; pod: number; cpu: string }
  | { op: "delete"; pod: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("create" as const), pod: fc.nat(5), cpu: fc.option(fc.constantFrom("100m", "250m", "1"), { nil: undefined }), hostPort: fc.option(fc.constantFrom(8080, 9090), { nil: undefined }) }),
  fc.record({ op: fc.constant("bind" as const), pod: fc.nat(5), node: fc.nat(NODES.length - 1) }),
  fc.record({ op: fc.constant("status" as const), pod: fc.nat(5), phase: fc.constantFrom("Pending" as const, "Running" as const, "Succeeded" as const, "Failed" as const) }),
  fc.record({ op: fc.constant("resize" as const), pod: fc.nat(5), cpu: fc.constantFrom("100m", "2") }),
  fc.record({ op: fc.constant("delete" as const), pod: fc.nat(5) }),
);

function recount(pods: readonly Pod[], name: string) {
  const on = pods.filter((p) => occupiesNode(p) && p.spec.nodeName === name);
  const hostPorts = new Map<string, number>();
  for (const p of on) for (const hp of podHostPorts(p)) hostPorts.set(hp, (hostPorts.get(hp) ?? 0) + 1);
  return {
    milliCpu: on.reduce((s, p) => s + podRequests(p).milliCpu, 0),
    nonZeroMilliCpu: on.reduce((s, p) => s + podRequests(p).nonZeroMilliCpu, 0),
    pods: on.length,
    podKeys: new Set(on.map((p) => `default/${p.metadata.name}`)),
    hostPorts,
  };
}

describe("NodeInfoCache", () => {
  it("equals a recount of the live pods after any stream of creates, binds, status updates, resizes and deletes", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const cache = new NodeInfoCache();
        let rv = 0;
        const emit = (type: WatchEvent["type"], object: Node | Pod) => cache.observe({ type, object, resourceVersion: (rv += 1) });
        for (const n of NODES) emit("ADDED", node(n));
        const live = new Map<number, Pod>();
        for (const o of ops) {
          const cur = live.get(o.pod);
          if (o.op === "create") {
            if (cur) continue;
            const p = pod(`p${o.pod}`, o.cpu, o.hostPort);
            live.set(o.pod, p);
            emit("ADDED", p);
          } else if (!cur) {
            continue;
          } else if (o.op === "bind") {
            if (cur.spec.nodeName) continue;
            const p = { ...cur, spec: { ...cur.spec, nodeName: NODES[o.node] as string } };
            live.set(o.pod, p);
            emit("MODIFIED", p);
          } else if (o.op === "status") {
            // As the kubelet writes it: a new object, the same spec.
            const p = { ...cur, status: { phase: o.phase } };
            live.set(o.pod, p);
            emit("MODIFIED", p);
          } else if (o.op === "resize") {
            // An in-place resize: a new spec with other requests, on the same node.
            const p = { ...cur, spec: { ...cur.spec, containers: cur.spec.containers.map((c) => ({ ...c, resources: { requests: { cpu: o.cpu } } })) } };
            live.set(o.pod, p);
            emit("MODIFIED", p);
          } else {
            live.delete(o.pod);
            emit("DELETED", cur);
          }
        }
        for (const n of NODES) {
          const info = cache.get(n);
          const want = recount([...live.values()], n);
          expect({ milliCpu: info?.milliCpu, nonZeroMilliCpu: info?.nonZeroMilliCpu, pods: info?.pods, podKeys: info?.podKeys, hostPorts: info?.hostPorts }).toEqual(want);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("counts a pod bound before its node was known only once the node is there, and never below zero", () => {
    const cache = new NodeInfoCache();
    const p = { ...pod("early", "500m", undefined), spec: { ...pod("early", "500m", undefined).spec, nodeName: "late" } };
    cache.observe({ type: "ADDED", object: p, resourceVersion: 1 });
    cache.observe({ type: "ADDED", object: node("late"), resourceVersion: 2 });
    cache.observe({ type: "DELETED", object: p, resourceVersion: 3 });
    expect(cache.get("late")).toMatchObject({ milliCpu: 0, pods: 0 });
  });
});
