/**
 * @module kernel/device-table
 * A namespace's devices by name. A trace copies 2-4 node namespaces of 30 or more devices each
 * and changes almost none, so a copy shares with its source both the map and the device objects
 * until either side changes them: the map is copied on the first add or removal, a device on
 * its first change (`mutable`). Either side may change after the copy is made.
 */
import type { Device } from "./types.js";

export class DeviceTable {
  private map = new Map<string, Device>();
  /** The map object is also another table's. */
  private mapShared = false;
  /** The device objects may also be another table's, except those named in `own`. */
  private objectsShared = false;
  private own: Set<string> | undefined;

  /** The devices as they stand (read only; the object changes when the map is copied). */
  get current(): ReadonlyMap<string, Device> {
    return this.map;
  }

  /** A copy sharing everything with this table until either side changes it. */
  copy(): DeviceTable {
    const c = new DeviceTable();
    c.map = this.map;
    c.mapShared = this.mapShared = true;
    c.objectsShared = this.objectsShared = true;
    this.own = undefined;
    return c;
  }

  /** Adds a device made for this table (it is this table's own). */
  add(d: Device): void {
    this.writable().set(d.name, d);
    if (this.objectsShared) (this.own ??= new Set()).add(d.name);
  }

  remove(name: string): void {
    this.writable().delete(name);
  }

  /** `d` (a device of this table) ready to change: copied first if another table may share it. */
  mutable(d: Device): Device {
    if (!this.objectsShared) return d;
    const own = (this.own ??= new Set());
    if (own.has(d.name)) return d;
    const c = { ...d };
    this.writable().set(d.name, c);
    own.add(d.name);
    return c;
  }

  private writable(): Map<string, Device> {
    if (this.mapShared) {
      this.map = new Map(this.map);
      this.mapShared = false;
    }
    return this.map;
  }
}
