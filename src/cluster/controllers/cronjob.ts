/**
 * @module cluster/controllers/cronjob
 * The CronJob controller (v2) on the virtual clock: at each scheduled minute it creates Job
 * `<cronjob>-<minutes since epoch>` ("Created job hello-29000000"), honours concurrencyPolicy, notes
 * finished jobs ("Saw completed job: NAME, status: Complete") and prunes history beyond the limits.
 * Schedules are UTC. Missed schedules while the clock jumps are not back-filled beyond the latest.
 * @see k8s.io/kubernetes/pkg/controller/cronjob/cronjob_controllerv2.go
 */
import { keyOf } from "../api/meta.js";
import type { CronJob, Job } from "../api/types.js";
import { cronNext, parseCron } from "../cron.js";
import { EPOCH_MS, clockOf, timestamp } from "../time.js";
import { event, ownerKeys, type Action, type Controller } from "./types.js";
import { jobFinished } from "./job.js";
import { ownerRef } from "./pods.js";
import { jsonEqual } from "../api/equal.js";

function jobFor(cj: CronJob, scheduledMs: number): Job {
  const minutes = Math.floor((EPOCH_MS + scheduledMs) / 60000);
  const t = cj.spec.jobTemplate;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: `${cj.metadata.name}-${minutes}`,
      namespace: cj.metadata.namespace as string,
      labels: { ...(t.metadata?.labels ?? {}) },
      annotations: { ...(t.metadata?.annotations ?? {}), "batch.kubernetes.io/cronjob-scheduled-timestamp": timestamp(scheduledMs) },
      ownerReferences: [ownerRef(cj)],
    },
    spec: t.spec,
  };
}

/** The controller. */
export const cronJobController: Controller = {
  name: "cronjob-controller",
  keysFor: ownerKeys("CronJob", "Job"),
  reconcile(key, view) {
    const cj = view.get("CronJob", key);
    if (!cj || cj.metadata.deletionTimestamp) return [];
    const sched = parseCron(cj.spec.schedule);
    if (!sched.ok) return [];
    const now = view.now();
    const jobs = view.ownedBy("Job", cj.metadata.uid as string);
    const actions: Action[] = [];
    const wasActive = new Set((cj.status?.active ?? []).map((r) => r.name));
    for (const j of jobs) {
      const f = jobFinished(j);
      if (f && wasActive.has(j.metadata.name)) {
        actions.push(event(cj, "Normal", "SawCompletedJob", `Saw completed job: ${j.metadata.name}, status: ${f}`, "cronjob-controller"));
      }
    }
    const ref = (j: Job): { kind: string; name: string; namespace: string; uid: string } => ({ kind: "Job", name: j.metadata.name, namespace: j.metadata.namespace as string, uid: j.metadata.uid ?? "" });
    let active = jobs.filter((j) => !jobFinished(j)).map(ref);
    for (const [state, limit] of [["Complete", cj.spec.successfulJobsHistoryLimit ?? 3], ["Failed", cj.spec.failedJobsHistoryLimit ?? 1]] as const) {
      const finished = jobs.filter((j) => jobFinished(j) === state).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
      for (const j of finished.slice(0, Math.max(0, finished.length - limit))) {
        actions.push({ type: "delete", kind: "Job", key: keyOf(j) });
        actions.push(event(cj, "Normal", "SuccessfulDelete", `Deleted job ${j.metadata.name}`, "cronjob-controller"));
      }
    }
    const last = cj.status?.lastScheduleTime ? clockOf(cj.status.lastScheduleTime) : clockOf(cj.metadata.creationTimestamp ?? timestamp(0));
    let due: number | undefined;
    for (let t = cronNext(sched.value, last); t !== undefined && t <= now; t = cronNext(sched.value, t)) due = t;
    let lastScheduleTime = cj.status?.lastScheduleTime;
    if (due !== undefined && !cj.spec.suspend) {
      const running = jobs.filter((j) => !jobFinished(j));
      const policy = cj.spec.concurrencyPolicy ?? "Allow";
      if (policy === "Forbid" && running.length > 0) {
        actions.push(event(cj, "Normal", "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid", "cronjob-controller"));
      } else {
        if (policy === "Replace") {
          active = [];
          for (const j of running) {
            actions.push({ type: "delete", kind: "Job", key: keyOf(j) });
            actions.push(event(cj, "Normal", "SuccessfulDelete", `Deleted job ${j.metadata.name}`, "cronjob-controller"));
          }
        }
        const job = jobFor(cj, due);
        actions.push({ type: "create", object: job });
        actions.push(event(cj, "Normal", "SuccessfulCreate", `Created job ${job.metadata.name}`, "cronjob-controller"));
        active = [...active, ref(job)];
      }
      lastScheduleTime = timestamp(due);
    }
    const status: CronJob["status"] = { ...(active.length > 0 ? { active } : {}), ...(lastScheduleTime ? { lastScheduleTime } : {}) };
    if (!jsonEqual(status, cj.status ?? {})) actions.push({ type: "update", object: { ...cj, status } });
    const next = cronNext(sched.value, Math.max(now, due ?? last));
    if (next !== undefined) actions.push({ type: "requeue", key, at: next, timer: "wall" });
    return actions;
  },
};
