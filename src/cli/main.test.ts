/**
 * CLI tests: commands run through `main` with captured streams, as a user would run them.
 * Snapshots of the sample trace are reviewed files; if the sample or the format changes on
 * purpose, regenerate with `npx vitest -u` and read the diff.
 */
import { describe, expect, it } from "vitest";
import { main } from "./main.js";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s), isTTY: false, env: {} });
  return { code, out, err };
}

describe("podwire iptables trace", () => {
  it("with no arguments traces the built-in sample and says so", async () => {
    const r = await run("iptables", "trace");
    expect(r.code).toBe(0);
    expect(r.out).toContain("No --rules/--src/--dst given");
    await expect(r.out).toMatchFileSnapshot("__snapshots__/iptables-trace.sample.txt");
  });

  it("prints podwire.dev/iptables-trace/v1 JSON with every path", async () => {
    const r = await run("iptables", "trace", "--src", "10.244.0.5", "--dst", "10.96.0.10:53", "--proto", "udp", "--in", "cni0", "--out", "cni0", "--all-paths", "-o", "json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { schema: string; verdict: string; dnat: string; snat: null; paths: { probability: number; dnat: string }[] };
    expect(j.schema).toBe("podwire.dev/iptables-trace/v1");
    expect(j.verdict).toBe("accept");
    expect(j.snat).toBeNull();
    expect(j.paths.map((p) => [p.probability, p.dnat])).toEqual([
      [0.5, "10.244.0.2:53"],
      [0.5, "10.244.0.3:53"],
    ]);
    await expect(r.out).toMatchFileSnapshot("__snapshots__/iptables-trace.dns.json");
  });

  it("is deterministic: the same seed gives the same output", async () => {
    const a = await run("iptables", "trace", "--src", "10.244.0.5", "--dst", "10.96.0.10:53", "--proto", "udp", "--seed", "7");
    const b = await run("iptables", "trace", "--src", "10.244.0.5", "--dst", "10.96.0.10:53", "--proto", "udp", "--seed", "7");
    expect(a.out).toBe(b.out);
  });

  it.each([
    { name: "missing dump file", argv: ["iptables", "trace", "--rules", "/nonexistent.rules", "--src", "1.1.1.1", "--dst", "2.2.2.2:80"], msg: "cannot read --rules /nonexistent.rules: ENOENT" },
    { name: "bad source address", argv: ["iptables", "trace", "--src", "10.0.0", "--dst", "2.2.2.2:80"], msg: '--src: "10.0.0" is not an IPv4 address' },
    { name: "destination without port", argv: ["iptables", "trace", "--src", "1.1.1.1", "--dst", "2.2.2.2"], msg: "needs a port" },
    { name: "bad protocol", argv: ["iptables", "trace", "--proto", "sctp"], msg: '--proto: "sctp" must be tcp, udp or icmp' },
    { name: "bad hook", argv: ["iptables", "trace", "--hook", "INPUT"], msg: "must be PREROUTING or OUTPUT" },
    { name: "unknown flag", argv: ["iptables", "trace", "--nope"], msg: "unknown option '--nope'" },
    { name: "bad output format", argv: ["iptables", "trace", "-o", "yaml"], msg: '-o: "yaml" must be text or json' },
  ])("$name → exit 1 and one line", async ({ argv, msg }) => {
    const r = await run(...argv);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toContain(msg);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });
});

describe("podwire iptables save", () => {
  it("prints a dump in iptables-save's canonical form", async () => {
    const r = await run("iptables", "save", "-t", "nat");
    expect(r.code).toBe(0);
    expect(r.out.startsWith("*nat\n")).toBe(true);
    expect(r.out).toContain("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n");
  });
});
