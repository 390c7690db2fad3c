/**
 * @module node/dataplane
 * The nodes' hosts: one emulated Linux namespace per node and per external host on an underlay
 * segment, and the node agents that configure them from the cluster, each through the interface
 * the real one uses — the kubelet's CNI calls (flannel → bridge + host-local, the bridge plugin,
 * or Docker's default bridge), dockerd's and the kubelet's own iptables chains, flanneld (lease
 * state from the Node objects; flannel.1, neighbours, FDB and routes; its iptables rules), static
 * routes between nodes in `cni: bridge` mode (the kubenet layout), and kube-proxy, whose rules
 * reach each node's netfilter only as iptables-restore text.
 *
 * Node state follows the cluster lazily (DESIGN decision 5): a store change marks what it affects
 * (node leases, Services and EndpointSlices, pods), and a node is brought up to date when it is
 * read (`node()`), so settling a large cluster does not rebuild every node's rules on every change.
 * A node's declared sysctls are held (as `/etc/sysctl.d` and a config agent would): the bridge
 * plugin writes ip_forward=1 on every ADD, so a node declared with `net.ipv4.ip_forward: 0` is set
 * back after it.
 */
import { ip as ipOf, parseIpv4, type Ipv4 } from "../net/addr.js";
import { parseCidr, parseIfAddr, type Cidr } from "../net/cidr.js";
import { createRng, type Rng } from "../sim/rng.js";
import type { Clock } from "../sim/clock.js";
import { Network } from "../kernel/network.js";
import type { NetNs } from "../kernel/netns.js";
import type { EndpointSlice, Node } from "../cluster/api/types.js";
import type { Cluster } from "../cluster/cluster.js";
import type { Controller } from "../cluster/controllers/types.js";
import { podNetwork, type CniArgs, type PodNetwork } from "../cni/contract.js";
import { HostLocalStore } from "../cni/host-local.js";
import { bridgePlugin, type BridgeConf } from "../cni/bridge.js";
import { docker0Plugin, dockerdStart, type DockerState } from "../cni/docker0.js";
import { flanneldState, flanneldSync, flannelPlugin, type FlannelConfig, type FlanneldState, type Lease } from "../cni/flannel.js";
import { syncProxyRules, type ProxierConfig, type ProxierInput, type ProxierOutput, type SyncOptions } from "../kube-proxy/proxier.js";
import { kubeletIptables } from "./iptables-ensure.js";
import { kubeProxyStart, kubeProxySync, proxierConfig } from "./kube-proxy.js";
import { flannelAnnotations, nicMac, vtepMac } from "./agents.js";
import { flannelLeases, syncPodSockets, syncStaticRoutes } from "./follow.js";
import { LoadBalancer } from "./load-balancer.js";
import { WaitingSandboxes } from "./sandboxes.js";
import type { HostDecl, NodeDecl, NodeNetworking } from "./config.js";

/** The underlay segment's name. */
export const UNDERLAY = "underlay";
/** The node's NIC on the underlay. */
export const NIC = "eth0";

interface NodeHost {
  readonly decl: NodeDecl;
  readonly ns: NetNs;
  readonly ipam: HostLocalStore;
  readonly flannel: FlanneldState;
  docker?: DockerState;
  readonly rng: Rng;
  proxyStarted: boolean;
  /** The inputs of kube-proxy's last full sync: its restore text is made again from them when read. */
  lastSync?: { readonly input: ProxierInput; readonly cfg: ProxierConfig };
  readonly staticRoutes: Map<string, Cidr>;
  synced: { nodes: number; proxy: number; pods: number };
  /** Pod sandboxes whose devices wait (node/sandboxes.ts). */
  readonly waiting: WaitingSandboxes;
  /** The pod network the kubelet attaches to, for the podCIDR it was made for. */
  podNet?: { readonly podCIDR: string | undefined; readonly net: PodNetwork | undefined };
}

/** Options of the hosts. */
export interface DataplaneOptions {
  /**
   * "lazy" (default): a pod's sandbox namespace and veth pair are made when its node is first
   * read (DESIGN decision 5), with the same outcome as at the ADD; "eager": at the ADD.
   */
  readonly sandboxes?: "lazy" | "eager";
}

/** The emulated hosts of a topology and the agents that configure them. */
export class Dataplane {
  readonly net: Network;
  private readonly hosts = new Map<string, NodeHost>();
  private cluster?: Cluster;
  private readonly gens = { nodes: 0, proxy: 0, pods: 0 };
  private readonly flannelCfg: FlannelConfig;
  private readonly lazySandboxes: boolean;

  constructor(
    readonly cfg: NodeNetworking,
    readonly nodes: readonly NodeDecl[],
    readonly externalHosts: readonly HostDecl[],
    clock: Clock,
    opts: DataplaneOptions = {},
  ) {
    this.lazySandboxes = opts.sandboxes !== "eager";
    this.net = new Network({ seed: cfg.seed, clock });
    // A node's or pod's namespace read, or copied, without going through `node()` / `prepare()` (a
    // library user's `net.ns(...)`, `net.clone()`): the node's deferred pod devices first.
    this.net.materialize = (name) => {
      const h = this.hosts.get(name);
      if (h) h.waiting.flush();
      else this.flushSandboxNode(name);
    };
    this.net.segmentAdd(UNDERLAY);
    this.flannelCfg = { network: cfg.podSubnet, backend: cfg.flannel.backend, vni: cfg.flannel.vni, port: cfg.flannel.port === 8472 ? 0 : cfg.flannel.port, ipMasq: true, randomFully: true };
    const root = createRng(cfg.seed ^ 0x5eed);
    for (const d of nodes) this.bootNode(d, root.fork());
    for (const h of externalHosts) this.bootHost(h);
    this.lb = new LoadBalancer(this.net, externalHosts.map((h) => h.name), NIC);
  }

  private bootMachine(name: string, ipText: string, extra: readonly string[]): NetNs {
    const ns = this.net.netnsAdd(name);
    ns.anonymous = true;
    ns.linkSetUp("lo");
    const a = ipOf(ipText);
    this.net.nicAdd(name, NIC, UNDERLAY, nicMac(a));
    ns.linkSetMtu(NIC, this.cfg.underlay.mtu);
    ns.addrAdd(NIC, { addr: a, len: this.cfg.underlay.subnet.len }, { brd: "+" });
    for (const x of extra) {
      const c = parseIfAddr(x);
      if (c.ok) ns.addrAdd(NIC, c.value, { brd: "+" });
    }
    ns.linkSetUp(NIC);
    const gw = parseIpv4(this.cfg.underlay.gateway);
    if (gw.ok && gw.value !== a) ns.routeAdd({ dst: { addr: 0 as Ipv4, len: 0 }, via: gw.value, dev: NIC });
    return ns;
  }

  private bootNode(d: NodeDecl, rng: Rng): void {
    const ns = this.bootMachine(d.name, d.ip, d.extraAddresses);
    const h: NodeHost = {
      decl: d,
      ns,
      ipam: new HostLocalStore(),
      flannel: flanneldState(),
      rng,
      proxyStarted: false,
      staticRoutes: new Map(),
      synced: { nodes: -1, proxy: -1, pods: -1 },
      waiting: new WaitingSandboxes(this.net),
    };
    this.hosts.set(d.name, h);
    if (this.cfg.cni === "docker0") h.docker = dockerdStart(ns, { bridge: this.cfg.bridge, subnet: this.cfg.podSubnet, mtu: this.cfg.underlay.mtu }, rng);
    kubeletIptables(ns);
    this.pinSysctls(h);
  }

  private bootHost(h: HostDecl): void {
    const ns = this.bootMachine(h.name, h.ip, []);
    for (const part of (h.listen ?? "").split(",").map((x) => x.trim()).filter(Boolean)) {
      const [port = "", proto = "tcp"] = part.split("/");
      ns.listen(proto === "udp" ? "udp" : "tcp", 0 as Ipv4, Number(port), { label: `host/${h.name}`, reply: proto === "udp" ? "echo" : "none" });
    }
  }

  /** A pod sandbox's namespace → its node. */
  private readonly sandboxNode = new Map<string, string>();

  /** Brings the machine a namespace belongs to (a node, or a pod's node) up to date. */
  prepare(netns: string): void {
    const node = this.hosts.has(netns) ? netns : this.sandboxNode.get(netns);
    const h = node !== undefined ? this.hosts.get(node) : undefined;
    if (h) this.ensure(h);
  }

  /**
   * Brings what decides whether a node answers an ARP request up to date — its own devices and
   * addresses (flanneld's start: flannel.1 and its address) and its sysctls — without its routes
   * to every other node, which a full link sync adds (at 5,000 nodes, 5,000 each).
   */
  prepareAnswer(netns: string): void {
    // Waiting pod devices stay waiting: a host-side veth adds no address and no route to the node,
    // so it changes nothing the node answers on the underlay (an ARP flood there asks every node).
    const h = this.hosts.get(netns);
    if (!h || !this.cluster || h.synced.nodes === this.gens.nodes) return;
    if (this.cfg.cni === "flannel" && h.flannel.subnetEnv === undefined) this.syncFlannel(h, false);
    this.pinSysctls(h);
  }

  /** Brings a machine's devices, addresses and routes (not its rules or sockets) up to date; for a pod, its node's deferred devices. */
  prepareLinks(netns: string): void {
    const h = this.hosts.get(netns);
    if (h) this.ensure(h, true);
    else this.flushSandboxNode(netns);
  }

  // Makes the deferred devices of the node a sandbox's namespace belongs to.
  private flushSandboxNode(netns: string): void {
    const node = this.sandboxNode.get(netns);
    const h = node !== undefined ? this.hosts.get(node) : undefined;
    h?.waiting.flush();
  }

  /**
   * A copy of the network for one trace: the load balancer's routes brought up to date, and each
   * node brought up to date only when the trace first reaches it or one of its pods.
   */
  traceNetwork(seed: number): Network {
    this.syncLoadBalancers();
    return this.net.clone(seed, { beforeCopy: (name) => this.prepare(name), beforePeek: (name) => this.prepareLinks(name), beforeAnswer: (name) => this.prepareAnswer(name), peekVersion: () => this.gens.nodes });
  }

  private readonly lb: LoadBalancer;
  private lbSynced = -1;

  // The external hosts' routes to the load-balancer addresses (node/load-balancer.ts), after a
  // change to the Services, EndpointSlices or Nodes.
  private syncLoadBalancers(): void {
    if (!this.cluster || this.lbSynced === this.gens.proxy) return;
    this.lbSynced = this.gens.proxy;
    this.lb.sync(this.cluster);
  }

  /** The node the load balancer sends an ingress address to, if any. */
  loadBalancerNode(vip: string): string | undefined {
    return this.loadBalancerNodes().get(vip);
  }

  /** Every ingress address the load balancer routes, and the node it sends it to. */
  loadBalancerNodes(): ReadonlyMap<string, string> {
    this.syncLoadBalancers();
    return this.lb.nodes();
  }

  /** The node agents that live in the control plane (flannel's node annotations). */
  agents(): Controller[] {
    if (this.cfg.cni !== "flannel") return [];
    return [flannelAnnotations(this.cfg, this.flannelCfg)];
  }

  /** Connects the hosts to a cluster: watches what the agents follow, and registers the apiserver's endpoints. */
  attach(cluster: Cluster): void {
    this.cluster = cluster;
    cluster.api.store.watch((e) => {
      switch (e.object.kind) {
        case "Node":
          this.gens.nodes += 1;
          this.gens.proxy += 1;
          break;
        case "Service":
        case "EndpointSlice":
          this.gens.proxy += 1;
          break;
        case "Pod":
          this.gens.pods += 1;
          break;
        default:
      }
    });
    const cps = this.nodes.filter((n) => n.role === "control-plane");
    const apiservers = cps.length > 0 ? cps : this.nodes.slice(0, 1);
    for (const n of apiservers) this.hosts.get(n.name)?.ns.listen("tcp", 0 as Ipv4, 6443, { label: "kube-apiserver" });
    if (apiservers.length > 0) {
      cluster.api.create<EndpointSlice>({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { name: "kubernetes", namespace: "default", labels: { "kubernetes.io/service-name": "kubernetes" } },
        addressType: "IPv4",
        endpoints: apiservers.map((n) => ({ addresses: [n.ip], conditions: { ready: true } })),
        ports: [{ name: "https", port: 6443, protocol: "TCP" }],
      });
    }
  }

  /** The names of the nodes. */
  nodeNames(): string[] {
    return [...this.hosts.keys()];
  }

  /** A node's namespace, brought up to date with the cluster. */
  node(name: string): NetNs {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no node "${name}"`);
    this.ensure(h);
    return h.ns;
  }

  /** Brings every node, and the load balancer's routes on the external hosts, up to date. */
  syncAll(): void {
    for (const h of this.hosts.values()) this.ensure(h);
    this.syncLoadBalancers();
  }

  /** The iptables-restore input kube-proxy wrote on the node in its last full sync (`opts`: see SyncOptions). */
  kubeProxyRules(name: string, opts: SyncOptions = {}): ProxierOutput {
    this.node(name);
    const last = this.hosts.get(name)?.lastSync;
    if (!last) throw new Error(`kube-proxy has not synced on node "${name}"`);
    return syncProxyRules(last.input, last.cfg, opts);
  }

  /** host-local's store on a node (`/var/lib/cni/networks`). */
  ipamStore(name: string): HostLocalStore | undefined {
    return this.hosts.get(name)?.ipam;
  }

  /** `/run/flannel/subnet.env` on a node, once flanneld wrote it. */
  subnetEnv(name: string): string | undefined {
    const h = this.hosts.get(name);
    if (h) this.ensure(h);
    return h?.flannel.subnetEnv;
  }

  /** The pod network the kubelet of `node` attaches sandboxes to (undefined: NetworkPluginNotReady). */
  podNetwork(node: Node): PodNetwork | undefined {
    const h = this.hosts.get(node.metadata.name);
    if (!h) return undefined;
    const podCIDR = node.spec.podCIDR;
    // The same network while the node's podCIDR stays (the kubelet asks at every ADD; a pod whose
    // devices wait keeps what its ADD used).
    if (h.podNet && h.podNet.podCIDR === podCIDR) return h.podNet.net;
    const net = this.makePodNetwork(h, podCIDR);
    h.podNet = { podCIDR, net };
    return net;
  }

  private makePodNetwork(h: NodeHost, podCIDR: string | undefined): PodNetwork | undefined {
    const env = { host: h.ns, sandbox: (n: string) => h.waiting.sandbox(n), ipam: h.ipam, rng: h.rng };
    const deferred = this.lazySandboxes && this.cfg.cni !== "docker0" ? h.waiting : undefined;
    let inner: PodNetwork;
    switch (this.cfg.cni) {
      case "flannel":
        if (!podCIDR) return undefined;
        inner = podNetwork(flannelPlugin({ ...env, ...(deferred ? { deferred } : {}) }, h.flannel), { name: "cbr0", cniVersion: "0.3.1", delegate: { hairpinMode: true, isDefaultGateway: true } });
        break;
      case "bridge": {
        if (!podCIDR) return undefined;
        const bp = this.cfg.bridgePlugin;
        const conf: BridgeConf = { cniVersion: "1.0.0", name: "cbr0", bridge: this.cfg.bridge, isGateway: true, isDefaultGateway: bp.isDefaultGateway, hairpinMode: bp.hairpinMode, ipMasq: bp.ipMasq, mtu: this.cfg.underlay.mtu, ipam: { type: "host-local", ranges: [[{ subnet: podCIDR }]] } };
        inner = podNetwork(bridgePlugin({ ...env, ...(deferred ? { deferred } : {}) }), conf);
        break;
      }
      case "docker0":
        inner = podNetwork(docker0Plugin({ ...env, cfg: { bridge: this.cfg.bridge, subnet: this.cfg.podSubnet, mtu: this.cfg.underlay.mtu }, state: h.docker as DockerState }), {});
        break;
    }
    return {
      pluginType: inner.pluginType,
      add: (a: CniArgs) => {
        this.sandboxNode.set(a.netns, h.decl.name);
        const make = this.sandboxUp(h, a.netns);
        if (deferred) h.waiting.hold(a.netns, make);
        else make();
        // flanneld must have started on this node (subnet.env); its remote state follows on read.
        if (this.cfg.cni === "flannel" && h.flannel.subnetEnv === undefined) {
          h.waiting.flush();
          this.syncFlannel(h, false);
        }
        try {
          return inner.add(a);
        } catch (e) {
          // A plugin that fails before it needs the namespace leaves none (made and removed, as
          // the runtime does, it would leave nothing either).
          h.waiting.drop(a.netns);
          if (this.net.namespaces.has(a.netns)) this.net.netnsDel(a.netns);
          throw e;
        } finally {
          this.pinSysctls(h);
        }
      },
      del: (a: CniArgs) => {
        h.waiting.flush();
        inner.del(a);
        this.sandboxNode.delete(a.netns);
        if (this.net.namespaces.has(a.netns)) this.net.netnsDel(a.netns);
      },
    };
  }

  // The runtime's part of a sandbox, made by the returned function: the namespace (IPv4 conf
  // copied from the host as it is now, as a new netns copies init_net's all/default) with lo up
  // (the loopback plugin).
  private sandboxUp(h: NodeHost, name: string): () => void {
    const all = { ...h.ns.sysctls.all };
    const dflt = { ...h.ns.sysctls.default };
    return () => {
      if (this.net.namespaces.has(name)) return;
      const ns = this.net.netnsAdd(name);
      Object.assign(ns.sysctls.all, all);
      Object.assign(ns.sysctls.default, dflt);
      ns.linkSetUp("lo");
    };
  }

  private pinSysctls(h: NodeHost): void {
    for (const [k, v] of Object.entries(h.decl.sysctls)) h.ns.sysctlSet(k, v);
  }

  private ensure(h: NodeHost, linksOnly = false): void {
    h.waiting.flush();
    if (!this.cluster) return;
    const linksStale = h.synced.nodes !== this.gens.nodes;
    if (linksStale) {
      h.synced.nodes = this.gens.nodes;
      if (this.cfg.cni === "flannel") this.syncFlannel(h);
      if (this.cfg.cni === "bridge") syncStaticRoutes(h.ns, h.decl.name, this.cluster, h.staticRoutes, NIC);
    }
    if (linksOnly) {
      if (linksStale) this.pinSysctls(h);
      return;
    }
    let synced = linksStale;
    if (h.synced.proxy !== this.gens.proxy) {
      h.synced.proxy = this.gens.proxy;
      this.syncProxy(h);
      synced = true;
    }
    if (h.synced.pods !== this.gens.pods) {
      h.synced.pods = this.gens.pods;
      syncPodSockets(h.ns, h.decl.name, this.cluster, this.net.namespaces);
      synced = true;
    }
    // The topology's sysctls win over what a sync may have set; a node already up to date has them.
    if (synced) this.pinSysctls(h);
  }

  private syncFlannel(h: NodeHost, remotes = true): void {
    const node = this.cluster?.get("Node", h.decl.name);
    const sub = node?.spec.podCIDR ? parseCidr(node.spec.podCIDR) : undefined;
    if (!sub?.ok) return;
    const self: Lease = { node: h.decl.name, subnet: sub.value, publicIp: ipOf(h.decl.ip), ...(this.cfg.flannel.backend === "vxlan" ? { vtepMac: vtepMac(this.cfg.seed, h.decl.name) } : {}) };
    flanneldSync(h.ns, this.flannelCfg, self, remotes && this.cluster ? flannelLeases(this.cluster) : undefined, NIC, h.flannel);
  }

  // kube-proxy (node/kube-proxy.ts): started once, then a full sync; its inputs are kept for
  // the `kube-proxy rules` view and the iptables journal.
  private syncProxy(h: NodeHost): void {
    const cluster = this.cluster as Cluster;
    const cfg = proxierConfig(this.cfg, h.decl, h.ns, cluster.get("Node", h.decl.name));
    if (!h.proxyStarted) {
      kubeProxyStart(h.ns, cfg);
      h.proxyStarted = true;
    }
    h.lastSync = kubeProxySync(h.ns, cfg, cluster);
  }
}
