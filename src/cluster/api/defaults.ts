/**
 * @module cluster/api/defaults
 * Defaulting as the apiserver does it on create (`SetDefaults_*` in pkg/apis/<group>/v1/defaults.go,
 * plus the DefaultTolerationSeconds admission plugin). Pure: object in, defaulted object out.
 */
import type { Container, CronJob, DaemonSet, Deployment, Job, Namespace, Pod, PodSpec, PodTemplateSpec, ReplicaSet, Service, ServicePort, Toleration } from "./types.js";

/** `imagePullPolicy` default: Always for `:latest` or an untagged image, else IfNotPresent. */
export function defaultPullPolicy(image: string | undefined): "Always" | "IfNotPresent" {
  if (!image) return "IfNotPresent";
  if (image.includes("@")) return "IfNotPresent";
  const last = image.split("/").pop() ?? image;
  const tag = last.includes(":") ? last.split(":").pop() : undefined;
  return tag === undefined || tag === "latest" ? "Always" : "IfNotPresent";
}

function defaultContainer(c: Container, hostNetwork: boolean): Container {
  return {
    ...c,
    imagePullPolicy: c.imagePullPolicy ?? defaultPullPolicy(c.image),
    ...(c.ports
      ? {
          ports: c.ports.map((p) => ({
            ...p,
            protocol: p.protocol ?? "TCP",
            ...(hostNetwork && p.hostPort === undefined ? { hostPort: p.containerPort } : {}),
          })),
        }
      : {}),
  };
}

/** The tolerations DefaultTolerationSeconds adds when a pod has none for these taints. */
export const DEFAULT_NOT_READY_SECONDS = 300;

function addDefaultTolerations(tols: readonly Toleration[] | undefined): Toleration[] {
  const out = [...(tols ?? [])];
  for (const key of ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]) {
    const has = out.some((t) => (t.key === key || (t.key === undefined && t.operator === "Exists")) && (t.effect === undefined || t.effect === "NoExecute"));
    if (!has) out.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: DEFAULT_NOT_READY_SECONDS });
  }
  return out;
}

/** Pod spec defaults (shared by pods and templates). */
export function defaultPodSpec(s: PodSpec): PodSpec {
  const hostNetwork = s.hostNetwork === true;
  return {
    ...s,
    containers: s.containers.map((c) => defaultContainer(c, hostNetwork)),
    ...(s.initContainers ? { initContainers: s.initContainers.map((c) => defaultContainer(c, hostNetwork)) } : {}),
    restartPolicy: s.restartPolicy ?? "Always",
    dnsPolicy: s.dnsPolicy ?? "ClusterFirst",
    schedulerName: s.schedulerName ?? "default-scheduler",
    terminationGracePeriodSeconds: s.terminationGracePeriodSeconds ?? 30,
    priority: s.priority ?? 0,
  };
}

/** Pod defaults on create, including the admission-added tolerations. */
export function defaultPod(p: Pod): Pod {
  // Every pod a controller makes from one template has that template's spec object: they share one
  // defaulted spec (containers, ports, tolerations), as objects from the store are never changed.
  let spec = defaultedSpecs.get(p.spec);
  if (!spec) {
    const d = defaultPodSpec(p.spec);
    spec = { ...d, tolerations: addDefaultTolerations(d.tolerations) };
    defaultedSpecs.set(p.spec, spec);
  }
  return { ...p, spec, status: p.status ?? { phase: "Pending" } };
}
const defaultedSpecs = new WeakMap<PodSpec, PodSpec>();

function defaultTemplate(t: PodTemplateSpec): PodTemplateSpec {
  return { ...t, spec: defaultPodSpec(t.spec) };
}

function defaultServicePort(p: ServicePort): ServicePort {
  return { ...p, protocol: p.protocol ?? "TCP", targetPort: p.targetPort ?? p.port };
}

/** Service defaults (SetDefaults_Service). */
export function defaultService(s: Service): Service {
  const type = s.spec.type ?? "ClusterIP";
  const external = type === "NodePort" || type === "LoadBalancer";
  const spec = {
    ...s.spec,
    type,
    sessionAffinity: s.spec.sessionAffinity ?? "None",
    ...(s.spec.sessionAffinity === "ClientIP" && !s.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ? { sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } } } : {}),
    ...(s.spec.ports ? { ports: s.spec.ports.map(defaultServicePort) } : {}),
    ...(type !== "ExternalName" ? { internalTrafficPolicy: s.spec.internalTrafficPolicy ?? "Cluster", ipFamilies: s.spec.ipFamilies ?? ["IPv4"], ipFamilyPolicy: s.spec.ipFamilyPolicy ?? "SingleStack" } : {}),
    ...(external ? { externalTrafficPolicy: s.spec.externalTrafficPolicy ?? "Cluster" } : {}),
    ...(type === "LoadBalancer" ? { allocateLoadBalancerNodePorts: s.spec.allocateLoadBalancerNodePorts ?? true } : {}),
  };
  return { ...s, spec, status: s.status ?? { loadBalancer: {} } };
}

/** Deployment defaults. */
export function defaultDeployment(d: Deployment): Deployment {
  return {
    ...d,
    spec: {
      ...d.spec,
      replicas: d.spec.replicas ?? 1,
      strategy: d.spec.strategy ?? { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } },
      revisionHistoryLimit: d.spec.revisionHistoryLimit ?? 10,
      progressDeadlineSeconds: d.spec.progressDeadlineSeconds ?? 600,
      template: defaultTemplate(d.spec.template),
    },
  };
}

/** ReplicaSet defaults. */
export function defaultReplicaSet(r: ReplicaSet): ReplicaSet {
  return { ...r, spec: { ...r.spec, replicas: r.spec.replicas ?? 1, template: defaultTemplate(r.spec.template) } };
}

/** DaemonSet defaults. */
export function defaultDaemonSet(d: DaemonSet): DaemonSet {
  return {
    ...d,
    spec: {
      ...d.spec,
      updateStrategy: d.spec.updateStrategy ?? { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      revisionHistoryLimit: d.spec.revisionHistoryLimit ?? 10,
      template: defaultTemplate(d.spec.template),
    },
  };
}

/**
 * Job defaults, including the generated selector and template labels (batch's
 * `generateSelector`): both the `batch.kubernetes.io/` labels and the legacy unprefixed ones.
 */
export function defaultJob(j: Job, uid: string): Job {
  const bothNil = j.spec.completions === undefined && j.spec.parallelism === undefined;
  const manual = j.spec.manualSelector === true;
  const labels = manual
    ? (j.spec.template.metadata?.labels ?? {})
    : {
        ...(j.spec.template.metadata?.labels ?? {}),
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": j.metadata.name,
        "controller-uid": uid,
        "job-name": j.metadata.name,
      };
  return {
    ...j,
    spec: {
      ...j.spec,
      ...(bothNil ? { completions: 1 } : {}),
      parallelism: j.spec.parallelism ?? 1,
      backoffLimit: j.spec.backoffLimit ?? 6,
      completionMode: j.spec.completionMode ?? "NonIndexed",
      suspend: j.spec.suspend ?? false,
      selector: manual ? (j.spec.selector as NonNullable<Job["spec"]["selector"]>) : { matchLabels: { "batch.kubernetes.io/controller-uid": uid } },
      template: { ...defaultTemplate(j.spec.template), metadata: { ...(j.spec.template.metadata ?? {}), labels } },
    },
  };
}

/** CronJob defaults. */
export function defaultCronJob(c: CronJob): CronJob {
  return {
    ...c,
    spec: {
      ...c.spec,
      concurrencyPolicy: c.spec.concurrencyPolicy ?? "Allow",
      suspend: c.spec.suspend ?? false,
      successfulJobsHistoryLimit: c.spec.successfulJobsHistoryLimit ?? 3,
      failedJobsHistoryLimit: c.spec.failedJobsHistoryLimit ?? 1,
    },
  };
}

/** Namespace defaults (finalizer, phase, the `kubernetes.io/metadata.name` label). */
export function defaultNamespace(n: Namespace): Namespace {
  return {
    ...n,
    metadata: { ...n.metadata, labels: { ...(n.metadata.labels ?? {}), "kubernetes.io/metadata.name": n.metadata.name } },
    spec: { finalizers: ["kubernetes"] },
    status: { phase: "Active" },
  };
}
