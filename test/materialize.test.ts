/**
 * materialize's plan and script without a kernel: every command runs in a namespace the plan
 * makes, under the prefix; names from the topology never reach a namespace name; the manifest
 * covers every pod, node and host; the script removes what it made on failure; bad prefixes
 * and flags are one-line errors. (The real build is test/oracle/verify.test.ts.)
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadTopologyText } from "../src/topology/index.js";
import { materializePlan, ownedBy } from "../src/materialize/plan.js";
import { planScript } from "../src/materialize/script.js";
import { parseFlows } from "../src/cli/commands/materialize.js";
import { main } from "../src/cli/main.js";

const t = loadTopologyText(readFileSync(new URL("../topologies/service-policies.yaml", import.meta.url), "utf8"));

describe("materialize plan", () => {
  const p = materializePlan(t, "pw");
  it("makes one namespace for the switch and one per node, pod and host, all under the prefix", () => {
    const pods = t.cluster.list("Pod").filter((x) => !x.spec.hostNetwork).length;
    expect(p.namespaces).toHaveLength(1 + t.nodes.length + t.hosts.length + pods);
    expect(p.namespaces.every((n) => ownedBy("pw").test(n))).toBe(true);
  });
  it("runs every command inside a namespace it made", () => {
    for (const c of p.commands) {
      if (c.ns === undefined) expect([c.argv.slice(0, 3), p.namespaces.includes(c.argv[3] as string)]).toEqual([["ip", "netns", "add"], true]);
      else expect(p.namespaces).toContain(c.ns);
      // A veth's far end (`… peer name X netns NS`) goes into one of the plan's namespaces too.
      const i = c.argv.indexOf("netns");
      if (c.ns !== undefined && i >= 0) expect(p.namespaces).toContain(c.argv[i + 1]);
    }
  });
  it("the manifest names every pod, node and host with its namespace and address", () => {
    const keys = Object.keys(p.manifest.netns);
    for (const pod of t.cluster.list("Pod")) expect(keys).toContain(`pod/${pod.metadata.namespace}/${pod.metadata.name}`);
    for (const n of t.nodes) expect(p.manifest.netns[`node/${n.name}`]?.ip).toBe(n.ip);
    for (const h of t.hosts) expect(p.manifest.netns[`host/${h.name}`]?.ip).toBe(h.ip);
  });
  it("is the same plan twice", () => {
    expect(planScript(materializePlan(t, "pw"))).toBe(planScript(p));
  });
  it("the script stops on the first error and removes what it made", () => {
    const s = planScript(p);
    expect(s).toContain("set -euo pipefail");
    expect(s).toMatch(/trap '.*cleanup' ERR/);
    expect(s).toContain(`cleanup() { for ns in ${p.namespaces.join(" ")};`);
  });
  it("refuses a prefix that is not a short lower-case word", () => {
    for (const bad of ["", "PW", "1pw", "pw-x", "pw;rm", "abcdefghi"]) expect(() => materializePlan(t, bad)).toThrow(/--prefix/);
  });
});

describe("materialize and verify flags", () => {
  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const code = await main(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s), isTTY: false, env: {} });
    return { code, out, err };
  }
  it.each([
    { argv: ["materialize"], msg: "give exactly one of --script, --apply or --destroy" },
    { argv: ["materialize", "--script", "--apply"], msg: "give exactly one of --script, --apply or --destroy" },
    { argv: ["materialize", "--script", "--prefix", "a b"], msg: '--prefix: "a b" must be' },
    { argv: ["verify", "--probes", "0"], msg: '--probes: "0" must be 1–50' },
  ])("$argv → exit 1, one line", async ({ argv, msg }) => {
    const r = await cli(...argv);
    expect(r.code).toBe(1);
    expect(r.err).toContain(msg);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });
  it("--script prints the script", async () => {
    const r = await cli("materialize", "--script", "--prefix", "demo");
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toBe("#!/usr/bin/env bash");
    expect(r.out).toContain("ip netns add demo-node0");
  });
  it("a flows file is checked with its line", () => {
    expect(parseFlows("- {from: pod/a, to: 'svc/b:80'}\n- {from: pod/a, to: 'svc/b:53', proto: udp}\n", "f.yaml")).toEqual([
      { from: "pod/a", to: "svc/b:80", proto: "tcp" },
      { from: "pod/a", to: "svc/b:53", proto: "udp" },
    ]);
    expect(() => parseFlows("- {from: pod/a}\n", "f.yaml")).toThrow("f.yaml: flows[0]: needs from and to (strings)");
    expect(() => parseFlows("- [oops\n", "f.yaml")).toThrow(/^f\.yaml:\d+: /);
  });
});
