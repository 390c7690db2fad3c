/**
 * Runs kube-proxy's packet-flow test cases (`runPacketFlowTests`, kube-proxy.md §5) against
 * podwire's rules — not with the upstream "which rules could match" enumerator but with podwire's
 * first-packet walk of a real kernel over the node's whole ruleset (the built-in chains' jumps
 * plus the restore input), every random branch explored. A flow's outcome is read the way the
 * upstream tests read theirs: the DNAT targets of all branches in rule order ("" when nothing
 * claimed the packet), or DROP / REJECT / ACCEPT when filter decided, and masq = some branch was
 * masqueraded.
 */
import { ip, type Ipv4 } from "../../src/net/addr.js";
import { explore } from "../../src/netfilter/explore.js";
import { traceFirstPacket } from "../../src/netfilter/first-packet.js";
import { parseRestore } from "../../src/netfilter/iptables-restore.js";
import type { Ruleset } from "../../src/netfilter/model.js";
import { JUMP_CHAINS } from "../../src/kube-proxy/proxier.js";

/** One upstream flow. */
export interface Flow {
  readonly name: string;
  readonly sourceIP: string;
  readonly destIP: string;
  readonly destPort: number;
  readonly protocol?: "tcp" | "udp";
  readonly output: string;
  readonly masq?: boolean;
}

/** The test proxier's local addresses (`testNodeIPs`, IPv4 ones, and loopback). */
export const TEST_NODE_IPS = ["192.168.0.2", "192.168.1.2", "192.168.99.11"];

/** The node's ruleset: fresh tables, kube-proxy's jumps (each prepended), then its restore input. */
export function nodeRuleset(restore: string): Ruleset {
  const chains = new Set(JUMP_CHAINS.map((j) => `${j.table}|${/-j (\S+)$/.exec(j.rule)?.[1] ?? ""}`));
  const lines: string[] = [];
  for (const table of ["filter", "nat"] as const) {
    lines.push(`*${table}`);
    for (const c of chains) if (c.startsWith(`${table}|`)) lines.push(`:${c.slice(table.length + 1)} - [0:0]`);
    for (const j of [...JUMP_CHAINS].reverse()) if (j.table === table) lines.push(`-A ${j.chain} ${j.rule}`);
    lines.push("COMMIT");
  }
  const base = parseRestore(`${lines.join("\n")}\n`);
  if (!base.ok) throw new Error(`jumps: line ${base.issue.line}: ${base.issue.message}`);
  const r = parseRestore(restore, { base: base.ruleset, noflush: true });
  if (!r.ok) throw new Error(`restore: line ${r.issue.line}: ${r.issue.message}`);
  return r.ruleset;
}

/** The outcome of a flow, in the upstream tests' terms. */
export function flowOutcome(rs: Ruleset, f: Flow, localIps: readonly string[] = TEST_NODE_IPS): { output: string; masq: boolean } {
  const local: Ipv4[] = localIps.map(ip);
  const src = ip(f.sourceIP);
  const fromNode = local.includes(src) || f.sourceIP.startsWith("127.");
  const paths = explore((choose) =>
    traceFirstPacket({ ruleset: rs, tuple: { proto: f.protocol ?? "tcp", src, dst: ip(f.destIP), sport: 40000, dport: f.destPort }, hook: fromNode ? "OUTPUT" : "PREROUTING", local, inIface: "eth0", outIface: "eth0" }, choose),
  );
  const masq = paths.some((p) => p.result.snat?.kind === "MASQUERADE");
  const verdicts = new Set(paths.map((p) => p.result.verdict));
  if (verdicts.size === 1 && verdicts.has("drop")) return { output: "DROP", masq };
  if (verdicts.size === 1 && verdicts.has("reject")) return { output: "REJECT", masq };
  const dnats: string[] = [];
  for (const p of paths) if (p.result.dnat && !dnats.includes(p.result.dnat.to)) dnats.push(p.result.dnat.to);
  if (dnats.length > 0) return { output: dnats.join(", "), masq };
  // Accepted by a kube-proxy filter rule (a health-check node port), rather than by a policy.
  const accepted = paths.every((p) => p.result.steps.some((s) => s.table === "filter" && s.result.decidedBy?.chain.startsWith("KUBE-") && s.result.verdict === "ACCEPT"));
  return { output: accepted ? "ACCEPT" : "", masq };
}
