/**
 * @module topology/load
 * Reads topology files: multi-document YAML streams holding at most one `Cluster`, at most one
 * `Scenario` and any Kubernetes manifests, keeping each document's file and field lines so that
 * every problem is reported as `file:line:col: path: message`. All problems are collected and reported
 * together, sorted by file and line.
 */
import yaml from "js-yaml";
import { indexDocuments, posOf, type DocPositions } from "./positions.js";

/** One problem in the input. */
export interface Issue {
  readonly file: string;
  readonly line: number;
  /** 1-based column, when known. */
  readonly col?: number;
  readonly message: string;
}

/** Thrown with every problem found. */
export class TopologyError extends Error {
  override readonly name = "TopologyError";
  constructor(readonly issues: readonly Issue[]) {
    super(issues.map(formatIssue).join("\n"));
  }
}

/** `file:line:col: message` (`file:line: message` when the column is not known). */
export function formatIssue(i: Issue): string {
  return `${i.file}:${i.line}${i.col !== undefined ? `:${i.col}` : ""}: ${i.message}`;
}

/** A document with where it came from. */
export interface SourcedDoc {
  readonly file: string;
  readonly doc: Record<string, unknown>;
  readonly positions: DocPositions;
}

/** The documents of a topology, sorted into their roles. */
export interface TopologyDocs {
  readonly cluster?: SourcedDoc;
  readonly scenario?: SourcedDoc;
  readonly manifests: readonly SourcedDoc[];
}

/** The issue for a field of a document. */
export function issueAt(d: SourcedDoc, path: string, message: string): Issue {
  const { line, col } = posOf(d.positions, path);
  return { file: d.file, line, col, message: path ? `${path}: ${message}` : message };
}

/** Parses the text of several files (`[name, text]`) into documents. */
export function parseTopology(files: readonly (readonly [string, string])[]): TopologyDocs {
  const issues: Issue[] = [];
  const manifests: SourcedDoc[] = [];
  let cluster: SourcedDoc | undefined;
  let scenario: SourcedDoc | undefined;
  for (const [file, text] of files) {
    let docs: unknown[];
    try {
      docs = yaml.loadAll(text);
    } catch (e) {
      const y = e as { mark?: { line: number; column: number }; reason?: string; message: string };
      issues.push({ file, line: (y.mark?.line ?? 0) + 1, col: (y.mark?.column ?? 0) + 1, message: `YAML: ${y.reason ?? y.message}` });
      continue;
    }
    const positions = indexDocuments(text);
    const present = docs.filter((d) => d !== null && d !== undefined);
    if (present.length === 0) {
      issues.push({ file, line: 1, message: "no objects passed to apply" });
      continue;
    }
    let pi = 0;
    for (const doc of docs) {
      if (doc === null || doc === undefined) continue;
      const pos = positions[pi] ?? { startLine: 1, lines: new Map() };
      pi += 1;
      if (typeof doc !== "object" || Array.isArray(doc)) {
        issues.push({ file, line: pos.startLine, message: "a document must be a mapping with apiVersion and kind" });
        continue;
      }
      const d: SourcedDoc = { file, doc: doc as Record<string, unknown>, positions: pos };
      const kind = d.doc["kind"];
      const apiVersion = d.doc["apiVersion"];
      if (typeof kind !== "string" || kind === "") {
        issues.push(issueAt(d, "kind", "Required value: every document needs a kind"));
        continue;
      }
      if (typeof apiVersion !== "string" || apiVersion === "") {
        issues.push(issueAt(d, "apiVersion", "Required value: every document needs an apiVersion"));
        continue;
      }
      if (apiVersion.startsWith("podwire.dev/")) {
        if (apiVersion !== "podwire.dev/v1alpha1") issues.push(issueAt(d, "apiVersion", `unsupported version "${apiVersion}" (podwire.dev/v1alpha1 is supported)`));
        else if (kind === "Cluster") {
          if (cluster) issues.push(issueAt(d, "kind", `a second Cluster document (the first is at ${cluster.file}:${cluster.positions.startLine})`));
          else cluster = d;
        } else if (kind === "Scenario") {
          if (scenario) issues.push(issueAt(d, "kind", `a second Scenario document (the first is at ${scenario.file}:${scenario.positions.startLine})`));
          else scenario = d;
        } else issues.push(issueAt(d, "kind", `unknown podwire kind "${kind}" (Cluster and Scenario exist)`));
        continue;
      }
      manifests.push(d);
    }
  }
  if (issues.length > 0) throw new TopologyError(sortIssues(issues));
  return { ...(cluster ? { cluster } : {}), ...(scenario ? { scenario } : {}), manifests };
}

/** Issues sorted by file, then line. */
export function sortIssues(issues: readonly Issue[]): Issue[] {
  return [...issues].sort((a, b) => (a.file === b.file ? a.line - b.line || (a.col ?? 0) - (b.col ?? 0) : a.file < b.file ? -1 : 1));
}
