/**
 * @module cluster/controllers/load-balancer
 * LoadBalancer address assignment, as MetalLB's controller does it: a `type: LoadBalancer` Service
 * gets the lowest free address of the pool (or the one it asks for) in `status.loadBalancer.ingress`
 * with the event `IPAllocated` ("Assigned IP [\"203.0.113.0\"]"); a Service whose manifest already
 * carries an ingress keeps it. Without a pool the Service stays `<pending>`, as with no load
 * balancer implementation installed.
 * @see metallb/controller/service.go
 */
import { formatIpv4, parseIpv4, type Ipv4 } from "../../net/addr.js";
import { keyOf } from "../api/meta.js";
import type { LoadBalancerPool } from "../allocators/lb-pool.js";
import type { Service } from "../api/types.js";
import { event, type Action, type Controller } from "./types.js";

/** The controller over one pool. */
export function loadBalancerController(pool: LoadBalancerPool): Controller {
  return {
    name: "metallb-controller",
    keysFor(e) {
      return e.object.kind === "Service" ? [keyOf(e.object)] : [];
    },
    reconcile(key, view) {
      const svc = view.get("Service", key);
      if (!svc || svc.spec.type !== "LoadBalancer") {
        pool.release(key);
        if (svc && (svc.status?.loadBalancer?.ingress ?? []).length > 0) {
          return [{ type: "update", object: { ...svc, status: { loadBalancer: {} } } }];
        }
        return [];
      }
      const ingress = svc.status?.loadBalancer?.ingress ?? [];
      const existing = ingress.find((i) => i.ip !== undefined);
      if (existing?.ip && !pool.pool) return [];
      let want: Ipv4 | undefined;
      const asked = existing?.ip ?? svc.spec.loadBalancerIP;
      if (asked) {
        const a = parseIpv4(asked);
        if (a.ok) want = a.value;
      }
      if (!pool.pool) return [];
      const r = pool.assign(key, want);
      if (!r.ok) {
        if (existing?.ip) return [];
        return [event(svc, "Warning", "AllocationFailed", `Failed to allocate IP for "${key}": ${r.error}`, "metallb-controller")];
      }
      const ip = formatIpv4(r.value);
      if (existing?.ip === ip) return [];
      const status: Service["status"] = { loadBalancer: { ingress: [{ ip, ipMode: "VIP" }] } };
      const actions: Action[] = [{ type: "update", object: { ...svc, status } }, event(svc, "Normal", "IPAllocated", `Assigned IP ["${ip}"]`, "metallb-controller")];
      return actions;
    },
  };
}
