/**
 * Oracle: podwire's `conntrack -L` line equals conntrack-tools' for the same entry. A throwaway
 * namespace sends one UDP datagram through a DNAT rule and one TCP SYN (both unanswered, bounded
 * by `timeout`); each real line's tuples and timer are read back into a podwire entry, which must
 * print the identical line.
 */
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { ip } from "../../src/net/addr.js";
import type { Tuple } from "../../src/net/tuple.js";
import { formatConntrackLine, type CtEntry } from "../../src/netfilter/index.js";
import { Netns, oracleUnavailable } from "../support/netns.js";

const why = oracleUnavailable() ?? (spawnSync("sh", ["-c", "command -v conntrack"]).status === 0 ? undefined : "conntrack (conntrack-tools) is not installed");
if (why) console.warn(`skipping real conntrack -L format oracle: ${why}`);

function parseLine(line: string): { entry: CtEntry; secs: number } {
  const m = /^(tcp|udp)\s+\d+ (\d+) (?:\S+ )?src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+) \[UNREPLIED\] src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+) mark=0 use=1$/.exec(line);
  if (!m) throw new Error(`unexpected conntrack line: ${line}`);
  const proto = m[1] as Tuple["proto"];
  const t = (s: number): Tuple => ({ proto, src: ip(m[s] ?? ""), dst: ip(m[s + 1] ?? ""), sport: Number(m[s + 2]), dport: Number(m[s + 3]) });
  const secs = Number(m[2]);
  return { entry: { orig: t(3), reply: t(7), status: new Set(), mark: 0, expiresAt: secs * 1000 }, secs };
}

describe.skipIf(why !== undefined)("conntrack -L format, line for line with conntrack-tools", () => {
  const nsm = new Netns("ctf");
  afterAll(() => nsm.teardown());

  it("an unreplied DNATed UDP flow and an unreplied TCP SYN print identically", () => {
    const a = nsm.add("a");
    const b = nsm.add("b");
    nsm.link(a, "eth0", b, "eth0");
    nsm.exec(a, ["ip", "addr", "add", "10.98.0.1/24", "dev", "eth0"]);
    nsm.exec(b, ["ip", "addr", "add", "10.98.0.2/24", "dev", "eth0"]);
    nsm.exec(a, ["ip", "route", "add", "default", "via", "10.98.0.2"]);
    nsm.exec(a, ["iptables-restore"], "*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -d 10.96.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.98.0.2:53\nCOMMIT\n");
    nsm.exec(b, ["iptables", "-A", "INPUT", "-j", "DROP"]);
    nsm.tryExec(a, ["timeout", "0.5", "bash", "-c", "exec 3<>/dev/udp/10.96.0.10/53; echo x >&3"], undefined, 5000);
    nsm.tryExec(a, ["timeout", "0.5", "bash", "-c", "echo > /dev/tcp/10.96.0.11/80"], undefined, 5000);
    const lines = nsm.exec(a, ["conntrack", "-L"]).trim().split("\n").filter((l) => l !== "");
    expect(lines.map((l) => l.slice(0, 3)).sort()).toEqual(["tcp", "udp"]);
    for (const line of lines) {
      const { entry } = parseLine(line);
      expect(formatConntrackLine(entry, 0)).toBe(line);
    }
  });
});
