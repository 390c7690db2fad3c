/**
 * Parser tests: malformed input gives one message naming the line; parse ∘ print is stable;
 * every jump in a parsed ruleset names an existing chain. Expected messages are podwire's own
 * wording; where the real iptables-restore refuses the same input it is noted.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChainOverlay } from "./chain-overlay.js";
import { formatSave } from "./iptables-save.js";
import { parseRestore } from "./iptables-restore.js";

const wrap = (rules: string, table = "filter"): string =>
  table === "filter"
    ? `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n${rules}\nCOMMIT\n`
    : `*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n${rules}\nCOMMIT\n`;

describe("malformed dumps", () => {
  it.each([
    { name: "jump to an unknown chain", text: wrap("-A INPUT -j KUBE-SVC-NOPE"), line: 6, msg: /jump to unknown chain "KUBE-SVC-NOPE"/ },
    { name: "rule in an undeclared chain", text: wrap("-A KUBE-NODEPORTS -j ACCEPT"), line: 6, msg: /chain "KUBE-NODEPORTS" does not exist/ },
    { name: "bad address", text: wrap("-A INPUT -s 10.0.0.300 -j ACCEPT"), line: 6, msg: /octet 4 is above 255/ },
    { name: "bad prefix length", text: wrap("-A INPUT -d 10.0.0.0/33 -j ACCEPT"), line: 6, msg: /prefix length/ },
    { name: "missing COMMIT", text: "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n", line: 3, msg: /missing its COMMIT/ },
    { name: "next table before COMMIT", text: "*filter\n:INPUT ACCEPT [0:0]\n*nat\nCOMMIT\n", line: 3, msg: /no COMMIT before the next table/ },
    { name: "unknown option", text: wrap("-A INPUT -p tcp --dprot 80 -j ACCEPT"), line: 6, msg: /unknown option "--dprot"/ },
    { name: "option missing its argument", text: wrap("-A INPUT -s"), line: 6, msg: /needs an argument/ },
    { name: "unknown table", text: "*filtre\nCOMMIT\n", line: 1, msg: /unknown table "filtre"/ },
    { name: "rule outside a table", text: "-A INPUT -j ACCEPT\n", line: 1, msg: /outside a table/ },
    { name: "-o in INPUT (iptables: Can't use -o with INPUT)", text: wrap("-A INPUT -o eth0 -j ACCEPT"), line: 6, msg: /Can't use -o with INPUT/ },
    { name: "DNAT outside nat", text: wrap("-A INPUT -p tcp -j DNAT --to-destination 10.0.0.1:80"), line: 6, msg: /only valid in the nat table/ },
    { name: "DNAT port without protocol (iptables: Need TCP, UDP…)", text: wrap("-A PREROUTING -j DNAT --to-destination 10.0.0.1:80", "nat"), line: 6, msg: /Need TCP, UDP, SCTP or DCCP/ },
    { name: "unterminated quote", text: wrap('-A INPUT -m comment --comment "oops -j ACCEPT'), line: 6, msg: /unterminated/ },
    { name: "bad policy", text: "*filter\n:INPUT MAYBE [0:0]\nCOMMIT\n", line: 2, msg: /bad policy "MAYBE"/ },
    { name: "user chain with a policy", text: "*filter\n:MINE ACCEPT [0:0]\nCOMMIT\n", line: 2, msg: /cannot have a policy/ },
    { name: "chain name too long", text: "*filter\n:KUBE-SVC-ABCDEFGHIJKLMNOPQRSTU - [0:0]\nCOMMIT\n", line: 2, msg: /longer than 28/ },
    { name: "tcp match without -p tcp", text: wrap("-A INPUT -m tcp --dport 80 -j ACCEPT"), line: 6, msg: /-m tcp needs -p tcp/ },
    { name: "statistic probability out of range", text: wrap("-A INPUT -m statistic --mode random --probability 1.5 -j ACCEPT"), line: 6, msg: /probability/ },
    { name: "option given twice (iptables: can only be used once)", text: wrap("-A INPUT -m mark --mark 1 --mark 2 -j ACCEPT"), line: 6, msg: /can only be used once/ },
  ])("$name → line $line", ({ text, line, msg }) => {
    const r = parseRestore(text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issue.line).toBe(line);
      expect(r.issue.message).toMatch(msg);
      expect(r.issue.message).not.toContain("\n");
    }
  });
});

describe("restore semantics", () => {
  it("--noflush keeps chains the input does not declare and flushes the ones it does", () => {
    const base = parseRestore(wrap("-A INPUT -j ACCEPT\n-A KUBE-SERVICES -j RETURN"));
    if (!base.ok) throw new Error("base");
    const next = parseRestore("*filter\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j DROP\nCOMMIT\n", { base: base.ruleset, noflush: true });
    if (!next.ok) throw new Error(next.issue.message);
    const text = formatSave(next.ruleset);
    expect(text).toContain("-A INPUT -j ACCEPT");
    expect(text).toContain("-A KUBE-SERVICES -j DROP");
    expect(text).not.toContain("-A KUBE-SERVICES -j RETURN");
  });

  it("-X deletes a chain; -I inserts at a position", () => {
    const r = parseRestore(wrap("-A INPUT -j DROP\n-I INPUT 1 -j ACCEPT\n-N OLD\n-X OLD"));
    if (!r.ok) throw new Error(r.issue.message);
    const text = formatSave(r.ruleset);
    expect(text.indexOf("-A INPUT -j ACCEPT")).toBeLessThan(text.indexOf("-A INPUT -j DROP"));
    expect(text).not.toContain(":OLD");
  });

  it("a jump whose chain a bare -X deleted fails at COMMIT, naming the jump's line", () => {
    const r = parseRestore(wrap("-A INPUT -j KUBE-SERVICES\n-X"));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issue).toEqual({ line: 6, message: 'jump to chain "KUBE-SERVICES", which no longer exists at COMMIT' });
  });
});

const chainName = fc.constantFrom("KUBE-SERVICES", "KUBE-SVC-A", "KUBE-SEP-B", "FLANNEL-FWD");
const ruleText = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 32 })).map(([o, l]) => `-s 10.${o}.0.1/${l} -j ACCEPT`),
  fc.integer({ min: 1, max: 65535 }).map((p) => `-p tcp -m comment --comment "svc:p${p} cluster IP" -m tcp --dport ${p} -j RETURN`),
  chainName.map((c) => `-j ${c}`),
  fc.double({ min: 0, max: 1, noNaN: true }).map((p) => `-m statistic --mode random --probability ${p.toFixed(10)} -j DROP`),
);

describe("properties", () => {
  it("print ∘ parse is stable: parsing printed output prints the same text", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(chainName, ruleText), { maxLength: 40 }), (rules) => {
        const text = `*filter\n:INPUT ACCEPT [0:0]\n${["KUBE-SERVICES", "KUBE-SVC-A", "KUBE-SEP-B", "FLANNEL-FWD"].map((c) => `:${c} - [0:0]`).join("\n")}\n${rules.map(([c, r]) => `-A ${c} ${r}`).join("\n")}\nCOMMIT\n`;
        const a = parseRestore(text);
        if (!a.ok) throw new Error(a.issue.message);
        const once = formatSave(a.ruleset);
        const b = parseRestore(once);
        if (!b.ok) throw new Error(b.issue.message);
        expect(formatSave(b.ruleset)).toBe(once);
      }),
    );
  });

  it("every jump target of a parsed ruleset exists", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(chainName, ruleText), { maxLength: 30 }), fc.subarray(["KUBE-SERVICES", "KUBE-SVC-A", "KUBE-SEP-B", "FLANNEL-FWD"]), (rules, declared) => {
        const text = `*filter\n:INPUT ACCEPT [0:0]\n${declared.map((c) => `:${c} - [0:0]`).join("\n")}\n${rules.map(([c, r]) => `-A ${c} ${r}`).join("\n")}\nCOMMIT\n`;
        const r = parseRestore(text);
        if (!r.ok) return;
        for (const t of r.ruleset.tables.values()) {
          for (const c of t.chains.values()) {
            for (const rule of c.rules) {
              if (rule.target?.kind === "JUMP" || rule.target?.kind === "GOTO") expect(t.chains.has(rule.target.chain)).toBe(true);
            }
          }
        }
      }),
    );
  });
});

describe("parseRestore with intern (many nodes, one kube-proxy text)", () => {
  // Three "nodes" whose texts share lines at different positions; on B, FOO is no chain, so the
  // `-j FOO` line parsed elsewhere as a jump must be refused there.
  const nodeA = ["*filter", ":FOO - [0:0]", ":BAR - [0:0]", "-A BAR -s 10.0.0.0/8 -j FOO", "-A FOO -p tcp -m tcp --dport 80 -j ACCEPT", "-A BAR -j RETURN", "COMMIT", ""].join("\n");
  const nodeB = ["*filter", ":BAR - [0:0]", "-A BAR -m comment --comment \"only on B\" -j DROP", "-A BAR -j RETURN", "-A BAR -s 10.0.0.0/8 -j FOO", "COMMIT", ""].join("\n");
  const nodeC = ["*filter", ":FOO - [0:0]", ":BAR - [0:0]", ":X - [0:0]", "-A X -j RETURN", "-A BAR -s 10.0.0.0/8 -j FOO", "-A FOO -p tcp -m tcp --dport 80 -j ACCEPT", "-A BAR -j RETURN", "COMMIT", ""].join("\n");
  // What a ruleset says, as iptables-save prints it (a shared rule keeps its first line number).
  const view = (r: ReturnType<typeof parseRestore>): unknown => (r.ok ? formatSave(r.ruleset) : r.issue);

  it("gives what a fresh parse gives, in any order, and a failure names its own line", () => {
    const fresh = [nodeA, nodeB, nodeC].map((t) => view(parseRestore(t)));
    const interned = [nodeA, nodeB, nodeC, nodeB, nodeA].map((t) => view(parseRestore(t, { intern: true })));
    expect(interned).toEqual([fresh[0], fresh[1], fresh[2], fresh[1], fresh[0]]);
    expect(fresh[1]).toMatchObject({ line: 5 });
  });

  it("shares rules and whole chains between parses", () => {
    const a1 = parseRestore(nodeA, { intern: true });
    const a2 = parseRestore(nodeA, { intern: true });
    const c = parseRestore(nodeC, { intern: true });
    if (!a1.ok || !a2.ok || !c.ok) throw new Error("parse failed");
    const chain = (r: typeof a1, name: string): unknown => r.ok && r.ruleset.tables.get("filter")?.chains.get(name);
    expect(chain(a2, "FOO")).toBe(chain(a1, "FOO"));
    expect(chain(c, "FOO")).toBe(chain(a1, "FOO"));
    expect(chain(c, "BAR")).toBe(chain(a1, "BAR"));
    expect(chain(c, "X")).not.toBe(chain(a1, "BAR"));
  });

  // Nodes with a thousand chains, nearly the same: one is the base, the others its differences.
  const big = (node: number, opts: { drop?: number; change?: number; add?: boolean }): string => {
    const chains: string[] = [];
    const rules: string[] = [];
    for (let i = 0; i < 1000; i++) {
      if (i === opts.drop) continue;
      chains.push(`:SVC-${i} - [0:0]`);
      rules.push(`-A PREROUTING -d 10.96.${i >> 8}.${i & 255}/32 -p tcp -m tcp --dport 80 -j SVC-${i}`);
      rules.push(`-A SVC-${i} -p tcp -j DNAT --to-destination 10.244.${i >> 8}.${i & 255}:${i === opts.change ? 9090 : 8080}`);
    }
    if (opts.add) chains.push(`:ONLY-${node} - [0:0]`);
    return ["*nat", ":PREROUTING ACCEPT [0:0]", ...chains, ...rules, "COMMIT", ""].join("\n");
  };

  it("keeps a large table as its differences from another node's, reading exactly as a fresh parse", () => {
    const texts = [big(1, {}), big(2, { drop: 7 }), big(3, { change: 500, add: true }), big(4, { drop: 3, change: 999, add: true }), big(5, {})];
    const interned = texts.map((t) => parseRestore(t, { intern: true }));
    texts.forEach((t, i) => {
      const mine = interned[i];
      const fresh = parseRestore(t);
      if (!mine?.ok || !fresh.ok) throw new Error(`parse failed: ${JSON.stringify(fresh)}`);
      expect(formatSave(mine.ruleset)).toBe(formatSave(fresh.ruleset));
      const a = mine.ruleset.tables.get("nat")?.chains as ReadonlyMap<string, unknown>;
      const b = fresh.ruleset.tables.get("nat")?.chains as ReadonlyMap<string, unknown>;
      expect(a.size).toBe(b.size);
      expect(new Set(a.keys())).toEqual(new Set(b.keys()));
      for (const k of ["SVC-3", "SVC-7", "SVC-500", "SVC-999", "ONLY-3", "ONLY-4", "NOPE"]) expect(a.has(k)).toBe(b.has(k));
      if (i > 0) expect(a).toBeInstanceOf(ChainOverlay);
    });
    // Changed chains are this node's own objects; the rest are the base's.
    const nat = (i: number): ReadonlyMap<string, unknown> => (interned[i]?.ok ? interned[i].ruleset.tables.get("nat")?.chains : undefined) as ReadonlyMap<string, unknown>;
    expect(nat(2).get("SVC-500")).not.toBe(nat(0).get("SVC-500"));
    expect(nat(2).get("SVC-501")).toBe(nat(0).get("SVC-501"));
    // A later restore on top of an overlay (--noflush) starts from what it reads.
    const base = interned[3];
    if (!base?.ok) throw new Error("parse failed");
    const next = parseRestore("*nat\n:SVC-1 - [0:0]\n-A SVC-1 -j RETURN\nCOMMIT\n", { base: base.ruleset, noflush: true, intern: true });
    const fresh3 = parseRestore(texts[3] as string);
    if (!fresh3.ok) throw new Error("parse failed");
    const nextFresh = parseRestore("*nat\n:SVC-1 - [0:0]\n-A SVC-1 -j RETURN\nCOMMIT\n", { base: fresh3.ruleset, noflush: true });
    if (!next.ok || !nextFresh.ok) throw new Error("parse failed");
    expect(formatSave(next.ruleset)).toBe(formatSave(nextFresh.ruleset));
  });
});

describe("parseRestore with intern, over many texts that share lines", () => {
  // Lines drawn from one pool, so texts share runs of them in different orders and with different
  // chains declared: a rule met before is reused (found by its line, or through the line that
  // preceded it last time) only where it reads the same. Each text, in any order, as one string
  // or as lines (the pool's own string objects), must read as its fresh parse does.
  const CHAINS = ["A", "B", "C"];
  const lineArb = fc.oneof(
    fc.tuple(fc.constantFrom("INPUT", ...CHAINS), fc.constantFrom("ACCEPT", "DROP", "RETURN", ...CHAINS)).map(([c, t]) => `-A ${c} -j ${t}`),
    fc.tuple(fc.constantFrom("INPUT", ...CHAINS), fc.integer({ min: 1, max: 3 }), fc.constantFrom("ACCEPT", ...CHAINS)).map(([c, p, t]) => `-A ${c} -p tcp -m tcp --dport ${p} -j ${t}`),
    fc.constantFrom(...CHAINS).map((c) => `-X ${c}`),
    fc.constantFrom(...CHAINS).map((c) => `-N ${c}`),
    fc.constantFrom("INPUT", ...CHAINS).map((c) => `-F ${c}`),
    fc.constantFrom(...CHAINS).map((c) => `-I ${c} 1 -j DROP`),
    // A declaration among the rules flushes (or makes) the chain: a new chain object.
    fc.constantFrom(...CHAINS).map((c) => `:${c} - [0:0]`),
  );
  const textArb = fc.record({ declared: fc.subarray(CHAINS), body: fc.array(fc.nat(), { maxLength: 12 }), asLines: fc.boolean() });
  const view = (r: ReturnType<typeof parseRestore>): unknown => (r.ok ? formatSave(r.ruleset) : r.issue);

  it("reads every text as a fresh parse does", () => {
    fc.assert(
      fc.property(fc.array(lineArb, { minLength: 1, maxLength: 10 }), fc.array(textArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { minLength: 1, maxLength: 10 }), (pool, texts, order) => {
        const linesOf = texts.map((t) => ["*filter", ":INPUT ACCEPT [0:0]", ...t.declared.map((c) => `:${c} - [0:0]`), ...t.body.map((i) => pool[i % pool.length] as string), "COMMIT"]);
        for (const k of order) {
          const i = k % texts.length;
          const lines = linesOf[i] as string[];
          const input = texts[i]?.asLines ? lines : `${lines.join("\n")}\n`;
          expect(view(parseRestore(input, { intern: true }))).toEqual(view(parseRestore(lines.join("\n"))));
        }
      }),
      { numRuns: 1000 },
    );
  });
});
