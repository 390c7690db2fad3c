/**
 * @module cluster/controllers/job
 * The Job controller (NonIndexed completions): run up to `parallelism` pods until `completions`
 * succeed ("Created pod: pi-x7k2q", then "Job completed"), counting failures against
 * `backoffLimit` ("Job has reached the specified backoff limit").
 * @see k8s.io/kubernetes/pkg/controller/job/job_controller.go
 */
import type { Job } from "../api/types.js";
import { timestamp } from "../time.js";
import { event, ownerKeys, type Action, type Controller } from "./types.js";
import { isPodActive, podFromTemplate } from "./pods.js";
import { jsonEqual } from "../api/equal.js";

/** Whether a Job has finished (Complete or Failed condition True). */
export function jobFinished(j: Job): "Complete" | "Failed" | undefined {
  const c = j.status?.conditions?.find((x) => (x.type === "Complete" || x.type === "Failed") && x.status === "True");
  return c?.type as "Complete" | "Failed" | undefined;
}

/** The controller. */
export const jobController: Controller = {
  name: "job-controller",
  keysFor: ownerKeys("Job", "Pod"),
  reconcile(key, view) {
    const job = view.get("Job", key);
    if (!job || job.metadata.deletionTimestamp || jobFinished(job)) return [];
    const pods = view.ownedBy("Pod", job.metadata.uid as string);
    const active = pods.filter(isPodActive).length;
    const succeeded = pods.filter((p) => p.status?.phase === "Succeeded").length;
    const failed = pods.filter((p) => p.status?.phase === "Failed").length;
    const completions = job.spec.completions;
    const parallelism = job.spec.parallelism ?? 1;
    const now = timestamp(view.now());
    const actions: Action[] = [];
    const base = { active, succeeded, failed, startTime: job.status?.startTime ?? now };
    if (failed > (job.spec.backoffLimit ?? 6)) {
      actions.push(event(job, "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit", "job-controller"));
      actions.push({ type: "update", object: { ...job, status: { ...base, conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded", lastTransitionTime: now }] } } });
      return actions;
    }
    const done = completions !== undefined ? succeeded >= completions : succeeded > 0 && active === 0;
    if (done) {
      actions.push(event(job, "Normal", "Completed", "Job completed", "job-controller"));
      actions.push({ type: "update", object: { ...job, status: { ...base, completionTime: now, conditions: [{ type: "SuccessCriteriaMet", status: "True", reason: "CompletionsReached", lastTransitionTime: now }, { type: "Complete", status: "True", reason: "CompletionsReached", lastTransitionTime: now }] } } });
      return actions;
    }
    if (job.spec.suspend) return [];
    const remaining = completions !== undefined ? completions - succeeded : parallelism;
    const want = Math.min(parallelism, remaining) - active;
    for (let i = 0; i < want; i += 1) {
      actions.push({ type: "create", object: podFromTemplate(job.spec.template, job), onCreated: { object: job, reason: "SuccessfulCreate", prefix: "Created pod: ", component: "job-controller" } });
    }
    const status = { ...(job.status ?? {}), ...base };
    if (!jsonEqual(status, job.status ?? {})) actions.push({ type: "update", object: { ...job, status } });
    return actions;
  },
};
