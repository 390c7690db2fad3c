/**
 * The seeds' stories, replayed on the control plane alone: a Deployment's event chain, cordon and
 * scale, drain refused and accepted, a node failure with NoExecute eviction, determinism.
 * Expected messages are the real components' (Kubernetes v1.33: deployment, replicaset, scheduler,
 * kubelet, kubectl drain), quoted from their sources and from real `kubectl` output.
 */
import { describe, expect, it } from "vitest";
import type { DaemonSet } from "../../src/cluster/api/types.js";
import { cordon, drain, failNode, OperationError, recoverNode, scale } from "../../src/cluster/operations.js";
import { applyAll, deployment, placement, threeNodes } from "../support/cluster.js";

const flannelLike: DaemonSet = {
  apiVersion: "apps/v1",
  kind: "DaemonSet",
  metadata: { name: "kube-proxy", namespace: "kube-system" },
  spec: {
    selector: { matchLabels: { "k8s-app": "kube-proxy" } },
    template: {
      metadata: { labels: { "k8s-app": "kube-proxy" } },
      spec: { hostNetwork: true, tolerations: [{ operator: "Exists" }], containers: [{ name: "kube-proxy", image: "registry.k8s.io/kube-proxy:v1.33.1" }] },
    },
  },
};

describe("kubectl apply of a 3-replica nginx Deployment on a 3-node cluster", () => {
  const c = threeNodes();
  applyAll(c, [deployment("nginx", 3)]);
  const rs = c.list("ReplicaSet")[0];

  it("creates one ReplicaSet named <deployment>-<pod-template-hash> and three pods named <rs>-<5 chars>", () => {
    expect(rs?.metadata.name).toMatch(/^nginx-[bcdfghjklmnpqrstvwxz2456789]{6,10}$/);
    const pods = c.list("Pod");
    expect(pods).toHaveLength(3);
    for (const p of pods) expect(p.metadata.name).toMatch(new RegExp(`^${rs?.metadata.name}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
    expect(pods.every((p) => p.status?.phase === "Running" && p.status.podIP?.startsWith("10.244."))).toBe(true);
  });

  it("keeps ordinary pods off the tainted control plane", () => {
    expect(placement(c, "nginx")["control-plane"]).toBeUndefined();
  });

  it("records the seeds' event chain: ScalingReplicaSet, SuccessfulCreate, Scheduled, Pulling, Pulled, Created, Started", () => {
    const ev = c.events("default");
    const dep = ev.filter((e) => e.involvedObject.kind === "Deployment").map((e) => [e.reason, e.message]);
    expect(dep).toEqual([["ScalingReplicaSet", `Scaled up replica set ${rs?.metadata.name} from 0 to 3`]]);
    const created = ev.filter((e) => e.involvedObject.kind === "ReplicaSet").map((e) => e.reason);
    expect(created).toEqual(["SuccessfulCreate", "SuccessfulCreate", "SuccessfulCreate"]);
    for (const p of c.list("Pod")) {
      const chain = ev.filter((e) => e.involvedObject.name === p.metadata.name);
      expect(chain.map((e) => e.reason)).toEqual(["Scheduled", "Pulling", "Pulled", "Created", "Started"]);
      expect(chain[0]?.message).toBe(`Successfully assigned default/${p.metadata.name} to ${p.spec.nodeName}`);
      expect(chain[1]?.message).toBe('Pulling image "nginx"');
      expect(chain[2]?.message).toMatch(/^Successfully pulled image "nginx" in \d+(\.\d+)?m?s \(\d+(\.\d+)?m?s including waiting\)$/);
      expect(chain[3]?.message).toBe("Created container: nginx");
      expect(chain[4]?.message).toBe("Started container nginx");
      expect(chain.map((e) => e.source.component)).toEqual(["default-scheduler", "kubelet", "kubelet", "kubelet", "kubelet"]);
      // The pull takes virtual time: Pulled is later than Pulling.
      expect(chain[2]!.lastTimestamp >= chain[1]!.lastTimestamp).toBe(true);
    }
  });
});

describe("the kubelet reports started containers at its PLEG relist", () => {
  it("Started is recorded when the container starts; Running and Ready reach the status at the next whole second", () => {
    const c = threeNodes(3);
    applyAll(c, [deployment("nginx", 12)]);
    const ev = c.events("default");
    const ms = (ts: string): number => Date.parse(ts);
    let late = 0;
    for (const p of c.list("Pod")) {
      const started = ev.find((e) => e.involvedObject.name === p.metadata.name && e.reason === "Started");
      const ready = p.status?.conditions?.find((x) => x.type === "Ready");
      expect(ready?.status).toBe("True");
      const at = ms(ready?.lastTransitionTime ?? "");
      const start = ms(started?.lastTimestamp ?? "");
      // Timestamps are whole seconds (RFC 3339): the relist is at a whole second of virtual time
      // at or after the start, so Ready is never earlier than Started and at most a second later.
      expect(at).toBeGreaterThanOrEqual(start);
      expect(at - start).toBeLessThanOrEqual(1000);
      if (at > start) late += 1;
    }
    // Pulls end at arbitrary milliseconds, so pods wait for the relist (reported at start, every
    // Ready time would equal its Started time once truncated to the second).
    expect(late).toBeGreaterThan(0);
  });
});

describe("cordon, scale, drain", () => {
  it("a cordoned node gets no new pod when the Deployment scales to 6", () => {
    const c = threeNodes(1);
    applyAll(c, [deployment("nginx", 3)]);
    const before = placement(c, "nginx")["worker-2"] ?? 0;
    expect(cordon(c, "worker-2")).toEqual(["node/worker-2 cordoned"]);
    scale(c, "deployment", "default/nginx", 6);
    c.settle();
    const after = placement(c, "nginx");
    expect(after["worker-2"] ?? 0).toBe(before);
    expect(Object.values(after).reduce((a, b) => a + b, 0)).toBe(6);
    expect(c.get("Node", "worker-2")?.spec.taints).toContainEqual(expect.objectContaining({ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }));
  });

  it("drain without ignoreDaemonSets is refused with kubectl's message, and leaves the node cordoned", () => {
    const c = threeNodes(1);
    applyAll(c, [flannelLike, deployment("nginx", 3)]);
    const dsPod = c.podsOn("worker-3").find((p) => p.metadata.namespace === "kube-system");
    expect(dsPod).toBeDefined();
    let message = "";
    try {
      drain(c, "worker-3");
    } catch (e) {
      expect(e).toBeInstanceOf(OperationError);
      message = (e as Error).message;
    }
    // kubectl 1.33 prints exactly this (after "node/worker-3 cordoned" and "error: ").
    expect(message.split("\n")[0]).toBe(`unable to drain node "worker-3" due to error: cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): kube-system/${dsPod?.metadata.name}, continuing command...`);
    expect(c.get("Node", "worker-3")?.spec.unschedulable).toBe(true);
  });

  it("drain with ignoreDaemonSets evicts the pods, which the ReplicaSet recreates elsewhere", () => {
    const c = threeNodes(1);
    applyAll(c, [flannelLike, deployment("nginx", 6)]);
    expect(placement(c, "nginx")["worker-3"]).toBeGreaterThan(0);
    const out = drain(c, "worker-3", { ignoreDaemonSets: true });
    expect(out[0]).toBe("node/worker-3 cordoned");
    expect(out[1]).toMatch(/^Warning: ignoring DaemonSet-managed Pods: kube-system\/kube-proxy-/);
    expect(out.at(-1)).toBe("node/worker-3 drained");
    c.settle();
    const p = placement(c, "nginx");
    expect(p["worker-3"]).toBeUndefined();
    expect((p["worker-1"] ?? 0) + (p["worker-2"] ?? 0)).toBe(6);
    // The daemon pod stays: DaemonSets tolerate node.kubernetes.io/unschedulable.
    expect(c.podsOn("worker-3").filter((x) => x.metadata.namespace === "kube-system")).toHaveLength(1);
  });
});

describe("node failure", () => {
  it("NotReady after the 50 s grace period, NoExecute eviction 300 s (tolerationSeconds) after the taint, replacements elsewhere", () => {
    const c = threeNodes();
    applyAll(c, [deployment("web", 4)]);
    const victims = c.podsOn("worker-1").map((p) => p.metadata.name);
    expect(victims.length).toBeGreaterThan(0);
    const t0 = c.clock.now();
    failNode(c, "worker-1");
    c.settle();
    expect(c.clock.now() - t0).toBe(50_000);
    const node = c.get("Node", "worker-1");
    expect(node?.status?.conditions?.find((x) => x.type === "Ready")).toMatchObject({ status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status." });
    expect(node?.spec.taints?.map((t) => `${t.key}:${t.effect}`)).toEqual(["node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"]);
    // Not evicted yet: the pods tolerate unreachable:NoExecute for 300 s (DefaultTolerationSeconds).
    expect(c.podsOn("worker-1").every((p) => !p.metadata.deletionTimestamp)).toBe(true);
    expect(c.podsOn("worker-1").every((p) => p.status?.conditions?.find((x) => x.type === "Ready")?.status === "False")).toBe(true);
    c.advance(299_000);
    expect(c.podsOn("worker-1").every((p) => !p.metadata.deletionTimestamp)).toBe(true);
    c.advance(2_000);
    // Evicted, but the dead kubelet cannot confirm: Terminating until it returns.
    expect(c.podsOn("worker-1").map((p) => p.metadata.name).sort()).toEqual([...victims].sort());
    expect(c.podsOn("worker-1").every((p) => p.metadata.deletionTimestamp !== undefined)).toBe(true);
    expect(c.events().filter((e) => e.reason === "TaintManagerEviction").map((e) => e.message).sort()).toEqual(victims.map((v) => `Marking for deletion Pod default/${v}`).sort());
    expect(placement(c, "web")).toEqual({ "worker-2": 4 });
    recoverNode(c, "worker-1");
    c.settle();
    expect(c.podsOn("worker-1")).toEqual([]);
    expect(c.get("Node", "worker-1")?.spec.taints ?? []).toEqual([]);
  });
});

describe("determinism", () => {
  it("same topology and seed give identical names, IPs and placements", () => {
    const run = (): string => {
      const c = threeNodes(2);
      applyAll(c, [flannelLike, deployment("nginx", 7), deployment("api", 3)]);
      return JSON.stringify(c.list("Pod").map((p) => [p.metadata.name, p.spec.nodeName, p.status?.podIP, p.metadata.uid]));
    };
    expect(run()).toBe(run());
  });
});
