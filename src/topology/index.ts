/**
 * @module topology
 * Load a topology (files, text, or parsed documents) into a settled cluster.
 */
import { readFileSync } from "node:fs";
import { buildTopology, type BuildOptions, type Topology } from "./build.js";
import { parseTopology } from "./load.js";

export type { BuildOptions, Topology } from "./build.js";

/** Loads topology files (multi-document YAML) and returns the settled cluster; throws TopologyError with every problem. */
export function loadTopology(...files: string[]): Topology {
  return buildTopology(parseTopology(files.map((f) => [f, readFileSync(f, "utf8")] as const)));
}

/** Same, from YAML text (named `name` in messages). */
export function loadTopologyText(text: string, name = "<topology>", opts: BuildOptions = {}): Topology {
  return buildTopology(parseTopology([[name, text]]), opts);
}
