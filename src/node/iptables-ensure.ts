/**
 * @module node/iptables-ensure
 * What `utiliptables.Interface.EnsureChain` / `EnsureRule(Prepend|Append, …)` do on a node, the
 * way kubelet and kube-proxy keep their jumps: `iptables -N` if the chain is missing, and
 * `iptables -C` then `-I CHAIN 1` (or `-A`) if the rule is missing. Rules are compared as the
 * kernel stores them (their iptables-save form), so spelling differences do not matter.
 */
import type { NetNs } from "../kernel/netns.js";
import { formatRuleSpec } from "../netfilter/iptables-save.js";
import type { TableName } from "../netfilter/model.js";
import { parseRuleArgs } from "../netfilter/rule-parse.js";
import { tokenize } from "../netfilter/text.js";

/** `iptables -t TABLE -N CHAIN` unless it exists. */
export function ensureChain(ns: NetNs, table: TableName, chain: string): void {
  if (ns.ruleset.tables.get(table)?.chains.has(chain)) return;
  ns.iptablesRestore(`*${table}\n-N ${chain}\nCOMMIT\n`, { noflush: true, source: `iptables -t ${table} -N ${chain}` });
}

/** `iptables -t TABLE -C CHAIN RULE || iptables -t TABLE -I CHAIN 1 RULE` (or `-A` to append). */
export function ensureRule(ns: NetNs, table: TableName, chain: string, rule: string, position: "prepend" | "append"): void {
  const toks = tokenize(rule);
  if (typeof toks === "string") throw new Error(`bad rule ${rule}: ${toks}`);
  const parsed = parseRuleArgs(toks, { table, chain, isChain: () => true, line: 0 });
  if (typeof parsed === "string") throw new Error(`bad rule ${rule}: ${parsed}`);
  const spec = formatRuleSpec(parsed);
  if (ns.ruleset.tables.get(table)?.chains.get(chain)?.rules.some((r) => formatRuleSpec(r) === spec)) return;
  ns.iptablesRestore(`*${table}\n${position === "prepend" ? `-I ${chain} 1` : `-A ${chain}`} ${rule}\nCOMMIT\n`, { noflush: true, source: `iptables -t ${table} ${position === "prepend" ? "-I" : "-A"} ${chain}` });
}

/** The kubelet's own rules (`syncIPTablesRules`, kubelet_network_linux.go), written once at start. */
export function kubeletIptables(ns: NetNs): void {
  for (const t of ["mangle", "nat", "filter"] as const) ensureChain(ns, t, "KUBE-KUBELET-CANARY");
  ensureChain(ns, "mangle", "KUBE-IPTABLES-HINT");
  ensureChain(ns, "filter", "KUBE-FIREWALL");
  ensureRule(ns, "filter", "OUTPUT", "-j KUBE-FIREWALL", "prepend");
  ensureRule(ns, "filter", "INPUT", "-j KUBE-FIREWALL", "prepend");
  ensureRule(ns, "filter", "KUBE-FIREWALL", `-m comment --comment "block incoming localnet connections" --dst 127.0.0.0/8 ! --src 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`, "append");
}
