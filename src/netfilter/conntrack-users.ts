/**
 * @module netfilter/conntrack-users
 * Whether a ruleset makes the kernel track connections. Conntrack's hooks are registered per
 * namespace only when something needs them (`nf_ct_netns_get`): the nat table, or a rule using
 * conntrack state (`-m conntrack`/`-m state`, `-m connmark`, CONNMARK, CT, the NAT targets). A
 * namespace without such rules has an empty `conntrack -L` (checked against the real kernel in
 * test/oracle/kernel-views.test.ts).
 */
import type { Ruleset } from "./model.js";

const cache = new WeakMap<Ruleset, boolean>();

/** True when loading `rs` would start connection tracking in its namespace. */
export function usesConntrack(rs: Ruleset): boolean {
  let v = cache.get(rs);
  if (v === undefined) {
    v = scan(rs);
    cache.set(rs, v);
  }
  return v;
}

// The first user found decides: a node's kube-proxy rules have a nat table, so its 100,000s of
// rules are not read.
function scan(rs: Ruleset): boolean {
  if (rs.tables.has("nat")) return true;
  for (const t of rs.tables.values()) {
    for (const c of t.chains.values()) {
      for (const r of c.rules) {
        if (r.matches.some((m) => m.kind === "conntrack" || m.kind === "connmark")) return true;
        const k = r.target?.kind;
        if (k === "CONNMARK" || k === "CT" || k === "DNAT" || k === "SNAT" || k === "MASQUERADE" || k === "REDIRECT") return true;
      }
    }
  }
  return false;
}
