/**
 * @module cli/topology-input
 * `-f FILE` as kubectl takes it: repeatable, a directory means every .yaml/.yml in it (sorted), `-`
 * is stdin; without `-f`, the built-in default topology (topologies/default.yaml).
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildTopology, type Topology } from "../topology/build.js";
import { TopologyError, parseTopology } from "../topology/load.js";
import { UsageError, type CliIo } from "./io.js";

/** The built-in default topology file. */
export const DEFAULT_TOPOLOGY = fileURLToPath(new URL("../../topologies/default.yaml", import.meta.url));

function expand(path: string): string[] {
  if (path === "-") return ["-"];
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new UsageError(`${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : String(e)}`);
  }
  if (!st.isDirectory()) return [path];
  const files = readdirSync(path)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(path, f));
  if (files.length === 0) throw new UsageError(`${path}: no .yaml or .yml files in the directory`);
  return files;
}

/** Reads, parses and builds the topology named by `-f` values. */
export function loadTopologyFiles(io: CliIo, files: readonly string[] | undefined): Topology {
  const paths = (files && files.length > 0 ? files : [DEFAULT_TOPOLOGY]).flatMap(expand);
  const read = io.readFile as (p: string) => string;
  const texts = paths.map((p) => {
    try {
      return [p === "-" ? "<stdin>" : p, read(p === "-" ? "/dev/stdin" : p)] as const;
    } catch (e) {
      throw new UsageError(`${p}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  });
  try {
    return buildTopology(parseTopology(texts));
  } catch (e) {
    if (e instanceof TopologyError) throw new UsageError(e.message);
    throw e;
  }
}
