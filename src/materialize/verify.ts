/**
 * @module materialize/verify
 * `podwire verify`: materialize a topology, start a small server in every namespace for every
 * socket the emulated machines listen on (it answers with its name and the source address it
 * saw), send real packets (TCP connects, UDP datagrams; N per flow, each bounded in time), trace
 * the same flows in the emulator with every random path, and compare: the kernel's outcome must
 * be one the emulator predicts, and every endpoint and observed source address the kernel shows
 * must be among the emulator's. Then destroy. Traffic only goes between the namespaces made here.
 */
import type { ChildProcess } from "node:child_process";
import type { Pod, Service } from "../cluster/api/types.js";
import { formatIpv4 } from "../net/addr.js";
import type { Proto } from "../net/tuple.js";
import type { Topology } from "../topology/build.js";
import { trace, type PathOutcome } from "../trace/tracer.js";
import { applyPlan, destroyPrefix } from "./apply.js";
import { materializePlan, type Plan } from "./plan.js";
import { runProbeClient, startProbeServer, type ClientResult } from "./probe-processes.js";

/** One flow to check. */
export interface Flow {
  readonly from: string;
  readonly to: string;
  readonly proto: "tcp" | "udp";
}

/** What one side said about a flow: outcome classes and, for deliveries, who answered and what source it saw. */
export interface Side {
  readonly outcomes: readonly string[];
  readonly seen: readonly string[];
}

/** One row of the verify table. */
export interface VerifyRow {
  readonly flow: Flow;
  readonly emulator: Side;
  readonly kernel: Side;
  readonly agree: boolean;
  readonly why?: string;
}

/** A sensible set of flows: pods → Service ports, pods → a pod on another node, hosts → NodePorts and LB addresses, nodes → Service ports. */
export function defaultFlows(t: Topology, limit = 120): Flow[] {
  const out: Flow[] = [];
  const pods = (t.cluster.list("Pod") as Pod[]).filter((p) => p.status?.phase === "Running" && !p.spec.hostNetwork && p.status.podIP);
  const services = (t.cluster.list("Service") as Service[]).filter((s) => s.spec.clusterIP && s.spec.clusterIP !== "None");
  const ports = services.flatMap((s) => (s.spec.ports ?? []).filter((p) => p.protocol !== "SCTP").map((p) => ({ s, p, proto: (p.protocol ?? "TCP").toLowerCase() as "tcp" | "udp" })));
  const ref = (p: Pod): string => `pod/${p.metadata.namespace ?? "default"}/${p.metadata.name}`;
  for (const pod of pods) for (const { s, p, proto } of ports) out.push({ from: ref(pod), to: `svc/${s.metadata.namespace ?? "default"}/${s.metadata.name}:${p.port}`, proto });
  for (const pod of pods) {
    const other = pods.find((q) => q.spec.nodeName !== pod.spec.nodeName && (q.spec.containers[0]?.ports?.length ?? 0) > 0);
    const cp = other?.spec.containers[0]?.ports?.[0];
    if (other && cp) out.push({ from: ref(pod), to: `${ref(other)}:${cp.containerPort}`, proto: cp.protocol === "UDP" ? "udp" : "tcp" });
  }
  for (const h of t.hosts) {
    for (const { s, p, proto } of ports) {
      if (p.nodePort) for (const n of t.nodes) out.push({ from: `host/${h.name}`, to: `node/${n.name}:${p.nodePort}`, proto });
      if (s.status?.loadBalancer?.ingress?.some((i) => i.ip)) out.push({ from: `host/${h.name}`, to: `lb/${s.metadata.namespace ?? "default"}/${s.metadata.name}:${p.port}`, proto });
    }
  }
  for (const n of t.nodes) for (const { s, p, proto } of ports) out.push({ from: `node/${n.name}`, to: `svc/${s.metadata.namespace ?? "default"}/${s.metadata.name}:${p.port}`, proto });
  return out.slice(0, limit);
}

function emulatorSide(paths: readonly PathOutcome[]): Side {
  const outcomes = new Set<string>();
  const seen = new Set<string>();
  for (const p of paths) {
    if (p.verdict === "delivered" && p.reply?.verdict === "delivered") {
      outcomes.add("delivered");
      seen.add(`${p.delivered?.socket ?? "?"} saw ${p.observedSource?.ip ?? "?"}`);
    } else if (p.verdict === "delivered") outcomes.add("timeout");
    else if (p.verdict === "rejected") outcomes.add(/^ICMP (host|net) (unreachable|prohibited)/.test(p.reply?.what ?? "") ? "unreachable" : p.reply?.verdict === "delivered" ? "refused" : "timeout");
    else if (p.verdict === "no-route") outcomes.add("unreachable");
    else {
      outcomes.add("timeout");
      // A failed ARP on the sender's own machine reaches the socket as EHOSTUNREACH after the
      // 3 s of probing, at once while the neighbour stays FAILED: a repeated probe may see either.
      if (p.drop?.stage === "neigh" && p.hops[0]?.netns === p.drop.netns) outcomes.add("unreachable");
    }
  }
  return { outcomes: [...outcomes].sort(), seen: [...seen].sort() };
}

function kernelClass(result: string): string {
  if (result === "delivered") return "delivered";
  if (result === "ECONNREFUSED") return "refused";
  if (result === "EHOSTUNREACH" || result === "ENETUNREACH") return "unreachable";
  return "timeout";
}

/** The materialized cluster with its servers. */
export class Lab {
  private readonly servers: ChildProcess[] = [];
  constructor(
    readonly t: Topology,
    readonly plan: Plan,
  ) {}

  /** Starts one server per namespace for the sockets the emulated machine listens on. */
  async startServers(): Promise<void> {
    const net = this.t.dataplane.net;
    for (const [emu, real] of this.plan.real) {
      const ns = net.ns(emu);
      const byLabel = new Map<string, string[]>();
      for (const s of ns.sockets) {
        const label = s.label ?? `${s.proto} ${formatIpv4(s.addr)}:${s.port}`;
        byLabel.set(label, [...(byLabel.get(label) ?? []), `${s.proto}/${s.port}`]);
      }
      for (const [label, specs] of byLabel) await this.start(real, label, specs);
    }
  }

  private start(ns: string, label: string, specs: string[]): Promise<void> {
    return startProbeServer(ns, label, specs, this.servers, 600_000);
  }

  /** One real probe. */
  probe(flow: Flow, dst: string, port: number, timeoutMs = 1500): ClientResult {
    const src = flow.from;
    const emuNs = this.emulatedSource(src);
    const ns = this.plan.real.get(emuNs) as string;
    return runProbeClient(ns, flow.proto, dst, port, timeoutMs);
  }

  private emulatedSource(from: string): string {
    if (from.startsWith("node/") || from.startsWith("host/")) return from.slice(5);
    const [ns, name] = from.slice(4).includes("/") ? (from.slice(4).split("/", 2) as [string, string]) : ["default", from.slice(4)];
    const pod = this.t.cluster.get("Pod", `${ns}/${name}`);
    if (pod?.spec.hostNetwork) return pod.spec.nodeName as string;
    return this.t.cluster.kubelets.sandbox(`${ns}/${name}`)?.netns as string;
  }

  /** Checks one flow: the emulator's every path, the kernel's `probes` tries. */
  check(flow: Flow, probes: number): VerifyRow {
    const tr = trace(this.t, { from: flow.from, to: flow.to, proto: flow.proto as Proto, allPaths: true });
    const emulator = emulatorSide(tr.paths ?? []);
    const outcomes = new Set<string>();
    const seen = new Set<string>();
    for (let i = 0; i < probes; i += 1) {
      const r = this.probe(flow, tr.request.dst, tr.request.dport ?? 0);
      const c = kernelClass(r.result);
      outcomes.add(c);
      if (c === "delivered") seen.add(`${r.from ?? "?"} saw ${r.seen ?? "?"}`);
    }
    const kernel = { outcomes: [...outcomes].sort(), seen: [...seen].sort() };
    const badOutcome = kernel.outcomes.find((o) => !emulator.outcomes.includes(o));
    const badSeen = kernel.seen.find((s) => !emulator.seen.includes(s));
    const agree = badOutcome === undefined && badSeen === undefined;
    return { flow, emulator, kernel, agree, ...(agree ? {} : { why: badOutcome !== undefined ? `the kernel gave "${badOutcome}", which the emulator does not predict` : `the kernel's "${badSeen}" is not among the emulator's answers` }) };
  }

  /** Stops the servers and removes the namespaces. */
  close(): void {
    for (const s of this.servers) s.kill("SIGKILL");
    this.servers.length = 0;
    destroyPrefix(this.plan.manifest.prefix);
  }
}

/** Materializes `t` and starts its servers; call `close()` when done (also on failure). */
export async function openLab(t: Topology, prefix: string): Promise<Lab> {
  const plan = materializePlan(t, prefix);
  applyPlan(plan);
  const lab = new Lab(t, plan);
  try {
    await lab.startServers();
  } catch (e) {
    lab.close();
    throw e;
  }
  return lab;
}

/** The verify table as text. */
export function verifyTable(rows: readonly VerifyRow[]): string {
  const head = ["flow", "emulator", "kernel", "agree"];
  const cells = rows.map((r) => [`${r.flow.from} → ${r.flow.to} ${r.flow.proto}`, `${r.emulator.outcomes.join("|")} ${r.emulator.seen.join(", ")}`.trim(), `${r.kernel.outcomes.join("|")} ${r.kernel.seen.join(", ")}`.trim(), r.agree ? "yes" : `NO: ${r.why ?? ""}`]);
  const w = head.map((h, i) => Math.min(70, Math.max(h.length, ...cells.map((c) => (c[i] as string).length))));
  const line = (c: readonly string[]): string => c.map((x, i) => (i < c.length - 1 ? x.padEnd(w[i] as number) : x)).join("  ");
  const agreeN = rows.filter((r) => r.agree).length;
  return `${[line(head), ...cells.map(line)].join("\n")}\n\n${agreeN} agree, ${rows.length - agreeN} disagree (${rows.length} flows)\n`;
}
