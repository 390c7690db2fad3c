/**
 * @module cli/commands/views
 * A node's (or pod's) emulated kernel printed as the real tools print it on that machine
 * (CLI.md "Views of a node's emulated kernel"): `iptables-save --node`, `ip --node|--pod
 * route|addr|link|neigh`, `bridge --node fdb`, and `kube-proxy rules --node` (the restore input
 * kube-proxy writes in a full sync, in its own spelling).
 */
import type { Command } from "commander";
import { bridgeFdbShow, ipAddr, ipBriefAddr, ipBriefLink, ipLink, ipLinkDetails, ipNeigh, ipRoute } from "../../kernel/views.js";
import type { NetNs } from "../../kernel/netns.js";
import { formatSave } from "../../netfilter/iptables-save.js";
import type { Topology } from "../../topology/build.js";
import { loadTopologyFiles } from "../topology-input.js";
import { UsageError, type CliIo } from "../io.js";

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function nodeNs(topo: Topology, flag: string, name: string): NetNs {
  if (!topo.dataplane.nodeNames().includes(name)) throw new UsageError(`${flag}: no node "${name}" in the topology (nodes: ${topo.dataplane.nodeNames().join(", ")})`);
  return topo.dataplane.node(name);
}

function podNs(topo: Topology, ref: string): NetNs {
  const [ns, name] = ref.includes("/") ? (ref.split("/", 2) as [string, string]) : ["default", ref];
  const pod = topo.cluster.get("Pod", `${ns}/${name}`);
  if (!pod) throw new UsageError(`--pod: no pod "${ns}/${name}" in the topology`);
  if (!pod.spec.nodeName) throw new UsageError(`--pod: pod "${ns}/${name}" is not scheduled (it has no node)`);
  if (pod.spec.hostNetwork) return nodeNs(topo, "--pod", pod.spec.nodeName);
  topo.dataplane.node(pod.spec.nodeName);
  const sb = topo.cluster.kubelets.sandbox(`${ns}/${name}`);
  const netns = sb ? topo.dataplane.net.namespaces.get(sb.netns) : undefined;
  if (!netns) throw new UsageError(`--pod: pod "${ns}/${name}" has no sandbox (see \`podwire get events\`)`);
  return netns;
}

const TABLES = ["raw", "mangle", "filter", "nat", "security"];

/** Registers `iptables-save`, `ip`, `bridge` and `kube-proxy`. */
export function register(program: Command, io: CliIo): void {
  program
    .command("iptables-save")
    .description("print a node's rules as iptables-save prints them")
    .option("-f, --file <file>", "topology file or directory (repeatable; - is stdin)", collect)
    .requiredOption("--node <name>", "the node")
    .option("-t, --table <table>", "only this table")
    .action((opts: { file?: string[]; node: string; table?: string }) => {
      if (opts.table !== undefined && !TABLES.includes(opts.table)) throw new UsageError(`-t: unknown table "${opts.table}" (${TABLES.join(", ")})`);
      const topo = loadTopologyFiles(io, opts.file);
      const ns = nodeNs(topo, "--node", opts.node);
      io.stdout(formatSave(ns.ruleset, opts.table !== undefined ? { table: opts.table } : {}));
    });

  program
    .command("ip")
    .description("print a node's or pod's addresses, links, routes or neighbours as ip prints them")
    .argument("<object>", "route | addr | link | neigh")
    .argument("[args...]", "`show table local` for route")
    .option("-f, --file <file>", "topology file or directory (repeatable; - is stdin)", collect)
    .option("--node <name>", "a node")
    .option("--pod <[ns/]name>", "a pod (its network namespace)")
    .option("-d, --details", "ip -d (link)")
    .option("--br, --brief", "ip -br (addr, link)")
    .action((object: string, args: string[], opts: { file?: string[]; node?: string; pod?: string; details?: boolean; brief?: boolean }) => {
      if ((opts.node === undefined) === (opts.pod === undefined)) throw new UsageError("ip: give exactly one of --node NAME or --pod [NS/]NAME");
      const obj = ({ r: "route", ro: "route", route: "route", a: "addr", addr: "addr", address: "addr", l: "link", link: "link", n: "neigh", neigh: "neigh", neighbor: "neigh", neighbour: "neigh" } as Record<string, string>)[object];
      if (!obj) throw new UsageError(`ip: unknown object "${object}" (route, addr, link, neigh)`);
      const rest = args.join(" ");
      let table: "main" | "local" = "main";
      if (obj === "route" && rest !== "" && rest !== "show") {
        const m = /^(?:show |list )?table (main|local)$/.exec(rest);
        if (!m) throw new UsageError(`ip route: unsupported arguments "${rest}" (podwire prints "ip route" and "ip route show table local")`);
        table = m[1] as "main" | "local";
      } else if (obj !== "route" && rest !== "" && rest !== "show") {
        throw new UsageError(`ip ${obj}: unsupported arguments "${rest}"`);
      }
      const topo = loadTopologyFiles(io, opts.file);
      const ns = opts.node !== undefined ? nodeNs(topo, "--node", opts.node) : podNs(topo, opts.pod as string);
      if (obj === "route") io.stdout(ipRoute(ns, table));
      else if (obj === "neigh") io.stdout(ipNeigh(ns));
      else if (obj === "addr") io.stdout(opts.brief ? ipBriefAddr(ns) : ipAddr(ns));
      else io.stdout(opts.brief ? ipBriefLink(ns) : opts.details ? ipLinkDetails(ns) : ipLink(ns));
    });

  program
    .command("bridge")
    .description("print a node's forwarding database as `bridge fdb show` prints it")
    .argument("<object>", "fdb")
    .option("-f, --file <file>", "topology file or directory (repeatable; - is stdin)", collect)
    .option("--node <name>", "a node")
    .option("--pod <[ns/]name>", "a pod")
    .action((object: string, opts: { file?: string[]; node?: string; pod?: string }) => {
      if (object !== "fdb") throw new UsageError(`bridge: unknown object "${object}" (fdb)`);
      if ((opts.node === undefined) === (opts.pod === undefined)) throw new UsageError("bridge: give exactly one of --node NAME or --pod [NS/]NAME");
      const topo = loadTopologyFiles(io, opts.file);
      const ns = opts.node !== undefined ? nodeNs(topo, "--node", opts.node) : podNs(topo, opts.pod as string);
      io.stdout(bridgeFdbShow(ns));
    });

  const kp = program.command("kube-proxy").description("kube-proxy's view of a node");
  kp.command("rules")
    .description("the iptables-restore input kube-proxy writes on the node in a full sync (its own spelling)")
    .option("-f, --file <file>", "topology file or directory (repeatable; - is stdin)", collect)
    .requiredOption("--node <name>", "the node")
    .action((opts: { file?: string[]; node: string }) => {
      const topo = loadTopologyFiles(io, opts.file);
      nodeNs(topo, "--node", opts.node);
      io.stdout(topo.dataplane.kubeProxyRules(opts.node).restore);
    });
}
