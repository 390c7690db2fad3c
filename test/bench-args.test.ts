// The bench's flags (bench/args.ts): a bad value stops it before it measures anything, with one
// line and exit code 1, instead of a stack trace part-way through or a run at a size nobody asked for.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { benchArgs, MAX_NODES } from "../bench/args.js";

const parse = (...argv: string[]) => benchArgs(argv, "bench", true);

describe("bench flags", () => {
  it("reads sizes, counts and switches", () => {
    expect(parse("--nodes", "5000", "--pods", "150000", "--services", "10000", "--json")).toEqual({ nodes: 5000, pods: 150000, services: 10000, quick: false, json: true });
    expect(parse("--quick", "--sizes", "100, 1000", "--endpoints", "3", "--traces", "7")).toEqual({ sizes: [{ nodes: 100 }, { nodes: 1000 }], endpoints: 3, traces: 7, quick: true, json: false });
    expect(parse("--sizes", "100,1000,5000/150000/10000").sizes).toEqual([{ nodes: 100 }, { nodes: 1000 }, { nodes: 5000, pods: 150000, services: 10000 }]);
    expect(parse()).toEqual({ quick: false, json: false });
  });

  it.each([
    [["--nodes", "abc"], /--nodes <n>.*"abc"/],
    [["--nodes", "1"], /expected 2 to 8192, got 1/],
    [["--nodes", String(MAX_NODES + 1)], /expected 2 to 8192/],
    [["--services", "0"], /--services <n>.*expected at least 1, got 0/],
    [["--pods", "-5", "--nodes", "10"], /--pods <n>.*"-5"/],
    [["--traces", "2.5"], /--traces <n>.*"2.5"/],
    [["--sizes", "100,x"], /"x" in the list/],
    [["--sizes", "100,1"], /"1" in the list: expected 2 to 8192/],
    [["--sizes", "5000/150000"], /"5000\/150000" in the list: expected NODES or NODES\/PODS\/SERVICES/],
    [["--sizes", "5000/0/10"], /"5000\/0\/10" in the list: expected at least 1, got 0/],
    [["--pods", "5"], /--pods needs --nodes/],
    [["--bogus"], /unknown option '--bogus'/],
    [["extra"], /too many arguments/],
  ])("refuses %j", (argv, message) => {
    expect(() => parse(...argv)).toThrow(message);
  });

  it("`npm run bench -- --nodes abc` exits 1 with one line on stderr and nothing on stdout", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", "--nodes", "abc"], { encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toEqual([`error: option '--nodes <n>' argument 'abc' is invalid. expected a whole number, got "abc".`]);
  });
});
