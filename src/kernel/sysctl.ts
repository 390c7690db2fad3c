/**
 * @module kernel/sysctl
 * The sysctls the model honours, with the kernel's propagation rules: writing
 * `net.ipv4.ip_forward` (or `conf.all.forwarding`) sets `forwarding` on `all`, `default` and every
 * interface (`devinet_sysctl_forward`); a new interface copies `default`; rp_filter's effective
 * value is max(all, IF), route_localnet and proxy_arp are all || IF.
 */
import { KernelError } from "./errors.js";
import type { IfConf, RpFilter, Sysctls } from "./types.js";

const DEFAULT_CONF: IfConf = { forwarding: false, rpFilter: 0, routeLocalnet: false, proxyArp: false };

/** A new namespace's sysctls (br_netfilter loaded: bridge-nf-call-iptables = 1). */
export function freshSysctls(): Sysctls {
  return { all: { ...DEFAULT_CONF }, default: { ...DEFAULT_CONF }, perIf: new Map(), bridgeNfCallIptables: true, defaultTtl: 64, icmpEchoIgnoreAll: false };
}

/** `sysctl -w KEY=VALUE` for the keys this model honours; any other key is refused by name. */
export function setSysctl(sysctls: Sysctls, key: string, value: string | number | boolean): void {
  const v = typeof value === "boolean" ? (value ? 1 : 0) : Number(value);
  const bool = (): boolean => {
    if (v !== 0 && v !== 1) throw new KernelError(`sysctl: setting key "${key}": Invalid argument`);
    return v === 1;
  };
  if (key === "net.ipv4.ip_forward") {
    // devinet_sysctl_forward: writing ip_forward sets all.forwarding and every interface's.
    const on = bool();
    sysctls.all.forwarding = on;
    sysctls.default.forwarding = on;
    for (const c of sysctls.perIf.values()) c.forwarding = on;
    return;
  }
  if (key === "net.bridge.bridge-nf-call-iptables") {
    sysctls.bridgeNfCallIptables = bool();
    return;
  }
  if (key === "net.ipv4.ip_default_ttl") {
    if (!Number.isInteger(v) || v < 1 || v > 255) throw new KernelError(`sysctl: setting key "${key}": Invalid argument`);
    sysctls.defaultTtl = v;
    return;
  }
  if (key === "net.ipv4.icmp_echo_ignore_all") {
    sysctls.icmpEchoIgnoreAll = bool();
    return;
  }
  const m = /^net\.ipv4\.conf\.([^.]+)\.(forwarding|rp_filter|route_localnet|proxy_arp)$/.exec(key);
  if (!m) throw new KernelError(`sysctl: cannot stat /proc/sys/${key.replaceAll(".", "/")}: No such file or directory (podwire models: net.ipv4.ip_forward, net.ipv4.conf.IF.{forwarding,rp_filter,route_localnet,proxy_arp}, net.bridge.bridge-nf-call-iptables, net.ipv4.ip_default_ttl, net.ipv4.icmp_echo_ignore_all)`);
  const [, ifname, field] = m as unknown as [string, string, string];
  const conf = ifname === "all" ? sysctls.all : ifname === "default" ? sysctls.default : sysctls.perIf.get(ifname);
  if (!conf) throw new KernelError(`sysctl: cannot stat /proc/sys/${key.replaceAll(".", "/")}: No such file or directory`);
  if (field === "rp_filter") {
    if (v !== 0 && v !== 1 && v !== 2) throw new KernelError(`sysctl: setting key "${key}": Invalid argument`);
    conf.rpFilter = v as RpFilter;
  } else if (field === "forwarding") {
    conf.forwarding = bool();
    if (ifname === "all") {
      // Writing all.forwarding propagates like ip_forward does.
      sysctls.default.forwarding = conf.forwarding;
      for (const c of sysctls.perIf.values()) c.forwarding = conf.forwarding;
    }
  } else if (field === "route_localnet") conf.routeLocalnet = bool();
  else conf.proxyArp = bool();
}

/** The effective conf of an interface: rp_filter = max(all, IF); route_localnet and proxy_arp = all || IF. */
export function effectiveConf(sysctls: Sysctls, dev: string): IfConf {
  const c = sysctls.perIf.get(dev) ?? sysctls.default;
  const a = sysctls.all;
  return { forwarding: c.forwarding, rpFilter: Math.max(a.rpFilter, c.rpFilter) as RpFilter, routeLocalnet: a.routeLocalnet || c.routeLocalnet, proxyArp: a.proxyArp || c.proxyArp };
}

/** The forwarding and proxy_arp bits of every conf, as one string to compare (who answers an ARP request). */
export function arpConfKey(s: Sysctls): string {

  let out = `${+s.all.forwarding}${+s.all.proxyArp}${+s.default.forwarding}${+s.default.proxyArp}`;
  for (const c of s.perIf.values()) out += `${+c.forwarding}${+c.proxyArp}`;
  return out;
}

