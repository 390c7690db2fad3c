/**
 * @module cluster/controllers/node-ipam
 * The node IPAM controller (range allocator): gives each node without a podCIDR the next block of
 * the cluster CIDR, in the order nodes register; records `CIDRNotAvailable` when the range is
 * exhausted (the node keeps an empty podCIDR, and flannel will refuse to start on it).
 * @see k8s.io/kubernetes/pkg/controller/nodeipam/ipam/range_allocator.go
 */
import { formatCidr } from "../../net/cidr.js";
import type { NodeCidrAllocator } from "../allocators/node-cidr.js";
import { event, type Controller } from "./types.js";

/** The controller over one allocator (undefined when `--allocate-node-cidrs` is off). */
export function nodeIpamController(alloc: NodeCidrAllocator | undefined): Controller {
  return {
    name: "node-ipam-controller",
    keysFor(e) {
      return e.object.kind === "Node" && e.type !== "DELETED" ? [e.object.metadata.name] : [];
    },
    reconcile(key, view) {
      const node = view.get("Node", key);
      if (!node || !alloc || node.spec.podCIDR) return [];
      const r = alloc.allocateNext();
      if (!r.ok) return [event(node, "Normal", "CIDRNotAvailable", `Node ${key} status is now: CIDRNotAvailable`, "cidrAllocator")];
      const cidr = formatCidr(r.value);
      return [{ type: "update", object: { ...node, spec: { ...node.spec, podCIDR: cidr, podCIDRs: [cidr] } } }];
    },
  };
}
