/**
 * @module cni/host-local
 * The host-local IPAM plugin (containernetworking/plugins, plugins/ipam/host-local), exactly as
 * dataplane.md §3 describes it: range canonicalisation with the plugin's errors, round-robin
 * allocation from `last_reserved_ip.<n>` that skips the gateway and does not reuse a released
 * address until it wraps, one allocation per container ID and interface, and the exhaustion text.
 * The on-disk store is an in-memory map holding what the files would hold.
 */
import { formatIpv4, ipv4, parseIpv4, type Ipv4 } from "../net/addr.js";
import { cidrBroadcast, cidrContains, formatCidr, parseCidrLoose, type Cidr } from "../net/cidr.js";
import { CniError, type CniArgs, type CniPlugin, type CniResult } from "./contract.js";

/** One `ranges` entry of the IPAM config. */
export interface RangeConf {
  readonly subnet: string;
  readonly rangeStart?: string;
  readonly rangeEnd?: string;
  readonly gateway?: string;
}

/** The `ipam` section (`"type": "host-local"`). */
export interface HostLocalConf {
  /** The network name (the directory under dataDir: `cbr0` for flannel). */
  readonly name: string;
  readonly ranges: readonly (readonly RangeConf[])[];
  readonly routes?: readonly { readonly dst: string; readonly gw?: string }[];
  /** A requested address (`ips` capability / CNI_ARGS IP=). */
  readonly requestedIp?: string;
}

/** A canonical range. */
export interface Range {
  readonly subnet: Cidr;
  readonly start: Ipv4;
  readonly end: Ipv4;
  readonly gateway: Ipv4;
}

/** `Range.Canonicalize()`; throws CniError with the plugin's text. */
export function canonicalizeRange(r: RangeConf): Range {
  const parsed = parseCidrLoose(r.subnet);
  if (!parsed.ok) throw new CniError(11, `invalid CIDR ${r.subnet}`);
  const subnet = parsed.value;
  const [addrText = ""] = r.subnet.split("/");
  const given = parseIpv4(addrText);
  if (given.ok && given.value !== subnet.addr) {
    throw new CniError(11, `Network has host bits set. For a subnet mask of length ${subnet.len} the network address is ${formatIpv4(subnet.addr)}`);
  }
  if (subnet.len > 30) throw new CniError(11, `Network ${formatCidr(subnet)} too small to allocate from`);
  const addr = (text: string | undefined, dflt: Ipv4, what: string): Ipv4 => {
    if (text === undefined) return dflt;
    const a = parseIpv4(text);
    if (!a.ok || !cidrContains(subnet, a.value)) throw new CniError(11, `${what} ${text} not in network ${formatCidr(subnet)}`);
    return a.value;
  };
  const gateway = addr(r.gateway, ipv4(subnet.addr + 1), "gateway");
  const start = addr(r.rangeStart, ipv4(subnet.addr + 1), "RangeStart");
  const end = addr(r.rangeEnd, ipv4(cidrBroadcast(subnet) - 1), "RangeEnd");
  return { subnet, start, end, gateway };
}

/** `10.244.0.1-10.244.0.254[,…]`, as the plugin prints a range set. */
export function formatRangeSet(rs: readonly Range[]): string {
  return rs.map((r) => `${formatIpv4(r.start)}-${formatIpv4(r.end)}`).join(",");
}

/** The state of one node's `/var/lib/cni/networks/<name>/` directories. */
export class HostLocalStore {
  /** network → ip → file content (`<id>\r\n<ifname>`). */
  readonly files = new Map<string, Map<number, string>>();
  /** network → range set index → last reserved address. */
  readonly lastReserved = new Map<string, Map<number, Ipv4>>();

  /** The allocations of a network. */
  dir(network: string): Map<number, string> {
    let d = this.files.get(network);
    if (!d) {
      d = new Map();
      this.files.set(network, d);
    }
    return d;
  }

  /** A listing as `ls` would show the directory (addresses, last_reserved_ip.N, lock). */
  listing(network: string): string[] {
    const out = [...this.dir(network).keys()].sort((a, b) => a - b).map((a) => formatIpv4(ipv4(a)));
    for (const i of [...(this.lastReserved.get(network)?.keys() ?? [])].sort()) out.push(`last_reserved_ip.${i}`);
    if (this.files.has(network)) out.push("lock");
    return out;
  }
}

function inRangeSet(rs: readonly Range[], a: number): number {
  return rs.findIndex((r) => a >= r.start && a <= r.end && cidrContains(r.subnet, ipv4(a)));
}

/** Allocates one address from a range set (index `setIndex`) for `id`/`ifName`. */
export function allocate(store: HostLocalStore, network: string, setIndex: number, rs: readonly Range[], id: string, ifName: string, requested?: Ipv4): Range & { readonly ip: Ipv4 } {
  const dir = store.dir(network);
  const owner = `${id}\r\n${ifName}`;
  // The directory is read for the owner's files first: a node holds up to its pod capacity of them.
  let owned = false;
  for (const content of dir.values()) if (content === owner) owned = true;
  if (owned) {
    for (const [a, content] of dir) {
      if (content === owner && inRangeSet(rs, a) >= 0) throw new CniError(18, `${formatIpv4(ipv4(a))} has been allocated to ${id}, duplicate allocation is not allowed`);
    }
  }
  const reserve = (a: number, r: Range): Range & { readonly ip: Ipv4 } => {
    dir.set(a, owner);
    let last = store.lastReserved.get(network);
    if (!last) {
      last = new Map();
      store.lastReserved.set(network, last);
    }
    last.set(setIndex, ipv4(a));
    return { ...r, ip: ipv4(a) };
  };
  if (requested !== undefined) {
    const i = inRangeSet(rs, requested);
    if (i < 0) throw new CniError(18, `requested IP address ${formatIpv4(requested)} is not available in range set ${formatRangeSet(rs)}`);
    const r = rs[i] as Range;
    if (requested === r.gateway) throw new CniError(18, `requested ip ${formatIpv4(requested)} is subnet's gateway`);
    if (dir.has(requested)) throw new CniError(18, `requested IP address ${formatIpv4(requested)} is not available in range set ${formatRangeSet(rs)}`);
    return reserve(requested, r);
  }
  const last = store.lastReserved.get(network)?.get(setIndex);
  let ri = 0;
  let cur: number;
  const li = last === undefined ? -1 : inRangeSet(rs, last);
  if (li >= 0) {
    ri = li;
    cur = (last as number) + 1;
  } else {
    cur = (rs[0] as Range).start;
  }
  const total = rs.reduce((n, r) => n + (r.end - r.start + 1), 0);
  for (let step = 0; step <= total; step += 1) {
    let r = rs[ri] as Range;
    if (cur > r.end) {
      ri = (ri + 1) % rs.length;
      r = rs[ri] as Range;
      cur = r.start;
    }
    if (cur !== r.gateway && !dir.has(cur)) return reserve(cur, r);
    cur += 1;
  }
  throw new CniError(18, `no IP addresses available in range set: ${formatRangeSet(rs)}`);
}

/** The plugin, over one node's store. */
export function hostLocal(store: HostLocalStore): CniPlugin<HostLocalConf> {
  return {
    type: "host-local",
    add(args: CniArgs, conf: HostLocalConf): CniResult {
      const ips: { address: string; gateway: string }[] = [];
      const requested = conf.requestedIp !== undefined ? parseIpv4(conf.requestedIp) : undefined;
      if (requested && !requested.ok) throw new CniError(11, `invalid IP ${conf.requestedIp}`);
      const sets = conf.ranges.map((set, i) =>
        set.map((r) => {
          try {
            return canonicalizeRange(r);
          } catch (e) {
            if (e instanceof CniError) throw new CniError(e.code, `invalid range set ${i}: ${e.message}`);
            throw e;
          }
        }),
      );
      sets.forEach((rs, i) => {
        let got;
        try {
          got = allocate(store, conf.name, i, rs, args.containerId, args.ifName, requested?.ok ? requested.value : undefined);
        } catch (e) {
          if (e instanceof CniError) throw new CniError(e.code, `failed to allocate for range ${i}: ${e.message}`);
          throw e;
        }
        ips.push({ address: `${formatIpv4(got.ip)}/${got.subnet.len}`, gateway: formatIpv4(got.gateway) });
      });
      return { cniVersion: "1.0.0", ips, ...(conf.routes ? { routes: conf.routes } : {}), dns: {} };
    },
    del(args: CniArgs, conf: HostLocalConf): void {
      const dir = store.dir(conf.name);
      for (const [a, content] of [...dir]) {
        if (content === `${args.containerId}\r\n${args.ifName}` || content.trim() === args.containerId) dir.delete(a);
      }
    },
    check(args: CniArgs, conf: HostLocalConf): void {
      const dir = store.dir(conf.name);
      const owner = `${args.containerId}\r\n${args.ifName}`;
      if (![...dir.values()].includes(owner)) throw new CniError(11, `host-local: Failed to find address added by container ${args.containerId}`);
    },
  };
}
