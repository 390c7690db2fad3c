/**
 * @module kernel/devices/fdb
 * A Linux bridge's forwarding database (`net/bridge/br_fdb.c`): permanent "local" entries for the
 * bridge's and each port's own MAC, entries learned from the source MAC of frames entering a
 * port (refreshed on every frame, aged out after `ageing_time` of idle virtual time), and static
 * entries added with `bridge fdb add … master`.
 */
import { type Mac } from "../../net/addr.js";
import { CopyOnRead } from "../copy-on-read.js";

/** One FDB entry. `port` undefined means the bridge device itself. */
export interface FdbEntry {
  readonly mac: Mac;
  port: string | undefined;
  /** A local (own-address) entry: frames to it are delivered up to the host. */
  readonly local: boolean;
  /** Never ages (local entries and `bridge fdb add … static|permanent`). */
  readonly permanent: boolean;
  updatedAt: number;
}

/** The FDB of one bridge. Iteration order is insertion order (the kernel's is hash order). */
export class Fdb {
  private byMac: Map<Mac, FdbEntry> = new Map();

  /** Entries still alive at `now` (expired learned entries are removed, as the gc timer does). */
  entries(now: number, ageingMs: number): FdbEntry[] {
    this.expire(now, ageingMs);
    return [...this.byMac.values()];
  }

  /** The entry for a MAC, if alive. */
  lookup(mac: Mac, now: number, ageingMs: number): FdbEntry | undefined {
    const e = this.byMac.get(mac);
    if (e && !e.permanent && now - e.updatedAt >= ageingMs) {
      this.byMac.delete(mac);
      return undefined;
    }
    return e;
  }

  /** Adds a local entry (`fdb_add_local`); an existing local entry is kept. */
  addLocal(mac: Mac, port: string | undefined, now: number): void {
    const e = this.byMac.get(mac);
    if (e?.local) return;
    this.byMac.set(mac, { mac, port, local: true, permanent: true, updatedAt: now });
  }

  /** Adds a static entry (`bridge fdb add MAC dev PORT master static`). */
  addStatic(mac: Mac, port: string, now: number): void {
    this.byMac.set(mac, { mac, port, local: false, permanent: true, updatedAt: now });
  }

  /**
   * Learns `mac` on `port` (`br_fdb_update`): a new entry, or a refresh that may move it to the
   * new port. Local and static entries are never overwritten. Returns true when the table changed.
   */
  learn(mac: Mac, port: string, now: number): boolean {
    const e = this.byMac.get(mac);
    if (e?.permanent) return false;
    if (e) {
      const moved = e.port !== port;
      e.port = port;
      e.updatedAt = now;
      return moved;
    }
    this.byMac.set(mac, { mac, port, local: false, permanent: false, updatedAt: now });
    return true;
  }

  /** Removes every entry for a port (port removed from the bridge). */
  flushPort(port: string): void {
    for (const [k, e] of this.byMac) if (e.port === port) this.byMac.delete(k);
  }

  /** Removes a local entry for `mac` (the bridge's own address changed). */
  removeLocal(mac: Mac, port: string | undefined): void {
    const e = this.byMac.get(mac);
    if (e?.local && e.port === port) this.byMac.delete(mac);
  }

  private expire(now: number, ageingMs: number): void {
    for (const [k, e] of this.byMac) if (!e.permanent && now - e.updatedAt >= ageingMs) this.byMac.delete(k);
  }

  /**
   * A copy whose entries are copied when first read (kernel/copy-on-read.ts): a trace's copy of a
   * node reads the few MACs its frames carry, not the bridge's every port. As with the namespaces,
   * this FDB must not change while the copy is in use.
   */
  clone(): Fdb {
    const f = new Fdb();
    f.byMac = new CopyOnRead(this.byMac, (e) => ({ ...e })) as Map<string, FdbEntry> as Map<Mac, FdbEntry>;
    return f;
  }
}
