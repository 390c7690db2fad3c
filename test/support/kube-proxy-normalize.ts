/**
 * The normalisation kube-proxy's own tests apply before comparing rule dumps
 * (`sortIPTablesRules` in pkg/proxy/iptables/proxier_test.go, kube-proxy.md §2.6): tables by
 * name; chain declarations KUBE-NODEPORTS, KUBE-SERVICES, other KUBE-* alphabetically, then the
 * rest alphabetically; rules chain by chain in that order, keeping their order, except that
 * KUBE-NODEPORTS and KUBE-SERVICES are stable-sorted by the service name in the comment (up to
 * the first space or colon) with nat KUBE-SERVICES' "must be the last rule" rule kept last.
 */
interface Table {
  readonly name: string;
  readonly chains: string[];
  readonly rules: Map<string, string[]>;
  readonly deletes: string[];
}

function parse(text: string): Table[] {
  const tables: Table[] = [];
  let cur: Table | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("*")) {
      cur = { name: line.slice(1), chains: [], rules: new Map(), deletes: [] };
      tables.push(cur);
    } else if (line === "COMMIT") cur = undefined;
    else if (!cur) throw new Error(`line outside a table: ${line}`);
    else if (line.startsWith(":")) {
      const name = line.slice(1).split(" ")[0] as string;
      if (!cur.chains.includes(name)) cur.chains.push(name);
    } else if (line.startsWith("-X ")) cur.deletes.push(line);
    else if (line.startsWith("-A ")) {
      const chain = line.split(" ")[1] as string;
      const list = cur.rules.get(chain) ?? [];
      list.push(line);
      cur.rules.set(chain, list);
    } else throw new Error(`unexpected line: ${line}`);
  }
  return tables;
}

function commentOf(rule: string): string | undefined {
  const m = /--comment ("((?:[^"\\]|\\.)*)"|(\S+))/.exec(rule);
  if (!m) return undefined;
  return m[2] ?? m[3];
}

function serviceName(rule: string): string | undefined {
  const c = commentOf(rule);
  if (c === undefined) return undefined;
  const i = c.search(/[ :]/);
  return i === -1 ? c : c.slice(0, i);
}

function rank(name: string): [number, string] {
  if (name === "KUBE-NODEPORTS") return [0, ""];
  if (name === "KUBE-SERVICES") return [1, ""];
  return [name.startsWith("KUBE-") ? 2 : 3, name];
}

function stableSortByService(rules: string[], keepLast: boolean): string[] {
  const isLast = (r: string): boolean => keepLast && (commentOf(r) ?? "").includes("must be the last rule");
  return rules
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      if (isLast(a.r) !== isLast(b.r)) return isLast(a.r) ? 1 : -1;
      const x = serviceName(a.r);
      const y = serviceName(b.r);
      if (x === undefined || y === undefined || x === y) return a.i - b.i;
      return x < y ? -1 : 1;
    })
    .map((e) => e.r);
}

/** The normalised form of an `iptables-restore` input. */
export function normalizeKubeProxyDump(text: string): string {
  const out: string[] = [];
  for (const t of parse(text).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const chains = [...t.chains].sort((a, b) => {
      const [ra, na] = rank(a);
      const [rb, nb] = rank(b);
      return ra !== rb ? ra - rb : na < nb ? -1 : na > nb ? 1 : 0;
    });
    out.push(`*${t.name}`, ...chains.map((c) => `:${c} - [0:0]`));
    for (const c of chains) {
      let rules = t.rules.get(c) ?? [];
      if (c === "KUBE-NODEPORTS" || c === "KUBE-SERVICES") rules = stableSortByService(rules, t.name === "nat" && c === "KUBE-SERVICES");
      out.push(...rules);
    }
    out.push(...t.deletes, "COMMIT");
  }
  return `${out.join("\n")}\n`;
}
