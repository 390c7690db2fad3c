/**
 * @module node/sandboxes
 * One node's pod sandboxes whose devices wait (DESIGN decision 5): the CNI ADD has decided its
 * answer (cni/bridge.ts `DeferredDevices`), and the sandbox's namespace and veth pair are made,
 * in ADD order and as of the ADD's virtual time, when the node is next read or changed
 * (node/dataplane.ts calls `flush`). test/node/lazy-sandboxes.test.ts checks that the end state is
 * the one the ADDs would have left at once.
 */
import type { DeferredDevices } from "../cni/bridge.js";
import type { Network } from "../kernel/network.js";
import type { NetNs } from "../kernel/netns.js";

/** The waiting sandboxes of one node. */
export class WaitingSandboxes implements DeferredDevices {
  /** Device ops the ADDs left, in ADD order, with the virtual time of each ADD. */
  private ops: { readonly at: number; readonly op: () => void }[] = [];
  /** Host-side device names the ops will make. */
  private readonly names = new Set<string>();
  /** The runtime's part of each waiting sandbox (its namespace with lo up), as it stood at the ADD. */
  private readonly namespaces = new Map<string, () => void>();

  constructor(private readonly net: Network) {}

  defer(op: () => void): void {
    this.ops.push({ at: this.net.now(), op });
  }

  flush(): void {
    if (this.ops.length === 0) return;
    const ops = this.ops;
    this.ops = [];
    for (const { at, op } of ops) this.net.at(at, op);
    this.names.clear();
  }

  pending(name: string): boolean {
    return this.names.has(name);
  }

  claim(name: string): void {
    this.names.add(name);
  }

  /** Holds back the making of a sandbox's namespace until its devices (or the plugin) need it. */
  hold(netns: string, make: () => void): void {
    this.namespaces.set(netns, make);
  }

  /** Forgets a held namespace whose ADD failed before it was needed. */
  drop(netns: string): void {
    this.namespaces.delete(netns);
  }

  /** A sandbox's namespace, made now if it was held. */
  sandbox(netns: string): NetNs {
    const make = this.namespaces.get(netns);
    if (make) {
      this.namespaces.delete(netns);
      make();
    }
    return this.net.ns(netns);
  }
}
