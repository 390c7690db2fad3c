/**
 * @module cni/docker0
 * Docker's default bridge network as dockerd (libnetwork's bridge driver, Docker ≤ 27, the classic
 * iptables layout) sets it up on a host (dataplane.md §1): `docker0` with 172.17.0.1/16 and a
 * random `02:42:…` MAC; ip_forward turned on, and the FORWARD policy set to DROP when dockerd had
 * to turn it on; the DOCKER, DOCKER-USER and DOCKER-ISOLATION chains and the MASQUERADE rule. Each
 * container gets the first free address from .2 (a released one is reused), a veth named `veth` +
 * 7 hex digits on the host (hairpin off: the userland proxy is on), `eth0` with the MAC derived from
 * its address (`02:42:` + the four address bytes) and a default route via the bridge.
 * @see moby/moby v27.5.1 libnetwork/drivers/bridge (setup_ip_tables_linux.go, setup_device.go)
 */
import { formatIpv4, ipv4Octets, type Ipv4, type Mac } from "../net/addr.js";
import { cidrBroadcast, formatCidr, type Cidr } from "../net/cidr.js";
import type { Rng } from "../sim/rng.js";
import type { NetNs } from "../kernel/netns.js";
import { CniError, type CniArgs, type CniPlugin, type CniResult } from "./contract.js";

/** dockerd's settings for the default bridge. */
export interface DockerConfig {
  readonly bridge: string;
  readonly subnet: Cidr;
  readonly mtu: number;
}

/** What dockerd keeps per host. */
export interface DockerState {
  /** Allocated container addresses → container ID. */
  readonly allocated: Map<number, string>;
  /** Whether dockerd found ip_forward off and set the FORWARD policy to DROP. */
  forwardDrop: boolean;
}

/** The classic iptables layout for the default bridge (iptables-save rendering, valid restore input). */
export function dockerRules(cfg: DockerConfig, forwardDrop: boolean): string {
  const br = cfg.bridge;
  return [
    "*nat",
    ":DOCKER - [0:0]",
    "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
    "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
    `-A POSTROUTING -s ${formatCidr(cfg.subnet)} ! -o ${br} -j MASQUERADE`,
    `-A DOCKER -i ${br} -j RETURN`,
    "COMMIT",
    "*filter",
    ...(forwardDrop ? [":FORWARD DROP [0:0]"] : []),
    ":DOCKER - [0:0]",
    ":DOCKER-ISOLATION-STAGE-1 - [0:0]",
    ":DOCKER-ISOLATION-STAGE-2 - [0:0]",
    ":DOCKER-USER - [0:0]",
    "-A FORWARD -j DOCKER-USER",
    "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
    `-A FORWARD -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    `-A FORWARD -o ${br} -j DOCKER`,
    `-A FORWARD -i ${br} ! -o ${br} -j ACCEPT`,
    `-A FORWARD -i ${br} -o ${br} -j ACCEPT`,
    `-A DOCKER-ISOLATION-STAGE-1 -i ${br} ! -o ${br} -j DOCKER-ISOLATION-STAGE-2`,
    "-A DOCKER-ISOLATION-STAGE-1 -j RETURN",
    `-A DOCKER-ISOLATION-STAGE-2 -o ${br} -j DROP`,
    "-A DOCKER-ISOLATION-STAGE-2 -j RETURN",
    "-A DOCKER-USER -j RETURN",
    "COMMIT",
    "",
  ].join("\n");
}

/** `02:42:` + the four address bytes (Docker ≤ 27). */
export function dockerMac(ip: Ipv4): Mac {
  return `02:42:${ipv4Octets(ip)
    .map((o) => o.toString(16).padStart(2, "0"))
    .join(":")}` as Mac;
}

/** dockerd starting on a host: the bridge, ip_forward and the iptables layout. */
export function dockerdStart(host: NetNs, cfg: DockerConfig, rng: Rng): DockerState {
  const r = rng.uint32();
  const mac = `02:42:${[r >>> 24, (r >>> 16) & 255, (r >>> 8) & 255, r & 255].map((o) => o.toString(16).padStart(2, "0")).join(":")}` as Mac;
  host.linkAdd({ kind: "bridge", name: cfg.bridge, mac, mtu: cfg.mtu, txqlen: 1000 });
  host.addrAdd(cfg.bridge, { addr: (cfg.subnet.addr + 1) as Ipv4, len: cfg.subnet.len }, { brd: "+" });
  host.linkSetUp(cfg.bridge);
  const forwardDrop = !host.sysctls.all.forwarding;
  if (forwardDrop) host.sysctlSet("net.ipv4.ip_forward", 1);
  host.iptablesRestore(dockerRules(cfg, forwardDrop), { noflush: true, source: "dockerd" });
  return { allocated: new Map(), forwardDrop };
}

/** The default bridge as a pod network (kubelet with the docker runtime, no CNI). */
export function docker0Plugin(env: { readonly host: NetNs; readonly sandbox: (netns: string) => NetNs; readonly rng: Rng; readonly cfg: DockerConfig; readonly state: DockerState }): CniPlugin<Record<string, never>> {
  const { cfg, state } = env;
  return {
    type: "docker0",
    add(args: CniArgs): CniResult {
      const host = env.host;
      const last = cidrBroadcast(cfg.subnet) - 1;
      let ip: number | undefined;
      for (let a = cfg.subnet.addr + 2; a <= last; a += 1) {
        if (!state.allocated.has(a)) {
          ip = a;
          break;
        }
      }
      if (ip === undefined) throw new CniError(100, `no available IPv4 addresses on this network's address pools: bridge (${formatCidr(cfg.subnet)})`);
      state.allocated.set(ip, args.containerId);
      let name = "";
      for (let i = 0; i < 3 && (name === "" || host.devices.has(name)); i += 1) name = `veth${rng7(env.rng)}`;
      const pod = env.sandbox(args.netns);
      pod.linkAdd({ kind: "veth", name: args.ifName, peer: name, peerNs: host.name, mtu: cfg.mtu, mac: dockerMac(ip as Ipv4), txqlen: 0 });
      host.linkSetMaster(name, cfg.bridge);
      host.linkSetUp(name);
      const gw = (cfg.subnet.addr + 1) as Ipv4;
      pod.addrAdd(args.ifName, { addr: ip as Ipv4, len: cfg.subnet.len }, { brd: "+" });
      pod.linkSetUp(args.ifName);
      pod.routeAdd({ dst: { addr: 0 as Ipv4, len: 0 }, via: gw, dev: args.ifName });
      return {
        cniVersion: "1.0.0",
        interfaces: [{ name: args.ifName, mac: dockerMac(ip as Ipv4), sandbox: args.netns }],
        ips: [{ address: `${formatIpv4(ip as Ipv4)}/${cfg.subnet.len}`, gateway: formatIpv4(gw), interface: 0 }],
        routes: [{ dst: "0.0.0.0/0", gw: formatIpv4(gw) }],
      };
    },
    del(args: CniArgs): void {
      for (const [a, id] of state.allocated) if (id === args.containerId) state.allocated.delete(a);
      try {
        const pod = env.sandbox(args.netns);
        if (pod.devices.has(args.ifName)) pod.linkDel(args.ifName);
      } catch {
        // the sandbox is gone already
      }
    },
    check(args: CniArgs): void {
      if (![...state.allocated.values()].includes(args.containerId)) throw new CniError(100, `no endpoint for container ${args.containerId}`);
    },
  };
}

function rng7(rng: Rng): string {
  return rng.uint32().toString(16).padStart(8, "0").slice(0, 7);
}
