/**
 * @module cluster/operations
 * What an operator does with kubectl, with kubectl's outcomes and messages: cordon, uncordon, drain
 * (cordon first; refused for DaemonSet-managed pods without ignoreDaemonSets and for pods without a
 * controller without force — the node stays cordoned, as with the real command), scale, delete; and
 * what happens to machines: failNode (the kubelet stops, its Lease stops being renewed) and
 * recoverNode. Each returns kubectl's output lines; a refusal throws `OperationError` with kubectl's
 * error text. The caller settles afterwards.
 * @see k8s.io/kubectl/pkg/drain/{drain.go,filters.go}
 */
import { controllerOf, keyOf } from "./api/meta.js";
import { ApiError, RESOURCE } from "./api/resource.js";
import type { Deployment, Kind, Pod, ReplicaSet } from "./api/types.js";
import type { Cluster } from "./cluster.js";
import { isPodActive } from "./controllers/pods.js";

/** A refused operation; `message` is what kubectl prints after `error: `. */
export class OperationError extends Error {
  override readonly name = "OperationError";
}

function nodeOf(c: Cluster, name: string) {
  const n = c.get("Node", name);
  if (!n) throw new OperationError(`nodes "${name}" not found`);
  return n;
}

function setUnschedulable(c: Cluster, name: string, value: boolean): string {
  const n = nodeOf(c, name);
  if ((n.spec.unschedulable === true) === value) return `node/${name} already ${value ? "cordoned" : "uncordoned"}`;
  const { unschedulable: _u, ...rest } = n.spec;
  c.api.update({ ...n, spec: value ? { ...rest, unschedulable: true } : rest });
  return `node/${name} ${value ? "cordoned" : "uncordoned"}`;
}

/** `kubectl cordon NODE`. */
export function cordon(c: Cluster, name: string): string[] {
  return [setUnschedulable(c, name, true)];
}

/** `kubectl uncordon NODE`. */
export function uncordon(c: Cluster, name: string): string[] {
  return [setUnschedulable(c, name, false)];
}

/** Options of `kubectl drain`. */
export interface DrainOptions {
  readonly ignoreDaemonSets?: boolean;
  readonly force?: boolean;
  readonly deleteEmptyDirData?: boolean;
}

function list(pods: readonly Pod[]): string {
  return pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(", ");
}

/** `kubectl drain NODE`: cordon, check the pods, evict them. */
export function drain(c: Cluster, name: string, opts: DrainOptions = {}): string[] {
  const out = cordon(c, name);
  const pods = c.podsOn(name).filter((p) => isPodActive(p) || p.metadata.deletionTimestamp);
  const errors: string[] = [];
  const warnings: string[] = [];
  const daemon = pods.filter((p) => controllerOf(p)?.kind === "DaemonSet");
  const unmanaged = pods.filter((p) => !controllerOf(p) && !p.metadata.annotations?.["kubernetes.io/config.mirror"]);
  const local = pods.filter((p) => ((p.spec as { volumes?: { emptyDir?: unknown }[] }).volumes ?? []).some((v) => v.emptyDir !== undefined));
  if (daemon.length > 0) {
    if (opts.ignoreDaemonSets) warnings.push(`Warning: ignoring DaemonSet-managed Pods: ${list(daemon)}`);
    else errors.push(`cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): ${list(daemon)}`);
  }
  if (unmanaged.length > 0) {
    if (opts.force) warnings.push(`Warning: deleting Pods that declare no controller: ${list(unmanaged)}`);
    else errors.push(`cannot delete Pods that declare no controller (use --force to override): ${list(unmanaged)}`);
  }
  if (local.length > 0 && !opts.deleteEmptyDirData) errors.push(`cannot delete Pods with local storage (use --delete-emptydir-data to override): ${list(local)}`);
  if (errors.length > 0) {
    const joined = errors.length === 1 ? errors[0] : `[${errors.join(", ")}]`;
    throw new OperationError(`unable to drain node "${name}" due to error: ${joined}, continuing command...\nThere are pending nodes to be drained:\n ${name}\n${errors.join("\n")}`);
  }
  out.push(...warnings);
  const evict = pods.filter((p) => controllerOf(p)?.kind !== "DaemonSet" && !p.metadata.annotations?.["kubernetes.io/config.mirror"]);
  for (const p of evict) out.push(`evicting pod ${p.metadata.namespace}/${p.metadata.name}`);
  for (const p of evict) {
    c.api.delete("Pod", keyOf(p));
    out.push(`pod/${p.metadata.name} evicted`);
  }
  out.push(`node/${name} drained`);
  return out;
}

const SCALABLE: Readonly<Record<string, Kind>> = { deployment: "Deployment", deployments: "Deployment", deploy: "Deployment", replicaset: "ReplicaSet", replicasets: "ReplicaSet", rs: "ReplicaSet" };

/** `kubectl scale KIND/NS/NAME --replicas=N`. */
export function scale(c: Cluster, kindName: string, key: string, replicas: number): string[] {
  const kind = SCALABLE[kindName.toLowerCase()];
  if (!kind) throw new OperationError(`cannot scale ${kindName}: only deployments and replicasets can be scaled`);
  if (!Number.isInteger(replicas) || replicas < 0) throw new OperationError(`The ${kind} "${key.split("/").pop() ?? key}" is invalid: spec.replicas: Invalid value: ${replicas}: must be greater than or equal to 0`);
  const o = kind === "Deployment" ? c.get("Deployment", key) : c.get("ReplicaSet", key);
  if (!o) throw new OperationError(`${RESOURCE[kind]} "${key.split("/").pop() ?? key}" not found`);
  c.api.update<Deployment | ReplicaSet>({ ...o, spec: { ...o.spec, replicas } } as Deployment | ReplicaSet);
  return [`${RESOURCE[kind]}/${key.split("/").pop() ?? key} scaled`];
}

const KINDS_BY_NAME: Readonly<Record<string, Kind>> = {
  pod: "Pod", pods: "Pod", po: "Pod",
  service: "Service", services: "Service", svc: "Service",
  deployment: "Deployment", deployments: "Deployment", deploy: "Deployment",
  replicaset: "ReplicaSet", rs: "ReplicaSet",
  daemonset: "DaemonSet", ds: "DaemonSet",
  job: "Job", cronjob: "CronJob", cj: "CronJob",
  node: "Node", nodes: "Node", no: "Node",
  namespace: "Namespace", ns: "Namespace",
  endpointslice: "EndpointSlice",
};

/** Resolves `pod`, `svc`, `deploy`… to a kind. */
export function kindByName(name: string): Kind | undefined {
  return KINDS_BY_NAME[name.toLowerCase()];
}

/** `kubectl delete KIND NAME -n NS`. */
export function remove(c: Cluster, kindName: string, key: string): string[] {
  const kind = kindByName(kindName);
  if (!kind) throw new OperationError(`the server doesn't have a resource type "${kindName}"`);
  try {
    c.api.delete(kind, key);
  } catch (e) {
    if (e instanceof ApiError) throw new OperationError(e.message);
    throw e;
  }
  return [`${kind.toLowerCase()} "${key.split("/").pop() ?? key}" deleted`];
}

/** The node's kubelet stops (machine down or partitioned): no more Lease renewals, no pod work. */
export function failNode(c: Cluster, name: string): string[] {
  nodeOf(c, name);
  const k = c.kubelets.nodes.get(name);
  if (!k) throw new OperationError(`node "${name}" has no kubelet`);
  if (k.alive) {
    k.alive = false;
    k.stoppedAt = c.clock.now();
  }
  c.runtime.enqueue("node-controller", name);
  return [`node/${name} failed (kubelet stopped at ${c.api.now()})`];
}

/** The node's kubelet runs again: it posts Ready and resumes its pods. */
export function recoverNode(c: Cluster, name: string): string[] {
  const n = nodeOf(c, name);
  const k = c.kubelets.nodes.get(name);
  if (!k) throw new OperationError(`node "${name}" has no kubelet`);
  k.alive = true;
  delete k.stoppedAt;
  const conditions = (n.status?.conditions ?? []).map((cond) => (cond.type === "Ready" ? { ...cond, status: "False" as const } : cond));
  c.api.update({ ...n, status: { ...n.status, conditions } });
  c.runtime.enqueue("kubelet", `node:${name}`);
  c.runtime.enqueue("node-controller", name);
  for (const p of c.podsOn(name)) c.runtime.enqueue("kubelet", keyOf(p));
  return [`node/${name} recovered`];
}
