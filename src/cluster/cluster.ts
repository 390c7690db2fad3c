/**
 * @module cluster/cluster
 * A compact control plane wired together: apiserver and store, the controllers of
 * kube-controller-manager (node IPAM, node lifecycle, taint eviction, Deployment, ReplicaSet,
 * DaemonSet, Job, CronJob, EndpointSlice, garbage collector), MetalLB's address assignment, the
 * scheduler and one kubelet per node, all run by one `Runtime` on a virtual clock with seeded
 * randomness. Nodes are registered as their kubelets would register them.
 */
import { hostLocal, HostLocalStore } from "../cni/host-local.js";
import { podNetwork, type PodNetwork } from "../cni/contract.js";
import { parseCidr, type Cidr } from "../net/cidr.js";
import { createClock, type Clock } from "../sim/clock.js";
import { createRng, type Rng } from "../sim/rng.js";
import { keyOf } from "./api/meta.js";
import type { AnyObject, Event, Kind, Node, ObjectOf, Taint } from "./api/types.js";
import { ApiServer } from "./apiserver.js";
import { LoadBalancerPool } from "./allocators/lb-pool.js";
import { NodeCidrAllocator } from "./allocators/node-cidr.js";
import type { PortRange } from "./allocators/node-port.js";
import { cronJobController } from "./controllers/cronjob.js";
import type { Controller } from "./controllers/types.js";
import { daemonSetController } from "./controllers/daemonset.js";
import { deploymentController } from "./controllers/deployment.js";
import { endpointSliceController } from "./controllers/endpointslice.js";
import { garbageCollector } from "./controllers/garbage-collector.js";
import { jobController } from "./controllers/job.js";
import { loadBalancerController } from "./controllers/load-balancer.js";
import { nodeIpamController } from "./controllers/node-ipam.js";
import { nodeLifecycleController, taintEvictionController } from "./controllers/node-lifecycle.js";
import { replicaSetController } from "./controllers/replicaset.js";
import { schedulerController } from "./controllers/scheduling.js";
import { KUBERNETES_VERSION, Kubelets } from "./kubelet.js";
import { Runtime, type SettleReport } from "./runtime.js";
import { TAINT } from "./taints.js";

/** How the control plane is configured (the `Cluster` document's networking section, resolved). */
export interface ClusterConfig {
  readonly seed: number;
  readonly serviceSubnet: Cidr;
  /** The cluster CIDR for node IPAM; undefined = `--allocate-node-cidrs=false` (docker0 mode). */
  readonly podSubnet?: Cidr;
  readonly nodeCidrMaskSize: number;
  readonly nodePortRange: PortRange;
  readonly loadBalancerPool?: Cidr;
  readonly clock?: Clock;
  /**
   * The pod network of a node, asked at each CNI ADD. Default: host-local IPAM over the node's
   * podCIDR (network name `cbr0`), i.e. addresses without devices — the node-networking layer
   * replaces it with the bridge and flannel plugins.
   */
  readonly network?: (node: Node, cluster: Cluster) => PodNetwork | undefined;
  /** Node agents that act through the API (flanneld's Node annotations), run after node IPAM. */
  readonly agents?: readonly Controller[];
}

/** A node as the topology declares it. */
export interface NodeSpec {
  readonly name: string;
  readonly role?: "control-plane" | "worker";
  readonly ip: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly taints?: readonly Taint[];
  readonly capacity?: { readonly cpu?: string; readonly memory?: string; readonly pods?: number | string };
  readonly unschedulable?: boolean;
  readonly podCIDR?: string;
}

/** The kubelet's hard eviction threshold `memory.available<100Mi`, subtracted from allocatable. */
const EVICTION_RESERVE_KI = 100 * 1024;

function allocatableMemory(capacity: string): string {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)$/.exec(capacity);
  if (!m) return capacity;
  const ki = Number(m[1]) * { Ki: 1, Mi: 1024, Gi: 1024 ** 2, Ti: 1024 ** 3 }[m[2] as "Ki"];
  return `${Math.max(0, ki - EVICTION_RESERVE_KI)}Ki`;
}

/** The cluster. */
export class Cluster {
  readonly clock: Clock;
  readonly api: ApiServer;
  readonly kubelets: Kubelets;
  readonly runtime: Runtime;
  readonly nodeCidrs: NodeCidrAllocator | undefined;
  readonly lbPool: LoadBalancerPool;
  /** Per node host-local state (`/var/lib/cni/networks`), used by the default network. */
  readonly ipam = new Map<string, HostLocalStore>();
  private readonly rngs: { names: Rng; ips: Rng; ports: Rng; scheduler: Rng; kubelet: Rng };

  constructor(readonly config: ClusterConfig) {
    this.clock = config.clock ?? createClock();
    const root = createRng(config.seed);
    this.rngs = { names: root.fork(), ips: root.fork(), ports: root.fork(), scheduler: root.fork(), kubelet: root.fork() };
    this.api = new ApiServer({ serviceCidr: config.serviceSubnet, nodePortRange: config.nodePortRange, clock: this.clock, rng: this.rngs.names, ipRng: this.rngs.ips, portRng: this.rngs.ports });
    this.nodeCidrs = config.podSubnet ? new NodeCidrAllocator(config.podSubnet, config.nodeCidrMaskSize, config.serviceSubnet) : undefined;
    this.lbPool = new LoadBalancerPool(config.loadBalancerPool);
    this.kubelets = new Kubelets(this.rngs.kubelet);
    const controllers = [
      nodeIpamController(this.nodeCidrs),
      ...(config.agents ?? []),
      this.kubelets.controller(),
      nodeLifecycleController,
      taintEvictionController,
      garbageCollector,
      deploymentController,
      replicaSetController,
      daemonSetController,
      cronJobController,
      jobController,
      schedulerController(this.rngs.scheduler),
      endpointSliceController,
      loadBalancerController(this.lbPool),
    ];
    this.runtime = new Runtime(this.api, this.clock, controllers, this.kubelets);
    this.api.bootstrap();
  }

  /** Registers a node (as its kubelet would) and starts its kubelet. */
  addNode(spec: NodeSpec): Node {
    const controlPlane = spec.role === "control-plane";
    const labels: Record<string, string> = {
      "beta.kubernetes.io/arch": "amd64",
      "beta.kubernetes.io/os": "linux",
      "kubernetes.io/arch": "amd64",
      "kubernetes.io/hostname": spec.name,
      "kubernetes.io/os": "linux",
      ...(controlPlane ? { "node-role.kubernetes.io/control-plane": "", "node.kubernetes.io/exclude-from-external-load-balancers": "" } : {}),
      ...(spec.labels ?? {}),
    };
    const taints: Taint[] = [...(controlPlane ? [{ key: TAINT.controlPlane, effect: "NoSchedule" as const }] : []), ...(spec.taints ?? [])];
    const cpu = spec.capacity?.cpu ?? "4";
    const memory = spec.capacity?.memory ?? "8Gi";
    const pods = String(spec.capacity?.pods ?? 110);
    if (spec.podCIDR && this.nodeCidrs) {
      const c = parseCidr(spec.podCIDR);
      if (c.ok) this.nodeCidrs.occupy(c.value);
    }
    const node = this.api.create<Node>({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: spec.name, labels, annotations: { "node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true" } },
      spec: { ...(spec.podCIDR ? { podCIDR: spec.podCIDR, podCIDRs: [spec.podCIDR] } : {}), ...(spec.unschedulable ? { unschedulable: true } : {}), ...(taints.length > 0 ? { taints } : {}) },
      status: {
        capacity: { cpu, memory, pods },
        allocatable: { cpu, memory: allocatableMemory(memory), pods },
        addresses: [
          { type: "InternalIP", address: spec.ip },
          { type: "Hostname", address: spec.name },
        ],
        nodeInfo: { architecture: "amd64", operatingSystem: "linux", kubeletVersion: KUBERNETES_VERSION, kubeProxyVersion: "", osImage: "podwire emulated node", kernelVersion: "emulated", containerRuntimeVersion: "containerd://emulated" },
      },
    });
    this.kubelets.add(spec.name, spec.ip, () => {
      const n = this.api.get("Node", spec.name);
      return n ? (this.config.network ?? defaultNetwork)(n, this) : undefined;
    });
    return node;
  }

  /** Runs the control loops until nothing changes. */
  settle(): SettleReport {
    return this.runtime.settle();
  }

  /** Moves virtual time forward (firing evictions, CronJobs…) and settles. */
  advance(ms: number): SettleReport {
    return this.runtime.advance(ms);
  }

  /** Reads an object. */
  get<K extends Kind>(kind: K, key: string): ObjectOf<K> | undefined {
    return this.api.get(kind, key);
  }

  /** Lists objects of a kind (optionally in one namespace). */
  list<K extends Kind>(kind: K, namespace?: string): ObjectOf<K>[] {
    return this.api.store.list(kind, namespace);
  }

  /** `kubectl apply` of one object. */
  apply<T extends AnyObject>(obj: T): { object: T; action: "created" | "configured" | "unchanged" } {
    return this.api.apply(obj);
  }

  /** Events in the order `kubectl get events` lists them (by namespace and name). */
  events(namespace?: string): Event[] {
    return this.list("Event", namespace);
  }

  /** The pods on a node. */
  podsOn(node: string): ObjectOf<"Pod">[] {
    return this.runtime.view.podsOnNode(node);
  }

  /** The key of an object. */
  static key(o: AnyObject): string {
    return keyOf(o);
  }
}

/** host-local over the node's podCIDR (what the flannel delegate configures), without devices. */
function defaultNetwork(node: Node, cluster: Cluster): PodNetwork | undefined {
  const cidr = node.spec.podCIDR;
  if (!cidr) return undefined;
  let store = cluster.ipam.get(node.metadata.name);
  if (!store) {
    store = new HostLocalStore();
    cluster.ipam.set(node.metadata.name, store);
  }
  return podNetwork(hostLocal(store), { name: "cbr0", ranges: [[{ subnet: cidr }]], routes: [{ dst: "0.0.0.0/0" }] });
}
