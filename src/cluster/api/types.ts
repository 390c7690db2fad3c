/**
 * @module cluster/api/types
 * The API objects podwire models, with the fields that matter for placement and networking, named
 * and shaped as in `k8s.io/api` (core/v1, apps/v1, batch/v1, discovery.k8s.io/v1). Everything else
 * a real manifest carries is kept in the object and ignored.
 */
import type { KubeObject, LabelSelector, ObjectMeta } from "./meta.js";

/** `intstr.IntOrString`. */
export type IntOrString = number | string;

/** `core/v1.Taint`. */
export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  readonly timeAdded?: string;
}

/** `core/v1.Toleration`. */
export interface Toleration {
  readonly key?: string;
  readonly operator?: "Exists" | "Equal";
  readonly value?: string;
  readonly effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  readonly tolerationSeconds?: number;
}

/** `core/v1.NodeSelectorRequirement` (matchExpressions on labels, matchFields on metadata.name). */
export interface NodeSelectorRequirement {
  readonly key: string;
  readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt";
  readonly values?: readonly string[];
}

/** `core/v1.NodeSelectorTerm`. */
export interface NodeSelectorTerm {
  readonly matchExpressions?: readonly NodeSelectorRequirement[];
  readonly matchFields?: readonly NodeSelectorRequirement[];
}

/** `core/v1.Affinity` (node affinity is modelled; pod (anti-)affinity is accepted and ignored). */
export interface Affinity {
  readonly nodeAffinity?: {
    readonly requiredDuringSchedulingIgnoredDuringExecution?: { readonly nodeSelectorTerms: readonly NodeSelectorTerm[] };
    readonly preferredDuringSchedulingIgnoredDuringExecution?: readonly { readonly weight: number; readonly preference: NodeSelectorTerm }[];
  };
}

/** `core/v1.ContainerPort`. */
export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol?: "TCP" | "UDP" | "SCTP";
  readonly hostPort?: number;
  readonly hostIP?: string;
}

/** `core/v1.Container` (modelled part). */
export interface Container {
  readonly name: string;
  readonly image?: string;
  readonly imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  readonly ports?: readonly ContainerPort[];
  readonly resources?: {
    readonly requests?: Readonly<Record<string, string | number>>;
    readonly limits?: Readonly<Record<string, string | number>>;
  };
}

/** `core/v1.PodSpec` (modelled part). */
export interface PodSpec {
  readonly containers: readonly Container[];
  readonly initContainers?: readonly Container[];
  readonly nodeName?: string;
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly affinity?: Affinity;
  readonly tolerations?: readonly Toleration[];
  readonly hostNetwork?: boolean;
  readonly restartPolicy?: "Always" | "OnFailure" | "Never";
  readonly schedulerName?: string;
  readonly priority?: number;
  readonly terminationGracePeriodSeconds?: number;
  readonly dnsPolicy?: string;
}

/** `core/v1.PodCondition`. */
export interface PodCondition {
  readonly type: "PodScheduled" | "Initialized" | "ContainersReady" | "Ready" | "PodReadyToStartContainers" | "DisruptionTarget";
  readonly status: "True" | "False" | "Unknown";
  readonly reason?: string;
  readonly message?: string;
  readonly lastTransitionTime?: string;
}

/** `core/v1.ContainerStatus` (modelled part). */
export interface ContainerStatus {
  readonly name: string;
  readonly image: string;
  readonly ready: boolean;
  readonly restartCount: number;
  readonly started?: boolean;
  readonly state: {
    readonly waiting?: { readonly reason: string };
    readonly running?: { readonly startedAt: string };
    readonly terminated?: { readonly exitCode: number; readonly reason: string };
  };
}

/** `core/v1.PodStatus` (modelled part). */
export interface PodStatus {
  readonly phase?: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
  readonly conditions?: readonly PodCondition[];
  readonly hostIP?: string;
  readonly podIP?: string;
  readonly podIPs?: readonly { readonly ip: string }[];
  readonly startTime?: string;
  readonly containerStatuses?: readonly ContainerStatus[];
  readonly nominatedNodeName?: string;
  readonly reason?: string;
  readonly message?: string;
}

/** `core/v1.Pod`. */
export interface Pod extends KubeObject {
  readonly kind: "Pod";
  readonly spec: PodSpec;
  readonly status?: PodStatus;
}

/** `core/v1.PodTemplateSpec`. */
export interface PodTemplateSpec {
  readonly metadata?: Omit<ObjectMeta, "name"> & { readonly name?: string };
  readonly spec: PodSpec;
}

/** `core/v1.NodeCondition`. */
export interface NodeCondition {
  readonly type: string;
  readonly status: "True" | "False" | "Unknown";
  readonly reason?: string;
  readonly message?: string;
  readonly lastHeartbeatTime?: string;
  readonly lastTransitionTime?: string;
}

/** `core/v1.Node`. */
export interface Node extends KubeObject {
  readonly kind: "Node";
  readonly spec: {
    readonly podCIDR?: string;
    readonly podCIDRs?: readonly string[];
    readonly unschedulable?: boolean;
    readonly taints?: readonly Taint[];
  };
  readonly status?: {
    readonly capacity?: Readonly<Record<string, string>>;
    readonly allocatable?: Readonly<Record<string, string>>;
    readonly conditions?: readonly NodeCondition[];
    readonly addresses?: readonly { readonly type: string; readonly address: string }[];
    readonly nodeInfo?: Readonly<Record<string, string>>;
  };
}

/** `core/v1.Namespace`. */
export interface Namespace extends KubeObject {
  readonly kind: "Namespace";
  readonly spec?: { readonly finalizers?: readonly string[] };
  readonly status?: { readonly phase?: "Active" | "Terminating" };
}

/** `core/v1.ServicePort`. */
export interface ServicePort {
  readonly name?: string;
  readonly protocol?: "TCP" | "UDP" | "SCTP";
  readonly appProtocol?: string;
  readonly port: number;
  readonly targetPort?: IntOrString;
  readonly nodePort?: number;
}

/** The Service types. */
export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";

/** `core/v1.Service`. */
export interface Service extends KubeObject {
  readonly kind: "Service";
  readonly spec: {
    readonly type?: ServiceType;
    readonly selector?: Readonly<Record<string, string>>;
    readonly ports?: readonly ServicePort[];
    readonly clusterIP?: string;
    readonly clusterIPs?: readonly string[];
    readonly externalIPs?: readonly string[];
    readonly externalName?: string;
    readonly externalTrafficPolicy?: "Cluster" | "Local";
    readonly internalTrafficPolicy?: "Cluster" | "Local";
    readonly sessionAffinity?: "None" | "ClientIP";
    readonly sessionAffinityConfig?: { readonly clientIP?: { readonly timeoutSeconds?: number } };
    readonly loadBalancerIP?: string;
    readonly loadBalancerSourceRanges?: readonly string[];
    readonly healthCheckNodePort?: number;
    readonly publishNotReadyAddresses?: boolean;
    readonly allocateLoadBalancerNodePorts?: boolean;
    readonly ipFamilies?: readonly string[];
    readonly ipFamilyPolicy?: string;
  };
  readonly status?: {
    readonly loadBalancer?: { readonly ingress?: readonly { readonly ip?: string; readonly hostname?: string; readonly ipMode?: string }[] };
  };
}

/** `discovery/v1.Endpoint`. */
export interface Endpoint {
  readonly addresses: readonly string[];
  readonly conditions?: { readonly ready?: boolean; readonly serving?: boolean; readonly terminating?: boolean };
  readonly nodeName?: string;
  readonly zone?: string;
  readonly hostname?: string;
  readonly targetRef?: { readonly kind: string; readonly namespace?: string; readonly name: string; readonly uid?: string };
}

/** `discovery/v1.EndpointPort`. */
export interface EndpointPort {
  readonly name?: string;
  readonly port?: number;
  readonly protocol?: "TCP" | "UDP" | "SCTP";
  readonly appProtocol?: string;
}

/** `discovery/v1.EndpointSlice`. */
export interface EndpointSlice extends KubeObject {
  readonly kind: "EndpointSlice";
  readonly addressType: "IPv4" | "IPv6" | "FQDN";
  readonly endpoints: readonly Endpoint[];
  readonly ports?: readonly EndpointPort[] | null;
}

/** `apps/v1.Deployment`. */
export interface Deployment extends KubeObject {
  readonly kind: "Deployment";
  readonly spec: {
    readonly replicas?: number;
    readonly selector: LabelSelector;
    readonly template: PodTemplateSpec;
    readonly strategy?: unknown;
    readonly revisionHistoryLimit?: number;
    readonly progressDeadlineSeconds?: number;
    readonly paused?: boolean;
  };
  readonly status?: WorkloadStatus & { readonly updatedReplicas?: number; readonly unavailableReplicas?: number; readonly collisionCount?: number };
}

/** The replica counts Deployment and ReplicaSet status share. */
export interface WorkloadStatus {
  readonly observedGeneration?: number;
  readonly replicas?: number;
  readonly readyReplicas?: number;
  readonly availableReplicas?: number;
  readonly fullyLabeledReplicas?: number;
}

/** `apps/v1.ReplicaSet`. */
export interface ReplicaSet extends KubeObject {
  readonly kind: "ReplicaSet";
  readonly spec: { readonly replicas?: number; readonly selector: LabelSelector; readonly template: PodTemplateSpec; readonly minReadySeconds?: number };
  readonly status?: WorkloadStatus;
}

/** `apps/v1.DaemonSet`. */
export interface DaemonSet extends KubeObject {
  readonly kind: "DaemonSet";
  readonly spec: { readonly selector: LabelSelector; readonly template: PodTemplateSpec; readonly updateStrategy?: unknown; readonly revisionHistoryLimit?: number };
  readonly status?: {
    readonly currentNumberScheduled?: number;
    readonly desiredNumberScheduled?: number;
    readonly numberReady?: number;
    readonly numberAvailable?: number;
    readonly numberMisscheduled?: number;
    readonly updatedNumberScheduled?: number;
    readonly observedGeneration?: number;
  };
}

/** `batch/v1.Job`. */
export interface Job extends KubeObject {
  readonly kind: "Job";
  readonly spec: {
    readonly completions?: number;
    readonly parallelism?: number;
    readonly backoffLimit?: number;
    readonly selector?: LabelSelector;
    readonly manualSelector?: boolean;
    readonly template: PodTemplateSpec;
    readonly suspend?: boolean;
    readonly completionMode?: string;
  };
  readonly status?: {
    readonly active?: number;
    readonly succeeded?: number;
    readonly failed?: number;
    readonly startTime?: string;
    readonly completionTime?: string;
    readonly conditions?: readonly { readonly type: string; readonly status: string; readonly reason?: string; readonly lastTransitionTime?: string }[];
  };
}

/** `batch/v1.CronJob`. */
export interface CronJob extends KubeObject {
  readonly kind: "CronJob";
  readonly spec: {
    readonly schedule: string;
    readonly timeZone?: string;
    readonly concurrencyPolicy?: "Allow" | "Forbid" | "Replace";
    readonly suspend?: boolean;
    readonly successfulJobsHistoryLimit?: number;
    readonly failedJobsHistoryLimit?: number;
    readonly startingDeadlineSeconds?: number;
    readonly jobTemplate: { readonly metadata?: Partial<ObjectMeta>; readonly spec: Job["spec"] };
  };
  readonly status?: { readonly lastScheduleTime?: string; readonly lastSuccessfulTime?: string; readonly active?: readonly { readonly kind: string; readonly name: string; readonly namespace: string; readonly uid: string }[] };
}

/** `core/v1.Event` (the fields `kubectl get events` and `describe` show). */
export interface Event extends KubeObject {
  readonly kind: "Event";
  readonly involvedObject: { readonly kind: string; readonly namespace?: string; readonly name: string; readonly uid?: string; readonly apiVersion?: string; readonly fieldPath?: string };
  readonly reason: string;
  readonly message: string;
  readonly type: "Normal" | "Warning";
  readonly source: { readonly component: string; readonly host?: string };
  readonly count: number;
  readonly firstTimestamp: string;
  readonly lastTimestamp: string;
  readonly reportingComponent?: string;
  readonly reportingInstance?: string;
}

/** Every kind the store holds. */
export type AnyObject = Namespace | Node | Pod | Service | EndpointSlice | Deployment | ReplicaSet | DaemonSet | Job | CronJob | Event;

/** The kind names, in the order the apiserver would list them in documentation. */
export type Kind = AnyObject["kind"];

/** Objects by kind name. */
export type ObjectOf<K extends Kind> = Extract<AnyObject, { kind: K }>;

/** apiVersion per kind. */
export const API_VERSION: { readonly [K in Kind]: string } = {
  Namespace: "v1",
  Node: "v1",
  Pod: "v1",
  Service: "v1",
  Event: "v1",
  EndpointSlice: "discovery.k8s.io/v1",
  Deployment: "apps/v1",
  ReplicaSet: "apps/v1",
  DaemonSet: "apps/v1",
  Job: "batch/v1",
  CronJob: "batch/v1",
};

/** Whether a kind lives in a namespace. */
export function isNamespaced(kind: Kind): boolean {
  return kind !== "Namespace" && kind !== "Node";
}

/** The kinds in the order used for listings and for applying a multi-document stream (namespaces first). */
export const KINDS: readonly Kind[] = ["Namespace", "Node", "Service", "EndpointSlice", "Deployment", "ReplicaSet", "DaemonSet", "Job", "CronJob", "Pod", "Event"];
