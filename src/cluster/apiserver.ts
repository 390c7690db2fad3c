/**
 * @module cluster/apiserver
 * The apiserver in front of the store: defaulting, validation, namespace existence, UIDs and
 * timestamps, `generateName`, graceful pod deletion, and the Service registry's allocators
 * (ClusterIP, NodePort, healthCheckNodePort). Controllers, the scheduler and kubelets write only
 * through it, as real components go through the API.
 * @see k8s.io/kubernetes/pkg/registry/core/service/storage/alloc.go
 */
import { formatIpv4, parseIpv4, type Ipv4 } from "../net/addr.js";
import type { Cidr } from "../net/cidr.js";
import type { Clock } from "../sim/clock.js";
import type { Rng } from "../sim/rng.js";
import { defaultCronJob, defaultDaemonSet, defaultDeployment, defaultJob, defaultNamespace, defaultPod, defaultReplicaSet, defaultService } from "./api/defaults.js";
import { invalidMessage } from "./api/field.js";
import { keyOf, type ObjectMeta } from "./api/meta.js";
import { ApiError, RESOURCE } from "./api/resource.js";
import { API_VERSION, isNamespaced, type AnyObject, type Kind, type ObjectOf, type Service, type ServicePort } from "./api/types.js";
import { validateObject } from "./api/validate.js";
import { NodePortAllocator, type PortRange } from "./allocators/node-port.js";
import { ServiceIpAllocator } from "./allocators/service-ip.js";
import { randomSuffix, randomUid } from "./names.js";
import { Store } from "./store.js";
import { timestamp } from "./time.js";
import { jsonEqual } from "./api/equal.js";

/** The namespaces every cluster has. */
export const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"] as const;

/** What the apiserver is configured with. */
export interface ApiServerConfig {
  readonly serviceCidr: Cidr;
  readonly nodePortRange: PortRange;
  readonly clock: Clock;
  /** Randomness for names and UIDs. */
  readonly rng: Rng;
  /** Randomness for the ClusterIP allocator. */
  readonly ipRng: Rng;
  /** Randomness for the NodePort allocator. */
  readonly portRng: Rng;
}

/** The apiserver. */
export class ApiServer {
  readonly store = new Store();
  readonly serviceIps: ServiceIpAllocator;
  readonly nodePorts: NodePortAllocator;

  constructor(readonly config: ApiServerConfig) {
    this.serviceIps = new ServiceIpAllocator(config.serviceCidr, config.ipRng);
    this.nodePorts = new NodePortAllocator(config.nodePortRange, config.portRng);
  }

  /** Virtual now as an RFC 3339 timestamp. */
  now(): string {
    return timestamp(this.config.clock.now());
  }

  /** Creates the system namespaces and the `kubernetes` Service (first address, port 443 → 6443), as a starting apiserver does. */
  bootstrap(): void {
    for (const name of SYSTEM_NAMESPACES) this.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    const first = formatIpv4(this.serviceIps.nth(0));
    this.create<Service>({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "kubernetes", namespace: "default", labels: { component: "apiserver", provider: "kubernetes" } },
      spec: { type: "ClusterIP", clusterIP: first, ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: 6443 }] },
    });
  }

  /** `kubectl create`: default, validate, allocate, store. */
  create<T extends AnyObject>(input: T): T {
    const obj = this.prepare(input);
    const errors = validateObject(obj);
    if (errors.length > 0) throw new ApiError("Invalid", invalidMessage(obj.kind, obj.metadata.name, errors), errors);
    const allocated = obj.kind === "Service" ? (this.allocateService(obj as Service) as AnyObject as T) : obj;
    try {
      return this.store.create(allocated);
    } catch (e) {
      if (allocated.kind === "Service") this.releaseService(allocated as Service);
      throw e;
    }
  }

  /** Replaces an object (status and spec alike); bumps `generation` when the spec changed. */
  update<T extends AnyObject>(obj: T): T {
    const cur = this.store.get(obj.kind, keyOf(obj));
    if (!cur) throw new ApiError("NotFound", `${RESOURCE[obj.kind]} "${obj.metadata.name}" not found`);
    const specChanged = "spec" in obj && !jsonEqual((obj as { spec: unknown }).spec, (cur as { spec?: unknown }).spec);
    const meta: ObjectMeta = { ...obj.metadata, uid: cur.metadata.uid as string, creationTimestamp: cur.metadata.creationTimestamp as string, ...(specChanged && cur.metadata.generation !== undefined ? { generation: cur.metadata.generation + 1 } : {}) };
    return this.store.update({ ...obj, metadata: meta });
  }

  /**
   * `kubectl apply` of a whole object: creates it, or replaces the spec of the existing one keeping
   * what the cluster assigned (UID, ClusterIP, node ports, status).
   */
  apply<T extends AnyObject>(input: T): { object: T; action: "created" | "configured" | "unchanged" } {
    const ns = isNamespaced(input.kind) ? (input.metadata.namespace ?? "default") : undefined;
    const key = ns ? `${ns}/${input.metadata.name}` : input.metadata.name;
    const cur = this.store.get(input.kind, key) as T | undefined;
    if (!cur) return { object: this.create(input), action: "created" };
    const prepared = this.prepare({ ...input, metadata: { ...input.metadata, namespace: ns, name: input.metadata.name } } as T, cur);
    // Status belongs to the cluster; a pod's spec is immutable apart from what its labels select.
    const curRec = cur as unknown as Record<string, unknown>;
    const merged = {
      ...prepared,
      ...("status" in curRec ? { status: curRec["status"] } : {}),
      ...(cur.kind === "Pod" ? { spec: curRec["spec"] } : {}),
    } as T;
    const errors = validateObject(merged);
    if (errors.length > 0) throw new ApiError("Invalid", invalidMessage(merged.kind, merged.metadata.name, errors), errors);
    let next = merged;
    if (merged.kind === "Service") next = this.reallocateService(cur as Service, merged as Service) as AnyObject as T;
    const same = jsonEqual({ ...next, metadata: { ...next.metadata, resourceVersion: undefined } }, { ...cur, metadata: { ...cur.metadata, resourceVersion: undefined } });
    if (same) return { object: cur, action: "unchanged" };
    return { object: this.update({ ...next, metadata: { ...next.metadata, resourceVersion: cur.metadata.resourceVersion } }), action: "configured" };
  }

  /**
   * Deletes an object. A pod bound to a node is deleted gracefully: it gets a deletionTimestamp and
   * stays until its kubelet confirms (`finalizePod`), as the real pod registry does.
   */
  delete(kind: Kind, key: string, opts: { gracePeriodSeconds?: number } = {}): void {
    const cur = this.store.get(kind, key);
    if (!cur) throw new ApiError("NotFound", `${RESOURCE[kind]} "${key.split("/").pop() ?? key}" not found`);
    if (cur.kind === "Pod" && cur.spec.nodeName && opts.gracePeriodSeconds !== 0 && cur.status?.phase !== "Succeeded" && cur.status?.phase !== "Failed") {
      if (cur.metadata.deletionTimestamp) return;
      const grace = opts.gracePeriodSeconds ?? cur.spec.terminationGracePeriodSeconds ?? 30;
      this.store.update({ ...cur, metadata: { ...cur.metadata, deletionTimestamp: timestamp(this.config.clock.now() + grace * 1000), deletionGracePeriodSeconds: grace } });
      return;
    }
    this.store.delete(kind, key);
    if (cur.kind === "Service") this.releaseService(cur);
  }

  /** The kubelet's final delete of a terminated pod (grace period 0). */
  finalizePod(key: string): void {
    if (this.store.get("Pod", key)) this.store.delete("Pod", key);
  }

  /** Reads an object. */
  get<K extends Kind>(kind: K, key: string): ObjectOf<K> | undefined {
    return this.store.get(kind, key);
  }

  private prepare<T extends AnyObject>(input: T, existing?: AnyObject): T {
    if (!input || typeof input !== "object" || !input.metadata || typeof input.metadata !== "object") {
      throw new ApiError("BadRequest", "Object 'metadata' is missing");
    }
    const kind = input.kind;
    let meta: ObjectMeta = { ...input.metadata };
    if (isNamespaced(kind)) {
      const ns = meta.namespace ?? "default";
      meta = { ...meta, namespace: ns };
      if (!this.store.get("Namespace", ns) && kind !== "Event") throw new ApiError("NotFound", `namespaces "${ns}" not found`);
    } else if (meta.namespace !== undefined) {
      const { namespace: _ns, ...rest } = meta;
      meta = rest as ObjectMeta;
    }
    if (!meta.name && meta.generateName) {
      meta = { ...meta, name: meta.generateName + randomSuffix(this.config.rng) };
    }
    const uid = existing?.metadata.uid ?? meta.uid ?? randomUid(this.config.rng);
    meta = {
      ...meta,
      uid,
      creationTimestamp: existing?.metadata.creationTimestamp ?? this.now(),
      ...(kind === "Deployment" || kind === "ReplicaSet" || kind === "DaemonSet" || kind === "Job" || kind === "CronJob" || kind === "Service" ? { generation: existing?.metadata.generation ?? 1 } : {}),
    };
    const obj = { ...input, apiVersion: input.apiVersion ?? API_VERSION[kind], metadata: meta } as AnyObject;
    switch (obj.kind) {
      case "Pod":
        return defaultPod(obj) as T;
      case "Service":
        return defaultService(obj) as T;
      case "Deployment":
        return defaultDeployment(obj) as T;
      case "ReplicaSet":
        return defaultReplicaSet(obj) as T;
      case "DaemonSet":
        return defaultDaemonSet(obj) as T;
      case "Job":
        return defaultJob(obj, uid) as T;
      case "CronJob":
        return defaultCronJob(obj) as T;
      case "Namespace":
        return defaultNamespace(obj) as T;
      default:
        return obj as T;
    }
  }

  private invalid(svc: Service, error: string): ApiError {
    return new ApiError("Invalid", invalidMessage("Service", svc.metadata.name, [error]), [error]);
  }

  private allocateService(svc: Service, keepIp?: string): Service {
    const type = svc.spec.type ?? "ClusterIP";
    let clusterIP = svc.spec.clusterIP;
    const taken: { ip?: Ipv4; ports: number[] } = { ports: [] };
    try {
      if (type !== "ExternalName" && clusterIP !== "None") {
        if (keepIp !== undefined && (clusterIP === undefined || clusterIP === "" || clusterIP === keepIp)) {
          clusterIP = keepIp;
        } else if (clusterIP === undefined || clusterIP === "") {
          const r = this.serviceIps.allocateNext();
          if (!r.ok) throw new ApiError("InternalError", r.error);
          clusterIP = formatIpv4(r.value);
          taken.ip = r.value;
        } else {
          const want = parseIpv4(clusterIP);
          if (!want.ok) throw this.invalid(svc, `spec.clusterIPs[0]: Invalid value: "${clusterIP}": must be a valid IP address`);
          const r = this.serviceIps.allocate(want.value);
          if (!r.ok) throw this.invalid(svc, r.error);
          taken.ip = r.value;
        }
      }
      const wantsNodePorts = type === "NodePort" || (type === "LoadBalancer" && svc.spec.allocateLoadBalancerNodePorts !== false);
      const ports = this.allocateNodePorts(svc, wantsNodePorts, taken.ports);
      let hc = svc.spec.healthCheckNodePort;
      if (type === "LoadBalancer" && svc.spec.externalTrafficPolicy === "Local") {
        if (hc === undefined || hc === 0) {
          const r = this.nodePorts.allocateNext();
          if (!r.ok) throw new ApiError("InternalError", r.error);
          hc = r.value;
        } else {
          const r = this.nodePorts.allocate(hc, "spec.healthCheckNodePort");
          if (!r.ok) throw this.invalid(svc, r.error);
        }
        taken.ports.push(hc);
      }
      const spec = {
        ...svc.spec,
        ...(clusterIP !== undefined && type !== "ExternalName" ? { clusterIP, clusterIPs: [clusterIP] } : {}),
        ...(ports ? { ports } : {}),
        ...(hc !== undefined ? { healthCheckNodePort: hc } : {}),
      };
      return { ...svc, spec };
    } catch (e) {
      if (taken.ip !== undefined) this.serviceIps.release(taken.ip);
      for (const p of taken.ports) this.nodePorts.release(p);
      throw e;
    }
  }

  private allocateNodePorts(svc: Service, wanted: boolean, taken: number[]): ServicePort[] | undefined {
    const ports = svc.spec.ports;
    if (!ports || !wanted) return ports ? [...ports] : undefined;
    const byPort = new Map<number, number>();
    const out: ServicePort[] = [];
    ports.forEach((p) => {
      if (p.nodePort) byPort.set(p.port, p.nodePort);
    });
    const claimed = new Set<number>();
    ports.forEach((p, i) => {
      let np = p.nodePort && p.nodePort !== 0 ? p.nodePort : undefined;
      if (np !== undefined) {
        if (!claimed.has(np)) {
          const r = this.nodePorts.allocate(np, `spec.ports[${i}].nodePort`);
          if (!r.ok) throw this.invalid(svc, r.error);
          taken.push(np);
          claimed.add(np);
        }
      } else {
        np = byPort.get(p.port);
        if (np === undefined) {
          const r = this.nodePorts.allocateNext();
          if (!r.ok) throw new ApiError("InternalError", r.error);
          np = r.value;
          taken.push(np);
          claimed.add(np);
          byPort.set(p.port, np);
        }
      }
      out.push({ ...p, nodePort: np });
    });
    return out;
  }

  private reallocateService(cur: Service, next: Service): Service {
    const keepIp = cur.spec.clusterIP && cur.spec.clusterIP !== "None" ? cur.spec.clusterIP : undefined;
    if (next.spec.clusterIP && next.spec.clusterIP !== keepIp && keepIp !== undefined) {
      const err = `spec.clusterIPs[0]: Invalid value: []string{"${next.spec.clusterIP}"}: may not change once set`;
      throw this.invalid(next, err);
    }
    const oldPorts = (cur.spec.ports ?? []).map((p) => p.nodePort).filter((p): p is number => p !== undefined);
    const byPort = new Map((cur.spec.ports ?? []).map((p) => [`${p.protocol ?? "TCP"}/${p.port}`, p.nodePort] as const));
    for (const p of oldPorts) this.nodePorts.release(p);
    if (cur.spec.healthCheckNodePort !== undefined) this.nodePorts.release(cur.spec.healthCheckNodePort);
    const withOld: Service = {
      ...next,
      spec: {
        ...next.spec,
        ...(next.spec.ports ? { ports: next.spec.ports.map((p) => ({ ...p, ...(p.nodePort === undefined && byPort.get(`${p.protocol ?? "TCP"}/${p.port}`) !== undefined ? { nodePort: byPort.get(`${p.protocol ?? "TCP"}/${p.port}`) as number } : {}) })) } : {}),
        ...(next.spec.healthCheckNodePort === undefined && cur.spec.healthCheckNodePort !== undefined ? { healthCheckNodePort: cur.spec.healthCheckNodePort } : {}),
      },
    };
    if ((next.spec.type ?? "ClusterIP") !== "NodePort" && next.spec.type !== "LoadBalancer") {
      const stripped = { ...withOld, spec: { ...withOld.spec, ...(withOld.spec.ports ? { ports: withOld.spec.ports.map(({ nodePort: _n, ...rest }) => rest) } : {}) } };
      const { healthCheckNodePort: _h, ...spec } = stripped.spec;
      return this.allocateService({ ...stripped, spec }, keepIp);
    }
    try {
      return this.allocateService(withOld, keepIp);
    } catch (e) {
      for (const p of oldPorts) this.nodePorts.allocate(p, "");
      throw e;
    }
  }

  private releaseService(svc: Service): void {
    const ip = svc.spec.clusterIP;
    if (ip && ip !== "None") {
      const a = parseIpv4(ip);
      if (a.ok) this.serviceIps.release(a.value);
    }
    for (const p of svc.spec.ports ?? []) if (p.nodePort) this.nodePorts.release(p.nodePort);
    if (svc.spec.healthCheckNodePort) this.nodePorts.release(svc.spec.healthCheckNodePort);
  }
}
