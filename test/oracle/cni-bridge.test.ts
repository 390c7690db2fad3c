/**
 * Oracle: the real CNI `bridge` + `host-local` plugins (Debian containernetworking-plugins, run
 * as the runtime runs them: CNI_COMMAND=ADD/DEL in the host namespace, the config on stdin) and
 * podwire's plugins, given the same configuration and the same ADD/DEL sequence, leave the same
 * state: devices and their attributes (`ip -d link`), addresses, routes on the host and in each
 * pod, bridge ports and hairpin flags, the bridge's forwarding database, host-local's files and
 * allocation order, ip_forward, and (with ipMasq) the nat rules. Random values (MACs, veth names,
 * namespace names, bridge timers) are normalised. IPv6 is off in the real namespaces, as podwire
 * does not model it. Skips when not root or without the plugins.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Network } from "../../src/kernel/network.js";
import { bridgeFdbShow, ipAddr, ipLinkDetails, ipRoute } from "../../src/kernel/views.js";
import { formatSave } from "../../src/netfilter/iptables-save.js";
import { bridgePlugin, type BridgeConf } from "../../src/cni/bridge.js";
import { HostLocalStore } from "../../src/cni/host-local.js";
import { formatIpv4, ipv4 } from "../../src/net/addr.js";
import { Netns, oracleUnavailable, stripSaveComments } from "../support/netns.js";
import { normaliseRandom } from "../support/normalise.js";

const CNI_BIN = "/usr/lib/cni";
const why = oracleUnavailable() ?? (existsSync(`${CNI_BIN}/bridge`) && existsSync(`${CNI_BIN}/host-local`) ? undefined : `${CNI_BIN}/bridge is not installed (Debian package containernetworking-plugins; .ci/run installs it)`);
if (why) console.warn(`skipping the real CNI bridge plugin oracle: ${why}`);

const normalise = normaliseRandom;

interface Case {
  readonly name: string;
  readonly conf: BridgeConf & { readonly ipam: BridgeConf["ipam"] & { readonly dataDir?: string } };
}

const FLANNEL_DELEGATE: Case = {
  name: "flannel's delegate (hairpin, isDefaultGateway, MTU 1450, /16 route)",
  conf: { cniVersion: "0.3.1", name: "cbr0", type: "bridge", hairpinMode: true, ipMasq: false, isDefaultGateway: true, isGateway: true, mtu: 1450, ipam: { type: "host-local", ranges: [[{ subnet: "10.244.0.0/24" }]], routes: [{ dst: "10.244.0.0/16" }] } } as BridgeConf,
};
const IPMASQ: Case = {
  name: "ipMasq, no hairpin, an IPAM default route, MTU 1500",
  conf: { cniVersion: "0.3.1", name: "kubenet", type: "bridge", bridge: "cbr0", hairpinMode: false, ipMasq: true, isGateway: true, ipam: { type: "host-local", ranges: [[{ subnet: "10.88.0.0/16" }]], routes: [{ dst: "0.0.0.0/0" }] } } as BridgeConf,
};

/** ADD c1, ADD c2, DEL c1, ADD c3: host-local must hand out .2, .3 and then .4 (no reuse). */
const STEPS = [
  { cmd: "ADD", id: "c0ffee01", pod: "p1" },
  { cmd: "ADD", id: "c0ffee02", pod: "p2" },
  { cmd: "DEL", id: "c0ffee01", pod: "p1" },
  { cmd: "ADD", id: "c0ffee03", pod: "p3" },
] as const;
const PODS = ["p2", "p3"];

describe.skipIf(why !== undefined)("the real CNI bridge plugin and podwire's leave the same state", () => {
  const nsm = new Netns("cni");
  const dirs: string[] = [];
  afterAll(() => {
    nsm.teardown();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it.each([FLANNEL_DELEGATE, IPMASQ])("$name", ({ conf }) => {
    // --- the real plugins
    const data = mkdtempSync(join(tmpdir(), "pwt-cni-"));
    dirs.push(data);
    const host = nsm.add(`h${dirs.length}`);
    const pods = Object.fromEntries(["p1", "p2", "p3"].map((p) => [p, nsm.add(`${p}x${dirs.length}`)]));
    for (const ns of [host, ...Object.values(pods)]) for (const k of ["all", "default"]) nsm.exec(ns, ["sysctl", "-qw", `net.ipv6.conf.${k}.disable_ipv6=1`]);
    const realConf = JSON.stringify({ ...conf, ipam: { ...conf.ipam, dataDir: join(data, "networks") } });
    for (const s of STEPS) {
      const env = [`CNI_COMMAND=${s.cmd}`, `CNI_CONTAINERID=${s.id}`, `CNI_NETNS=/var/run/netns/${pods[s.pod] as string}`, "CNI_IFNAME=eth0", `CNI_PATH=${CNI_BIN}`];
      const r = nsm.tryExec(host, ["env", ...env, `${CNI_BIN}/bridge`], realConf);
      expect(r.status, r.stdout + r.stderr).toBe(0);
    }
    // --- podwire
    const net = new Network({ seed: 7 });
    const h = net.netnsAdd("host");
    h.linkSetUp("lo");
    // The test helper brings lo up in every namespace it makes (as the runtime's loopback plugin would).
    for (const p of ["p1", "p2", "p3"]) net.netnsAdd(p).linkSetUp("lo");
    const store = new HostLocalStore();
    const plugin = bridgePlugin({ host: h, sandbox: (n) => net.ns(n), ipam: store, rng: net.rng });
    for (const s of STEPS) {
      const args = { containerId: s.id, netns: s.pod, ifName: "eth0", args: {} };
      if (s.cmd === "ADD") plugin.add(args, conf);
      else plugin.del(args, conf);
    }
    // --- compare
    const realNames: [string, string][] = [[host, "<host>"], ...PODS.map((p) => [pods[p] as string, `<${p}>`] as [string, string])];
    const ourNames: [string, string][] = [["link-netns host", "link-netns <host>"], ...PODS.map((p) => [`link-netns ${p}`, `link-netns <${p}>`] as [string, string])];
    const ours = (t: string): string => normalise(t, ourNames);
    const real = (t: string): string => normalise(t, realNames);
    const ip = (ns: string, ...a: string[]): string => nsm.exec(ns, ["ip", ...a]);
    expect(ours(ipLinkDetails(h))).toBe(real(ip(host, "-d", "link", "show")));
    expect(ours(ipAddr(h))).toBe(real(ip(host, "addr", "show")));
    expect(ipRoute(h)).toBe(ip(host, "route", "show"));
    for (const p of PODS) {
      const ns = net.ns(p);
      expect(ours(ipLinkDetails(ns))).toBe(real(ip(pods[p] as string, "-d", "link", "show")));
      expect(ours(ipAddr(ns))).toBe(real(ip(pods[p] as string, "addr", "show")));
      expect(ipRoute(ns)).toBe(ip(pods[p] as string, "route", "show"));
    }
    const sorted = (t: string[]): string[] => t.flatMap((x) => x.split("\n")).filter(Boolean).sort();
    expect(sorted([ours(ipLinkDetails(h) + bridgeFdbShow(h))])).toEqual(sorted([real(ip(host, "-d", "link", "show") + nsm.exec(host, ["bridge", "fdb", "show"]))]));
    // host-local's directory: the same files with the same contents.
    const dir = join(data, "networks", conf.name);
    const realFiles = readdirSync(dir).sort();
    expect(store.listing(conf.name)).toEqual(realFiles);
    for (const [a, content] of store.dir(conf.name)) expect(content).toBe(readFileSync(join(dir, formatIpv4(ipv4(a))), "utf8"));
    expect(formatIpv4(store.lastReserved.get(conf.name)?.get(0) ?? ipv4(0))).toBe(readFileSync(join(dir, "last_reserved_ip.0"), "utf8"));
    expect(String(h.sysctls.all.forwarding ? 1 : 0)).toBe(nsm.exec(host, ["sysctl", "-n", "net.ipv4.ip_forward"]).trim());
    if (conf.ipMasq) expect(formatSave(h.ruleset, { table: "nat" })).toBe(stripSaveComments(nsm.exec(host, ["iptables-save", "-t", "nat"])));
  });
});
