/**
 * Oracle: every node's rules, as the components wrote them, load into a real kernel, and the
 * kernel ends up with the rules podwire's node holds. For each node of each fixture topology the
 * node's iptables-restore calls (kubelet's and kube-proxy's chains and jumps, dockerd's and
 * flanneld's rules, the CNI plugin's ipMasq chains, kube-proxy's full-sync restore input in its
 * own spelling) are replayed in order with the real `iptables-restore [--noflush]` in a fresh
 * namespace; the real `iptables-save` must print exactly what podwire's `iptables-save --node`
 * prints. The expected text is the real tool's, produced during the test. Skips when not root.
 */
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { formatSave } from "../../src/netfilter/iptables-save.js";
import { loadTopologyText } from "../../src/topology/index.js";
import { Netns, oracleUnavailable, stripSaveComments } from "../support/netns.js";

const why = oracleUnavailable();
if (why) console.warn(`skipping real-kernel node-rules oracle: ${why}`);

const dir = new URL("../../topologies/", import.meta.url);
const files = [
  ...readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => ({ name: `topologies/${f}`, text: readFileSync(new URL(f, dir), "utf8") })),
  { name: "test/fixtures/topologies/dataplane-s8.yaml", text: readFileSync(new URL("../fixtures/topologies/dataplane-s8.yaml", import.meta.url), "utf8") },
];
const cases = files.flatMap((f) => {
  const t = loadTopologyText(f.text, f.name);
  t.dataplane.syncAll();
  return t.dataplane.nodeNames().map((node) => ({ label: `${f.name} ${node}`, ns: t.dataplane.node(node), nfacct: t.networking.kubeProxy.nfacct }));
});

describe.skipIf(why !== undefined)("node rules in a real kernel", () => {
  const nsm = new Netns("nrul");
  let n = 0;
  afterAll(() => nsm.teardown());

  it.each(cases)("$label", ({ ns, nfacct }) => {
    const real = nsm.add(`n${n++}`);
    try {
      // kube-proxy creates its nfacct counters over netlink before it writes rules that use them.
      if (nfacct) for (const c of ["ct_state_invalid_dropped_pkts", "localhost_nps_accepted_pkts"]) nsm.exec(real, ["nfacct", "add", c]);
      for (const j of ns.iptablesJournal) {
        const r = nsm.tryExec(real, ["iptables-restore", ...(j.noflush ? ["--noflush"] : [])], j.text);
        expect(r.stderr, `${j.source ?? "restore"} was refused by the real iptables-restore`).toBe("");
        expect(r.status).toBe(0);
      }
      expect(formatSave(ns.ruleset)).toBe(stripSaveComments(nsm.exec(real, ["iptables-save"])));
    } finally {
      nsm.teardown();
    }
  });
});
