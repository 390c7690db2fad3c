/**
 * @module cluster/api/resource
 * Resource names (plural, with the API group) as the apiserver spells them in its messages:
 * `deployments.apps "web" already exists`, `pods "web-1" not found`.
 */
import type { Kind } from "./types.js";

/** `<plural>[.<group>]` per kind. */
export const RESOURCE: { readonly [K in Kind]: string } = {
  Namespace: "namespaces",
  Node: "nodes",
  Pod: "pods",
  Service: "services",
  Event: "events",
  EndpointSlice: "endpointslices.discovery.k8s.io",
  Deployment: "deployments.apps",
  ReplicaSet: "replicasets.apps",
  DaemonSet: "daemonsets.apps",
  Job: "jobs.batch",
  CronJob: "cronjobs.batch",
};

/** An apiserver status error (`apierrors.StatusError`): a reason and the message kubectl prints. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly reason: "AlreadyExists" | "NotFound" | "Conflict" | "Invalid" | "Forbidden" | "InternalError" | "BadRequest",
    message: string,
    /** Individual field errors for `Invalid` (`spec.ports[0].port: Invalid value: …`). */
    readonly causes: readonly string[] = [],
  ) {
    super(message);
  }
}
