/**
 * `endpointsByServicePort` keeps the lists with no endpoint local for the last slice list it was
 * given and remakes only a node's own service ports (service-ports.ts). It must answer exactly as
 * reading every slice afresh for that node does: the reference below is that plain reading
 * (kube-proxy's EndpointSliceCache merge: de-duplicated by IP:port, the local copy winning, each
 * list sorted). Slices of one Service overlap here (the same address in two slices with different
 * conditions, as while the controller moves an endpoint), nodes and slice lists change between calls.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EndpointSlice } from "../../src/cluster/api/types.js";
import { endpointsByServicePort, type EndpointInfo } from "../../src/kube-proxy/service-ports.js";
import { slice } from "./fake-proxier.js";

const NODES = ["node-a", "node-b", "node-c", ""];

function reference(slices: readonly EndpointSlice[], nodeName: string): Map<string, EndpointInfo[]> {
  // Each endpoint as the proxier reads it (asked about one slice holding just that endpoint), in order.
  const sets = new Map<string, Map<string, EndpointInfo>>();
  for (const sl of slices) {
    for (const ep of sl.endpoints) {
      for (const [key, infos] of endpointsByServicePort([{ ...sl, endpoints: [ep] }], "\0no node")) {
        let set = sets.get(key);
        if (!set) sets.set(key, (set = new Map()));
        for (const info of infos) {
          const local = info.nodeName !== undefined && info.nodeName === nodeName;
          if (!local && set.has(info.key)) continue;
          set.set(info.key, local ? { ...info, local: true } : info);
        }
      }
    }
  }
  const out = new Map<string, EndpointInfo[]>();
  for (const [k, set] of sets) out.set(k, [...set.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)));
  return out;
}

const endpointArb = fc.record({
  host: fc.integer({ min: 1, max: 4 }),
  node: fc.option(fc.constantFrom(...NODES), { nil: undefined }),
  ready: fc.boolean(),
  serving: fc.boolean(),
  terminating: fc.boolean(),
});
// A slice: its Service (few, so slices overlap), its port name and its endpoints.
const sliceArb = fc.record({ svc: fc.integer({ min: 0, max: 2 }), portName: fc.constantFrom("", "http"), endpoints: fc.array(endpointArb, { maxLength: 5 }) });
type SliceCase = typeof sliceArb extends fc.Arbitrary<infer T> ? T : never;

function mk(c: SliceCase, i: number): EndpointSlice {
  const eps = c.endpoints.map((e) => ({ addresses: [`10.1.${c.svc}.${e.host}`], ...(e.node !== undefined ? { nodeName: e.node } : {}), conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating } }));
  return slice("ns", `s${c.svc}`, eps, { name: c.portName, port: 8080 }, i);
}

describe("endpointsByServicePort", () => {
  it("answers every node as reading all slices afresh does, as slice lists change", () => {
    fc.assert(
      fc.property(
        fc.array(sliceArb, { maxLength: 6 }),
        fc.array(fc.record({ node: fc.constantFrom(...NODES, "node-z"), change: fc.option(fc.tuple(fc.nat(), sliceArb), { nil: undefined }), copy: fc.boolean() }), { minLength: 1, maxLength: 8 }),
        (cases, steps) => {
          let slices = cases.map(mk);
          for (const [n, step] of steps.entries()) {
            if (step.change && slices.length > 0) {
              // One slice replaced by a new object, the others the same objects (as the store lists them).
              const [at, c] = step.change;
              slices = slices.map((s, i) => (i === at % slices.length ? mk(c, 100 + n) : s));
            } else if (step.copy) slices = [...slices];
            const got = endpointsByServicePort(slices, step.node);
            const want = reference(slices, step.node);
            expect([...got.keys()]).toEqual([...want.keys()]);
            for (const [k, l] of want) expect(got.get(k)).toEqual(l);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it("a node's local endpoints are marked on that node only", () => {
    const slices = [mk({ svc: 0, portName: "", endpoints: [{ host: 1, node: "node-a", ready: true, serving: true, terminating: false }, { host: 2, node: "node-b", ready: true, serving: true, terminating: false }] }, 1)];
    const local = (node: string) => [...(endpointsByServicePort(slices, node).get("ns/s0|tcp") ?? [])].filter((e) => e.local).map((e) => e.ip);
    expect(local("node-a")).toEqual(["10.1.0.1"]);
    expect(local("node-b")).toEqual(["10.1.0.2"]);
    expect(local("node-c")).toEqual([]);
    expect(local("node-a")).toEqual(["10.1.0.1"]);
  });
});
