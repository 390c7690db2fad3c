/**
 * The 2-node flannel VXLAN cluster of dataplane.md §8, built by podwire from ordinary manifests,
 * against what the real components built for the same cluster (the reference's netns testbed:
 * real CNI bridge + host-local binaries, flannel's commands, kube-proxy's rules, kernel 6.18,
 * iproute2 6.1, iptables 1.8.9; copied to test/fixtures/dataplane-s8/). Random values (MACs, veth
 * and netns names, bridge timers) are normalised; everything else must be equal.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { formatIpv4, ip } from "../../src/net/addr.js";
import { loadTopologyText, type Topology } from "../../src/topology/index.js";
import { bridgeFdbShow, ipLinkDetails, ipNeigh, ipRoute } from "../../src/kernel/views.js";
import { formatSave } from "../../src/netfilter/iptables-save.js";
import type { KernelEvent } from "../../src/kernel/events.js";
import { normaliseRandom } from "../support/normalise.js";

const FIX = new URL("../fixtures/dataplane-s8/", import.meta.url);
const fixture = (f: string): string => readFileSync(new URL(f, FIX), "utf8");
const TOPOLOGY = readFileSync(new URL("../fixtures/topologies/dataplane-s8.yaml", import.meta.url), "utf8");

/** Random values as placeholders; the pods' namespace names too (`link-netns …`). */
const normalise = (text: string): string => normaliseRandom(text.replace(/link-netns \S+/g, "link-netns <pod-netns>"));

/** The device blocks of `ip -d link` from the one numbered `from`. */
function blocksFrom(text: string, from: number): string {
  const lines = text.split("\n");
  const i = lines.findIndex((l) => l.startsWith(`${from}: `));
  return lines.slice(i).join("\n").replace(/\n+$/, "");
}

/** An iptables-save listing with nat KUBE-SERVICES' service rules sorted (kube-proxy writes them in Go map order). */
function kubeServicesSorted(save: string): string {
  const lines = save.split("\n");
  const svc = lines.filter((l) => l.startsWith("-A KUBE-SERVICES -d "));
  const sorted = [...svc].sort();
  let k = 0;
  return lines.map((l) => (l.startsWith("-A KUBE-SERVICES -d ") ? (sorted[k++] as string) : l)).join("\n");
}

describe("dataplane.md §8: podwire's nodes equal the real rebuild", () => {
  let t: Topology;
  beforeAll(() => {
    t = loadTopologyText(TOPOLOGY, "dataplane-s8.yaml");
  });

  it("places the pods as the reference does", () => {
    const ips = Object.fromEntries(t.cluster.list("Pod").map((p) => [p.metadata.name, [p.spec.nodeName, p.status?.podIP]]));
    expect(ips).toEqual({ "coredns-a": ["node-1", "10.244.0.2"], "coredns-b": ["node-1", "10.244.0.3"], web: ["node-2", "10.244.1.2"] });
  });

  it("node-1's iptables-save equals §8.4 (node1.rules), KUBE-SERVICES' map order aside", () => {
    const ours = formatSave(t.dataplane.node("node-1").ruleset);
    expect(kubeServicesSorted(ours)).toBe(kubeServicesSorted(fixture("node-1.iptables-save")));
  });

  it("node-2's differs only in the three node-subnet FLANNEL-POSTRTG rules (§8.5)", () => {
    const ours = formatSave(t.dataplane.node("node-2").ruleset);
    const want = fixture("node-1.iptables-save").replaceAll("10.244.0.0/24", "10.244.1.0/24");
    expect(kubeServicesSorted(ours)).toBe(kubeServicesSorted(want));
  });

  it("ip route on both nodes, byte for byte", () => {
    expect(ipRoute(t.dataplane.node("node-1"))).toBe(fixture("node-1.ip-route.txt"));
    expect(ipRoute(t.dataplane.node("node-2"))).toBe(fixture("node-2.ip-route.txt"));
  });

  it("ip neigh holds the PERMANENT entry for node-2's VTEP, with node-2's flannel.1 MAC", () => {
    const mac2 = t.dataplane.node("node-2").dev("flannel.1").mac;
    expect(ipNeigh(t.dataplane.node("node-1"))).toBe(fixture("node-1.ip-neigh.txt").replace("8a:1f:42:b0:0b:11", mac2));
  });

  it("bridge fdb: flannel.1 has exactly one self permanent entry per remote node", () => {
    const mac2 = t.dataplane.node("node-2").dev("flannel.1").mac;
    const lines = bridgeFdbShow(t.dataplane.node("node-1")).split("\n").filter((l) => l.includes("dev flannel.1"));
    expect(lines).toEqual([`${mac2} dev flannel.1 dst 192.168.1.11 self permanent`]);
  });

  it("ip -d link for flannel.1, cni0 and the pod veths, random values aside", () => {
    expect(normalise(blocksFrom(ipLinkDetails(t.dataplane.node("node-1")), 3))).toBe(normalise(blocksFrom(fixture("node-1.ip-d-link.txt"), 3)));
  });

  it("inside coredns-a: eth0 and the routes the bridge plugin added", () => {
    const sb = t.cluster.kubelets.sandbox("kube-system/coredns-a");
    const pod = t.dataplane.net.ns(sb?.netns ?? "");
    // The testbed names the node's namespace; on a node it is the unnamed initial one (link-netnsid 0, §8.6).
    const want = fixture("coredns-a.ip-d-link-eth0.txt").replace("link-netns node1", "link-netnsid 0");
    expect(normalise(blocksFrom(ipLinkDetails(pod), 2))).toBe(normalise(want.replace(/\n+$/, "")));
    expect(ipRoute(pod)).toBe(fixture("coredns-a.ip-route.txt"));
  });

  it("subnet.env, host-local's files and flannel's Node annotations", () => {
    expect(t.dataplane.subnetEnv("node-1")).toBe("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.0.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n");
    expect(t.dataplane.subnetEnv("node-2")).toContain("FLANNEL_SUBNET=10.244.1.1/24\n");
    const store = t.dataplane.ipamStore("node-1");
    expect(store?.listing("cbr0")).toEqual(["10.244.0.2", "10.244.0.3", "last_reserved_ip.0", "lock"]);
    expect(formatIpv4(store?.lastReserved.get("cbr0")?.get(0) ?? ip("0.0.0.0"))).toBe("10.244.0.3");
    const ann = t.cluster.get("Node", "node-1")?.metadata.annotations ?? {};
    const mac1 = t.dataplane.node("node-1").dev("flannel.1").mac;
    expect(ann["flannel.alpha.coreos.com/backend-data"]).toBe(`{"VNI":1,"VtepMAC":"${mac1}"}`);
    expect([ann["flannel.alpha.coreos.com/backend-type"], ann["flannel.alpha.coreos.com/public-ip"], ann["flannel.alpha.coreos.com/kube-subnet-manager"]]).toEqual(["vxlan", "192.168.1.10", "true"]);
  });

  describe("the testbed's probes (probes.txt): who answered and the source it saw", () => {
    const sandbox = (key: string): string => t.cluster.kubelets.sandbox(key)?.netns ?? "";
    const run = (from: string, proto: "tcp" | "udp", dst: string, dport: number, choose?: boolean): string => {
      const net = t.dataplane.net.clone();
      net.ns("lan").listen("tcp", ip("0.0.0.0"), 8080, { label: "internet" });
      if (choose !== undefined) net.choose = () => choose;
      net.send(from, { proto, dst: ip(dst), sport: 40000, dport });
      const d = net.drain().find((e): e is Extract<KernelEvent, { kind: "deliver" }> => e.kind === "deliver" && e.to === "socket" && e.socket !== "the connecting socket");
      return d ? `${(d.socket ?? "").replace(/^pod\/[^/]+\//, "")} saw ${formatIpv4(d.packet.header.src)}` : "nothing";
    };
    beforeAll(() => {
      // The testbed's "lan" namespace: the switch's own address, 192.168.1.1 (the nodes' gateway).
      t = loadTopologyText(TOPOLOGY.replace("nodes:", "hosts:\n  - {name: lan, ip: 192.168.1.1}\nnodes:"), "dataplane-s8.yaml");
      t.dataplane.syncAll();
    });
    const want = Object.fromEntries(
      fixture("probes.txt")
        .split("\n")
        .slice(1)
        .filter((l) => l.includes(":"))
        .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim().replace(/:\d+$/, "")]),
    );
    it("pod → pod across nodes", () => expect(run(sandbox("kube-system/coredns-a"), "tcp", "10.244.1.2", 8080)).toBe(want["pod->pod cross node"]));
    it("pod → ClusterIP, remote endpoint", () => expect(run(sandbox("default/web"), "udp", "10.96.0.10", 53, false)).toBe(want["pod->ClusterIP (remote ep)"]));
    it("pod → its own Service (hairpin) and to the other endpoint", () => {
      expect(run(sandbox("kube-system/coredns-a"), "tcp", "10.96.0.10", 9153, true)).toBe(want["hairpin try 1"]);
      expect(run(sandbox("kube-system/coredns-a"), "tcp", "10.96.0.10", 9153, false)).toBe(want["hairpin try 2"]);
    });
    it("external → NodePort on the node without the endpoint", () => expect(run("lan", "tcp", "192.168.1.10", 30080)).toBe(want["external->NodePort node1"]));
    it("node → remote pod", () => expect(run("node-1", "tcp", "10.244.1.2", 8080)).toBe(want["node1 host->remote pod"]));
    it("node → ClusterIP", () => expect(run("node-1", "tcp", "10.102.77.15", 80)).toBe(want["node1 host->ClusterIP web"]));
    it("pod → outside (masquerade)", () => expect(run(sandbox("kube-system/coredns-a"), "tcp", "192.168.1.1", 8080)).toBe(want["pod->outside (192.168.1.1)"]));
  });
});
