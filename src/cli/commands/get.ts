/**
 * @module cli/commands/get
 * `podwire get nodes|pods|services|endpointslices|events [-f FILE...] [-n NS|-A] [-o wide|json|yaml]`:
 * the settled cluster of a topology in kubectl's formats (CLI.md "Cluster views").
 */
import type { Command } from "commander";
import type { AnyObject, Kind } from "../../cluster/api/types.js";
import { endpointSliceRows, eventRows, formatList, nodeRows, podRows, serviceRows, table } from "../format/kubectl.js";
import { loadTopologyFiles } from "../topology-input.js";
import { UsageError, type CliIo } from "../io.js";

const RESOURCES: Readonly<Record<string, Kind>> = {
  nodes: "Node", node: "Node", no: "Node",
  pods: "Pod", pod: "Pod", po: "Pod",
  services: "Service", service: "Service", svc: "Service",
  endpointslices: "EndpointSlice", endpointslice: "EndpointSlice",
  events: "Event", event: "Event", ev: "Event",
};

interface GetOpts {
  file?: string[];
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
}

/** Registers `get`. */
export function register(program: Command, io: CliIo): void {
  program
    .command("get")
    .description("show the settled cluster's objects in kubectl's formats")
    .argument("<resource>", "nodes | pods | services | endpointslices | events")
    .option("-f, --file <file>", "topology file or directory (repeatable; - is stdin)", (v: string, prev: string[] = []) => [...prev, v])
    .option("-n, --namespace <ns>", "namespace", "default")
    .option("-A, --all-namespaces", "list across all namespaces")
    .option("-o, --output <format>", "wide | json | yaml")
    .action((resource: string, opts: GetOpts) => {
      const kind = RESOURCES[resource.toLowerCase()];
      if (!kind) throw new UsageError(`get: unknown resource "${resource}" (nodes, pods, services, endpointslices, events)`);
      const out = opts.output;
      if (out !== undefined && !["wide", "json", "yaml"].includes(out)) throw new UsageError(`-o: unsupported output format "${out}" (wide, json, yaml)`);
      const topo = loadTopologyFiles(io, opts.file);
      const c = topo.cluster;
      const all = opts.allNamespaces === true || kind === "Node";
      const ns = all ? undefined : (opts.namespace ?? "default");
      const items = c.list(kind, ns) as AnyObject[];
      if (out === "json" || out === "yaml") {
        io.stdout(formatList(items, out));
        return;
      }
      if (items.length === 0) {
        io.stderr(all ? "No resources found\n" : `No resources found in ${ns} namespace.\n`);
        return;
      }
      const now = c.clock.now();
      const wide = out === "wide";
      const showNs = opts.allNamespaces === true;
      const rows =
        kind === "Node"
          ? nodeRows(items as never, now, wide)
          : kind === "Pod"
            ? podRows(items as never, now, wide, showNs)
            : kind === "Service"
              ? serviceRows(items as never, now, wide, showNs)
              : kind === "EndpointSlice"
                ? endpointSliceRows(items as never, now, showNs)
                : eventRows(items as never, now, showNs);
      io.stdout(table(rows));
    });
}
