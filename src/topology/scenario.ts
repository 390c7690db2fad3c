/**
 * @module topology/scenario
 * Runs a `Scenario` document's steps in order, settling after each, with kubectl's outcomes. A step
 * that a real cluster would refuse fails with the same message and stops the run (exit 1, naming
 * the step) — unless it says `expectFailure: true`: then the message is recorded as a Warning event
 * (`ScenarioStepFailed`, shown by `podwire get events`) and the scenario goes on.
 */
import { ApiError } from "../cluster/api/resource.js";
import type { KubeObject } from "../cluster/api/meta.js";
import type { AnyObject } from "../cluster/api/types.js";
import type { Cluster } from "../cluster/cluster.js";
import { cordon, drain, failNode, kindByName, OperationError, recoverNode, remove, scale, uncordon } from "../cluster/operations.js";
import { parseDuration } from "../cluster/time.js";
import { TopologyError, issueAt, type SourcedDoc } from "./load.js";
import { STEP_VERBS } from "./schema.js";

/** What one step did. */
export interface StepRecord {
  readonly step: number;
  readonly verb: string;
  readonly output: readonly string[];
  readonly failed?: string;
}

type Rec = Record<string, unknown>;

function objectKey(ref: string): { kind: string; key: string } {
  const parts = ref.split("/");
  if (parts.length === 3) return { kind: parts[0] as string, key: `${parts[1]}/${parts[2]}` };
  if (parts.length === 2) {
    const kind = kindByName(parts[0] as string);
    return { kind: parts[0] as string, key: kind === "Node" || kind === "Namespace" ? (parts[1] as string) : `default/${parts[1]}` };
  }
  throw new OperationError(`"${ref}" is not KIND/NAME or KIND/NAMESPACE/NAME`);
}

function runStep(c: Cluster, verb: string, arg: unknown): string[] {
  const str = (v: unknown, what: string): string => {
    if (typeof v !== "string" || v === "") throw new OperationError(`${verb} needs ${what}`);
    return v;
  };
  const a = (arg ?? {}) as Rec;
  switch (verb) {
    case "cordon":
      return cordon(c, str(arg, "a node name"));
    case "uncordon":
      return uncordon(c, str(arg, "a node name"));
    case "drain":
      return drain(c, str(a["node"], "{node: NAME}"), { ignoreDaemonSets: a["ignoreDaemonSets"] === true, force: a["force"] === true, deleteEmptyDirData: a["deleteEmptyDirData"] === true });
    case "scale": {
      const kindName = a["deployment"] !== undefined ? "deployment" : a["replicaset"] !== undefined ? "replicaset" : "";
      if (!kindName) throw new OperationError("scale needs {deployment: NS/NAME, replicas: N} or {replicaset: …}");
      const ref = str(a[kindName], "NS/NAME");
      return scale(c, kindName, ref.includes("/") ? ref : `default/${ref}`, a["replicas"] as number);
    }
    case "delete": {
      const { kind, key } = objectKey(str(arg, "KIND/NAMESPACE/NAME"));
      return remove(c, kind, key);
    }
    case "failNode":
      return failNode(c, str(arg, "a node name"));
    case "recoverNode":
      return recoverNode(c, str(arg, "a node name"));
    case "advance": {
      const ms = parseDuration(String(arg ?? ""));
      if (ms === undefined) throw new OperationError(`advance needs a duration such as 30s, 5m or 1h (got ${JSON.stringify(arg)})`);
      c.advance(ms);
      return [`advanced ${String(arg)}`];
    }
    case "apply": {
      const m = a["manifest"] as AnyObject | undefined;
      if (!m || typeof m !== "object") throw new OperationError("apply needs {manifest: {...}}");
      try {
        const r = c.apply(m);
        return [`${m.kind.toLowerCase()}/${m.metadata?.name} ${r.action}`];
      } catch (e) {
        if (e instanceof ApiError) throw new OperationError(e.message);
        throw e;
      }
    }
    default:
      throw new OperationError(`unknown step "${verb}" (${STEP_VERBS.join(", ")})`);
  }
}

/** Runs the steps; throws TopologyError at the first unexpected failure. */
export function runScenario(c: Cluster, d: SourcedDoc): StepRecord[] {
  const steps = d.doc["steps"];
  if (!Array.isArray(steps)) throw new TopologyError([issueAt(d, "steps", "Required value: a list of steps")]);
  const out: StepRecord[] = [];
  steps.forEach((raw, i) => {
    const s = (raw ?? {}) as Rec;
    const verbs = Object.keys(s).filter((k) => k !== "expectFailure");
    const path = `steps[${i}]`;
    if (verbs.length !== 1) throw new TopologyError([issueAt(d, path, `a step has exactly one of ${STEP_VERBS.join(", ")} (got ${verbs.join(", ") || "none"})`)]);
    const verb = verbs[0] as string;
    if (!(STEP_VERBS as readonly string[]).includes(verb)) throw new TopologyError([issueAt(d, `${path}.${verb}`, `unknown step "${verb}" (${STEP_VERBS.join(", ")})`)]);
    try {
      const output = runStep(c, verb, s[verb]);
      c.settle();
      out.push({ step: i + 1, verb, output });
    } catch (e) {
      if (!(e instanceof OperationError)) throw e;
      c.settle();
      if (s["expectFailure"] === true) {
        const target: KubeObject = { apiVersion: "podwire.dev/v1alpha1", kind: "Scenario", metadata: { name: `step-${i + 1}`, namespace: "default" } };
        c.runtime.record({ type: "event", object: target, eventType: "Warning", reason: "ScenarioStepFailed", message: `${verb}: ${e.message.split("\n")[0]}`, component: "podwire-scenario" });
        out.push({ step: i + 1, verb, output: [], failed: e.message });
        return;
      }
      throw new TopologyError([issueAt(d, `${path}.${verb}`, `step ${i + 1} (${verb}) failed: error: ${e.message.split("\n")[0]}`)]);
    }
  });
  return out;
}
