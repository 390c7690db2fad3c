/**
 * The node views from the command line (CLI.md "Views of a node's emulated kernel"), run as a
 * user runs them, on the fixture topologies: output snapshots are reviewed files, and bad
 * flags give one line and exit 1.
 */
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s), isTTY: false, env: {} });
  return { code, out, err };
}

const S8 = "test/fixtures/topologies/dataplane-s8.yaml";

describe("views", () => {
  it("iptables-save --node on the default topology", async () => {
    const r = await run("iptables-save", "--node", "node-2");
    expect(r.code).toBe(0);
    await expect(r.out).toMatchFileSnapshot("__snapshots__/iptables-save.default.node-2.txt");
  });

  it("iptables-save -t nat prints one table", async () => {
    const r = await run("iptables-save", "-f", S8, "--node", "node-1", "-t", "nat");
    expect(r.out.startsWith("*nat\n")).toBe(true);
    expect(r.out.match(/^\*/gm)).toEqual(["*"]);
  });

  it.each([
    ["ip route --node", ["ip", "-f", S8, "--node", "node-1", "route"], "ip-route.s8.node-1.txt"],
    ["ip route show table local", ["ip", "-f", S8, "--node", "node-1", "route", "show", "table", "local"], "ip-route-local.s8.node-1.txt"],
    ["ip -d link --node", ["ip", "-f", S8, "--node", "node-2", "-d", "link"], "ip-d-link.s8.node-2.txt"],
    ["ip addr --pod", ["ip", "-f", S8, "--pod", "kube-system/coredns-b", "addr"], "ip-addr.s8.coredns-b.txt"],
    ["ip --brief addr --node", ["ip", "-f", S8, "--node", "node-1", "--brief", "addr"], "ip-br-addr.s8.node-1.txt"],
    ["ip neigh --node", ["ip", "-f", S8, "--node", "node-2", "neigh"], "ip-neigh.s8.node-2.txt"],
    ["bridge fdb --node", ["bridge", "-f", S8, "--node", "node-1", "fdb"], "bridge-fdb.s8.node-1.txt"],
    ["kube-proxy rules --node", ["kube-proxy", "rules", "-f", S8, "--node", "node-1"], "kube-proxy-rules.s8.node-1.txt"],
    ["docker0 host iptables-save", ["iptables-save", "-f", "topologies/docker0-single-host.yaml", "--node", "docker-host"], "iptables-save.docker0.txt"],
    ["host-gw routes", ["ip", "-f", "topologies/flannel-host-gw.yaml", "--node", "node-2", "route"], "ip-route.host-gw.node-2.txt"],
  ])("%s", async (_name, argv, snap) => {
    const r = await run(...(argv as string[]));
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    await expect(r.out).toMatchFileSnapshot(`__snapshots__/${snap as string}`);
  });

  it.each([
    { argv: ["iptables-save", "--node", "node-9"], msg: 'podwire: --node: no node "node-9" in the topology (nodes: node-1, node-2)' },
    { argv: ["iptables-save"], msg: "required option '--node <name>' not specified" },
    { argv: ["iptables-save", "--node", "node-1", "-t", "natt"], msg: '-t: unknown table "natt"' },
    { argv: ["ip", "route"], msg: "give exactly one of --node NAME or --pod [NS/]NAME" },
    { argv: ["ip", "--node", "node-1", "--pod", "x", "route"], msg: "give exactly one of --node NAME or --pod [NS/]NAME" },
    { argv: ["ip", "--node", "node-1", "rule"], msg: 'ip: unknown object "rule"' },
    { argv: ["ip", "--node", "node-1", "route", "get", "1.1.1.1"], msg: 'unsupported arguments "get 1.1.1.1"' },
    { argv: ["ip", "--pod", "default/nope", "addr"], msg: '--pod: no pod "default/nope" in the topology' },
    { argv: ["bridge", "--node", "node-1", "vlan"], msg: 'bridge: unknown object "vlan" (fdb)' },
    { argv: ["kube-proxy", "rules", "--node", "nope"], msg: 'no node "nope"' },
    { argv: ["ip", "-f", "/nonexistent.yaml", "--node", "node-1", "route"], msg: "/nonexistent.yaml: no such file or directory" },
  ])("$argv → exit 1, one line", async ({ argv, msg }) => {
    const r = await run(...argv);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toContain(msg);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });
});
