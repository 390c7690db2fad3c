/**
 * The node agents over time and at the edges: host-local running out through the flannel plugin
 * (the plugins' texts, dataplane.md §3.4), declared sysctls held against the bridge plugin's
 * ip_forward write, Docker's first-free address reuse and MAC scheme (§1.1), teardown on pod
 * deletion, kube-proxy following a scale-down, hostNetwork pods listening on the node.
 */
import { describe, expect, it } from "vitest";
import { loadTopologyText } from "../../src/topology/index.js";
import { remove, scale } from "../../src/cluster/operations.js";
import { formatSave } from "../../src/netfilter/iptables-save.js";
import { ipRoute } from "../../src/kernel/views.js";
import { deploymentYaml } from "../support/yaml.js";

const cluster = (extra: string, nodes = "nodes:\n  - {name: node-1}\n"): string => `apiVersion: podwire.dev/v1alpha1\nkind: Cluster\n${extra}${nodes}`;
const deployment = deploymentYaml;

describe("node agents", () => {
  it("host-local running out: the sandbox fails with the plugins' words, wrapped by flannel's and the runtime's", () => {
    const t = loadTopologyText(cluster("networking: {nodeCidrMaskSize: 29}\n") + deployment("web", 7));
    const pods = t.cluster.list("Pod");
    expect(pods.filter((p) => p.status?.podIP).map((p) => p.status?.podIP).sort()).toEqual(["10.244.0.2", "10.244.0.3", "10.244.0.4", "10.244.0.5", "10.244.0.6"]);
    const failed = t.cluster.events().filter((e) => e.reason === "FailedCreatePodSandBox");
    expect(failed.length).toBeGreaterThan(0);
    expect(failed[0]?.message).toMatch(/^Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "[0-9a-f]{64}": plugin type="flannel" failed \(add\): failed to delegate add: failed to allocate for range 0: no IP addresses available in range set: 10\.244\.0\.1-10\.244\.0\.6$/);
  });

  it("a node declared with ip_forward 0 keeps it after the bridge plugin's ADD wrote 1", () => {
    const t = loadTopologyText(cluster("", "nodes:\n  - {name: node-1, sysctls: {net.ipv4.ip_forward: 0}}\n") + deployment("web", 1));
    expect(t.cluster.list("Pod")[0]?.status?.phase).toBe("Running");
    expect(t.dataplane.node("node-1").sysctls.all.forwarding).toBe(false);
  });

  it("docker0: first free address from .2, a released one reused, MAC from the address, FORWARD DROP", () => {
    const text = cluster("networking: {cni: docker0}\n") + deployment("a", 1) + deployment("b", 1);
    const t = loadTopologyText(text);
    const ips = (): string[] => t.cluster.list("Pod").map((p) => `${p.metadata.name.split("-")[0]}=${p.status?.podIP}`).sort();
    expect(ips()).toEqual(["a=172.17.0.2", "b=172.17.0.3"]);
    const a = t.cluster.list("Pod").find((p) => p.metadata.name.startsWith("a-"));
    const sb = t.cluster.kubelets.sandbox(`default/${a?.metadata.name}`);
    expect(t.dataplane.net.ns(sb?.netns ?? "").dev("eth0").mac).toBe("02:42:ac:11:00:02");
    expect(ipRoute(t.dataplane.net.ns(sb?.netns ?? ""))).toBe("default via 172.17.0.1 dev eth0 \n172.17.0.0/16 dev eth0 proto kernel scope link src 172.17.0.2 \n");
    expect(formatSave(t.dataplane.node("node-1").ruleset, { table: "filter" })).toContain(":FORWARD DROP [0:0]\n");
    remove(t.cluster, "pod", `default/${a?.metadata.name}`);
    t.cluster.settle();
    // The ReplicaSet's replacement takes the released .2 again (Docker does not round-robin).
    expect(ips()).toEqual(["a=172.17.0.2", "b=172.17.0.3"]);
  });

  it("deleting a pod removes its veth, its namespace and its host-local file; kube-proxy follows the endpoints", () => {
    const t = loadTopologyText(cluster("") + deployment("web", 2) + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n");
    const ns = t.dataplane.node("node-1");
    const veths = (): string[] => [...ns.devices.values()].filter((d) => d.kind === "veth").map((d) => d.name);
    expect(veths()).toHaveLength(2);
    // The SEP chains of default/web (default/kubernetes has one more, for the apiserver on node-1).
    const seps = (): number => formatSave(t.dataplane.node("node-1").ruleset, { table: "nat" }).split("\n").filter((l) => l.startsWith(":KUBE-SEP-")).length - 1;
    expect(seps()).toBe(2);
    const netnsBefore = t.dataplane.net.namespaces.size;
    scale(t.cluster, "deployment", "default/web", 1);
    t.cluster.settle();
    expect(veths()).toHaveLength(1);
    expect(t.dataplane.net.namespaces.size).toBe(netnsBefore - 1);
    expect(t.dataplane.ipamStore("node-1")?.listing("cbr0").filter((f) => /^\d/.test(f))).toHaveLength(1);
    // The stale SEP chain is flushed and deleted (`-X`), as kube-proxy's cleanup does.
    expect(seps()).toBe(1);
  });

  it("a hostNetwork pod listens in the node's namespace, under its pod name", () => {
    const t = loadTopologyText(cluster("") + deployment("agent", 1, "      hostNetwork: true\n"));
    const pod = t.cluster.list("Pod")[0];
    expect(pod?.status?.podIP).toBe("192.168.1.10");
    const s = t.dataplane.node("node-1").sockets.find((x) => x.port === 80);
    expect(s?.label).toBe(`pod/default/${pod?.metadata.name}`);
  });
});
