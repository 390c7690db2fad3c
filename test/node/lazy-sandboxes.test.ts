/**
 * Pod sandboxes made lazily (node/dataplane.ts, cni/bridge.ts `DeferredDevices`) end in exactly
 * the state the CNI ADD would have left at once: every topology shipped in topologies/, and
 * clusters that take the plugin's failure and teardown paths (host-local running out, pods
 * deleted and replaced, scale down then up, a node holding ip_forward 0, the bridge plugin's
 * ipMasq rules), are built both ways and every namespace is compared — devices with their
 * ifindexes, MACs and bridge ports, addresses, both route tables, neighbours, FDBs, sysctls
 * (global and per interface), nsids, sockets, iptables — and so is the control plane (pods,
 * their addresses, events).
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadTopologyText } from "../../src/topology/index.js";
import type { Topology } from "../../src/topology/build.js";
import { remove, scale } from "../../src/cluster/operations.js";
import { formatSave } from "../../src/netfilter/iptables-save.js";
import { bridgeFdbShow, ipAddr, ipLinkDetails, ipNeigh, ipRoute } from "../../src/kernel/views.js";
import type { NetNs } from "../../src/kernel/netns.js";
import { ip } from "../../src/net/addr.js";
import { deploymentYaml } from "../support/yaml.js";

/** A structural copy of a namespace's state: maps as sorted entries, the network back-reference left out. */
function state(v: unknown, seen = new WeakSet<object>()): unknown {
  if (v === null || typeof v !== "object") return typeof v === "function" ? undefined : v;
  if (seen.has(v)) return "<cycle>";
  seen.add(v);
  if (v instanceof Map) return [...v.entries()].map(([k, x]) => [String(k), state(x, seen)]).sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1));
  if (v instanceof Set) return [...v].map((x) => JSON.stringify(state(x, seen))).sort();
  if (Array.isArray(v)) return v.map((x) => state(x, seen));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) if (k !== "host" && k !== "ruleset") out[k] = state((v as Record<string, unknown>)[k], seen);
  return out;
}

function dump(t: Topology): Record<string, unknown> {
  t.dataplane.syncAll();
  const out: Record<string, unknown> = {};
  for (const name of [...t.dataplane.net.namespaces.keys()].sort()) {
    const ns = t.dataplane.net.ns(name) as NetNs;
    out[name] = {
      link: ipLinkDetails(ns),
      addr: ipAddr(ns),
      routes: ipRoute(ns) + ipRoute(ns, "local"),
      neigh: ipNeigh(ns),
      fdb: bridgeFdbShow(ns),
      iptables: formatSave(ns.ruleset),
      nsids: [...ns.nsids],
      state: state(ns),
    };
  }
  out["cluster"] = { pods: t.cluster.list("Pod"), events: t.cluster.list("Event") };
  return out;
}

/** Builds `text` both ways, runs `then` on each, and compares. */
function same(text: string, then: (t: Topology) => void = () => undefined): { lazy: Topology } {
  const eager = loadTopologyText(text, "t.yaml", { sandboxes: "eager" });
  const lazy = loadTopologyText(text, "t.yaml");
  then(eager);
  then(lazy);
  expect(dump(lazy)).toEqual(dump(eager));
  return { lazy };
}

const cluster = (networking: string, nodes: string): string => `apiVersion: podwire.dev/v1alpha1\nkind: Cluster\nnetworking: {${networking}}\nnodes:\n${nodes}`;
const deployment = deploymentYaml;
const service = (name: string): string => `---
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec: {selector: {app: ${name}}, ports: [{port: 80}]}
`;

describe("lazy pod sandboxes", () => {
  it("are really left for later: a settled node's pods have no namespace until the node is read", () => {
    const t = loadTopologyText(cluster("", "  - {name: node-1}\n  - {name: node-2}\n") + deployment("web", 4));
    const sandboxes = t.cluster.list("Pod").map((p) => t.cluster.kubelets.sandbox(`default/${p.metadata.name}`)?.netns ?? "");
    expect(sandboxes.filter((n) => n !== "").length).toBe(4);
    expect(sandboxes.filter((n) => t.dataplane.net.namespaces.has(n))).toEqual([]);
    // Reading a pod's namespace directly makes its node's sandboxes (and only its node's).
    const first = t.cluster.list("Pod")[0];
    const ns = t.dataplane.net.ns(t.cluster.kubelets.sandbox(`default/${first?.metadata.name}`)?.netns ?? "");
    expect(ns.dev("eth0").kind).toBe("veth");
    const made = t.cluster.list("Pod").filter((p) => t.dataplane.net.namespaces.has(t.cluster.kubelets.sandbox(`default/${p.metadata.name}`)?.netns ?? ""));
    expect(new Set(made.map((p) => p.spec.nodeName))).toEqual(new Set([first?.spec.nodeName]));
  });

  it("are there for whoever reads the network directly: a node's namespace, or a plain copy of the network", () => {
    const t = loadTopologyText(cluster("", "  - {name: node-1}\n  - {name: node-2}\n") + deployment("web", 4));
    const veths = (ns: NetNs): number => [...ns.devices.values()].filter((d) => d.kind === "veth").length;
    const onNode = (n: string): number => t.cluster.list("Pod").filter((p) => p.spec.nodeName === n).length;
    expect(veths(t.dataplane.net.clone().ns("node-2"))).toBe(onNode("node-2"));
    expect(veths(t.dataplane.net.ns("node-1"))).toBe(onNode("node-1"));
    expect(onNode("node-1") + onNode("node-2")).toBe(4);
  });

  it("answer a packet sent on the dataplane's own network, not a copy, as at once", () => {
    const text = cluster("", "  - {name: node-1}\n  - {name: node-2}\n") + deployment("web", 4);
    // From a pod on node-1 to one on node-2; only node-1 is read first.
    const answer = (t: Topology): { events: string[][]; dst: string } => {
      const pods = t.cluster.list("Pod");
      const from = pods.find((p) => p.spec.nodeName === "node-1");
      const to = pods.find((p) => p.spec.nodeName === "node-2");
      const netns = (p: typeof from): string => t.cluster.kubelets.sandbox(`default/${p?.metadata.name}`)?.netns ?? "";
      t.dataplane.node("node-1");
      t.dataplane.net.send(netns(from), { proto: "tcp", dst: ip(to?.status?.podIP ?? ""), sport: 40000, dport: 80 });
      return { events: t.dataplane.net.drain().map((e) => [e.kind, e.ns, "dev" in e ? String(e.dev) : ""]), dst: netns(to) };
    };
    const lazy = answer(loadTopologyText(text));
    expect(lazy).toEqual(answer(loadTopologyText(text, "t.yaml", { sandboxes: "eager" })));
    // The SYN reached the node-2 pod's own stack.
    expect(lazy.events.some(([kind, ns]) => kind === "deliver" && ns === lazy.dst)).toBe(true);
  });

  for (const file of readdirSync("topologies").filter((f) => f.endsWith(".yaml"))) {
    it(`end as the ADD left them: topologies/${file}`, () => {
      same(readFileSync(`topologies/${file}`, "utf8"));
    });
  }

  it("end as the ADD left them when host-local runs out on one node (the failed ADDs make and remove their veth)", () => {
    same(cluster("nodeCidrMaskSize: 29", "  - {name: node-1}\n  - {name: node-2}\n") + deployment("web", 14) + service("web"));
  });

  it("end as the ADD left them across deletions, a scale down and up, and a node holding ip_forward 0", () => {
    same(cluster("", "  - {name: node-1, sysctls: {net.ipv4.ip_forward: 0}}\n  - {name: node-2}\n") + deployment("web", 6) + deployment("api", 3) + service("web"), (t) => {
      const pods = t.cluster.list("Pod").filter((p) => p.metadata.labels?.["app"] === "web");
      remove(t.cluster, "pod", `default/${pods[0]?.metadata.name}`);
      t.cluster.settle();
      scale(t.cluster, "deployment", "default/web", 2);
      t.cluster.settle();
      scale(t.cluster, "deployment", "default/web", 7);
      t.cluster.settle();
    });
  });

  it("end as the ADD left them with the bridge plugin's ipMasq chains and flannel host-gw", () => {
    same(cluster("cni: bridge, bridgePlugin: {ipMasq: true}", "  - {name: node-1}\n  - {name: node-2}\n") + deployment("web", 5) + service("web"), (t) => {
      scale(t.cluster, "deployment", "default/web", 2);
      t.cluster.settle();
    });
    same(cluster("flannel: {backend: host-gw}", "  - {name: node-1}\n  - {name: node-2}\n  - {name: node-3}\n") + deployment("web", 9) + service("web"));
  });
});
