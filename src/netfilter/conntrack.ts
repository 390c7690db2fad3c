/**
 * @module netfilter/conntrack
 * The connection tracking table of one network namespace (nf_conntrack): entries with an
 * ORIGINAL and a REPLY tuple, a state, status bits, a mark and a timeout on the virtual clock.
 *
 * NAT is decided once, on a connection's first packet, and stored in the entry: the REPLY tuple
 * is the inverse of the translated tuple, so every later packet — either direction — is
 * rewritten from the entry without consulting the nat table again (gVisor `conntrack.go`,
 * Linux `nf_nat_core.c`). A packet that matches an entry's REPLY tuple is a reply: its source is
 * un-DNATed and its destination un-SNATed.
 */
import { formatIpv4 } from "../net/addr.js";
import { replyOf, tupleKey, type Tuple } from "../net/tuple.js";

/** Kernel defaults (seconds), `nf_conntrack_*_timeout*`; kube-proxy lowers TCP established to 86400. */
export const CT_TIMEOUTS = {
  tcpSynSent: 120,
  tcpEstablished: 432000,
  udpUnreplied: 30,
  udpStream: 120,
  icmp: 30,
} as const;

/** One tracked connection. */
export interface CtEntry {
  readonly orig: Tuple;
  /** The tuple replies carry (after NAT). */
  reply: Tuple;
  /** SEEN_REPLY, ASSURED, CONFIRMED, DST_NAT, SRC_NAT. */
  readonly status: Set<string>;
  mark: number;
  /** Virtual time (ms) at which the entry expires. */
  expiresAt: number;
  /** TCP connection state as `conntrack -L` prints it (SYN_SENT, SYN_RECV, ESTABLISHED, CLOSE …). */
  tcpState?: string;
  /** Virtual time the entry was made (UDP streams are recognised 2 s after it). */
  createdAt?: number;
}

/** Which way a packet travels on an entry. */
export type CtDir = "ORIGINAL" | "REPLY";

/** A namespace's conntrack table. */
export class Conntrack {
  private readonly byKey = new Map<string, { entry: CtEntry; dir: CtDir }>();

  /** All live entries (each once). */
  entries(now: number): CtEntry[] {
    const seen = new Set<CtEntry>();
    for (const { entry } of this.byKey.values()) {
      if (entry.expiresAt > now) seen.add(entry);
    }
    return [...seen];
  }

  /** Finds the entry a packet with tuple `t` belongs to, and its direction; expired entries are gone. */
  lookup(t: Tuple, now: number): { entry: CtEntry; dir: CtDir } | undefined {
    const hit = this.byKey.get(tupleKey(t));
    if (!hit) return undefined;
    if (hit.entry.expiresAt <= now) {
      this.remove(hit.entry);
      return undefined;
    }
    return hit;
  }

  /** Creates an unconfirmed entry for a first packet; the reply tuple starts as the plain inverse. */
  create(orig: Tuple, now: number): CtEntry {
    const timeout = orig.proto === "tcp" ? CT_TIMEOUTS.tcpSynSent : orig.proto === "udp" ? CT_TIMEOUTS.udpUnreplied : CT_TIMEOUTS.icmp;
    return { orig, reply: replyOf(orig), status: new Set(), mark: 0, expiresAt: now + timeout * 1000, createdAt: now };
  }

  /** Confirms an entry (POSTROUTING/INPUT confirm): it becomes visible to lookups in both directions. */
  confirm(e: CtEntry): void {
    e.status.add("CONFIRMED");
    this.byKey.set(tupleKey(e.orig), { entry: e, dir: "ORIGINAL" });
    this.byKey.set(tupleKey(e.reply), { entry: e, dir: "REPLY" });
  }

  /**
   * Records that a reply was seen (the connection is now ESTABLISHED). The reply itself refreshes
   * a UDP or ICMP entry with the unreplied timeout (udp_packet runs before SEEN_REPLY is set);
   * TCP timeouts follow the TCP state instead.
   */
  seenReply(e: CtEntry, now: number): void {
    e.status.add("SEEN_REPLY");
    if (e.orig.proto === "udp") e.expiresAt = now + CT_TIMEOUTS.udpUnreplied * 1000;
    else if (e.orig.proto === "icmp") e.expiresAt = now + CT_TIMEOUTS.icmp * 1000;
  }

  /** A later packet of a UDP connection that has seen a reply: after 2 s it is a stream (ASSURED, 120 s). */
  udpRefresh(e: CtEntry, now: number, createdAt: number): void {
    if (!e.status.has("SEEN_REPLY")) {
      e.expiresAt = now + CT_TIMEOUTS.udpUnreplied * 1000;
      return;
    }
    if (now > createdAt + 2000) {
      e.status.add("ASSURED");
      e.expiresAt = now + CT_TIMEOUTS.udpStream * 1000;
    } else e.expiresAt = now + CT_TIMEOUTS.udpUnreplied * 1000;
  }

  /** True if `t` is already used as some entry's tuple (NAT must not collide). */
  inUse(t: Tuple): boolean {
    return this.byKey.has(tupleKey(t));
  }

  /** Deletes an entry (`conntrack -D`). */
  remove(e: CtEntry): void {
    this.byKey.delete(tupleKey(e.orig));
    this.byKey.delete(tupleKey(e.reply));
  }

  /** A deep copy, so a trace can run without changing the cluster's table. */
  clone(): Conntrack {
    const c = new Conntrack();
    const copies = new Map<CtEntry, CtEntry>();
    for (const [k, v] of this.byKey) {
      let e = copies.get(v.entry);
      if (!e) {
        e = { ...v.entry, status: new Set(v.entry.status) };
        copies.set(v.entry, e);
      }
      c.byKey.set(k, { entry: e, dir: v.dir });
    }
    return c;
  }
}

function tupleText(t: Tuple): string {
  const ports = t.proto === "icmp" ? `type=8 code=0 id=${t.sport}` : `sport=${t.sport} dport=${t.dport}`;
  return `src=${formatIpv4(t.src)} dst=${formatIpv4(t.dst)} ${ports}`;
}

/**
 * One line as `conntrack -L` (conntrack-tools 1.4.7) prints it — compared with the real tool in
 * test/oracle/conntrack-format.test.ts — e.g.
 * `udp      17 29 src=10.244.0.2 dst=10.96.0.10 sport=40000 dport=53 [UNREPLIED] src=10.244.0.3 dst=10.244.0.2 sport=53 dport=40000 mark=0 use=1`.
 */
export function formatConntrackLine(e: CtEntry, now: number): string {
  const num = e.orig.proto === "tcp" ? 6 : e.orig.proto === "udp" ? 17 : 1;
  const secs = Math.max(0, Math.floor((e.expiresAt - now) / 1000));
  const state = e.orig.proto === "tcp" ? ` ${e.tcpState ?? (e.status.has("SEEN_REPLY") ? "ESTABLISHED" : "SYN_SENT")}` : "";
  const unrep = e.status.has("SEEN_REPLY") ? "" : " [UNREPLIED]";
  const assured = e.status.has("ASSURED") ? " [ASSURED]" : "";
  const replyText = e.orig.proto === "icmp" ? tupleText(e.reply).replace("type=8", "type=0") : tupleText(e.reply);
  return `${e.orig.proto.padEnd(8)} ${num} ${secs}${state} ${tupleText(e.orig)}${unrep} ${replyText}${assured} mark=${e.mark} use=1`;
}
