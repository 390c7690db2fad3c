/**
 * @module cluster/controllers/endpointslice
 * The EndpointSlice controller: for every Service with a selector, slices named `<service>-<5
 * chars>` holding the selected pods that have an IP and are not finished, grouped by their resolved
 * port set (a named targetPort resolves per pod), at most 100 endpoints per slice. Conditions follow
 * `ShouldPodBeInEndpoints` and the terminating-endpoints rules: ready = pod Ready and not
 * terminating (or publishNotReadyAddresses), serving = pod Ready, terminating = deletionTimestamp.
 * Services without a selector keep the slices their manifests provide.
 * @see k8s.io/kubernetes/pkg/controller/endpointslice/reconciler.go; endpointslice/util
 */
import { keyOf, mapSelectorMatches } from "../api/meta.js";
import type { Endpoint, EndpointPort, EndpointSlice, Pod, Service, ServicePort } from "../api/types.js";
import type { Action, Controller, View } from "./types.js";
import { isPodReady, ownerRef } from "./pods.js";
import { jsonEqual } from "../api/equal.js";

/** Label linking a slice to its Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
/** Label naming the slice's manager. */
export const MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by";
/** This controller's manager value. */
export const MANAGED_BY = "endpointslice-controller.k8s.io";
/** Endpoints per slice (`--max-endpoints-per-slice` default). */
export const MAX_ENDPOINTS_PER_SLICE = 100;

/** `podutil.FindPort`: the container port a service port's targetPort names on this pod. */
export function findPort(pod: Pod, sp: ServicePort): number | undefined {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === "number") return tp;
  if (/^\d+$/.test(tp)) return Number(tp);
  for (const c of pod.spec.containers) {
    for (const p of c.ports ?? []) if (p.name === tp && (p.protocol ?? "TCP") === (sp.protocol ?? "TCP")) return p.containerPort;
  }
  return undefined;
}

// A pod's endpoint, kept while the pod object (a store snapshot, never mutated) is current: a
// reconcile then hands back the same endpoint objects the stored slice holds, and comparing the
// desired slice with it is a reference check per endpoint.
const endpointCache = new WeakMap<Pod, { readonly publish: boolean; readonly zone: string | undefined; readonly endpoint: Endpoint }>();

function endpointFor(pod: Pod, svc: Service, view: View): Endpoint {
  const publish = svc.spec.publishNotReadyAddresses === true;
  const node = pod.spec.nodeName ? view.get("Node", pod.spec.nodeName) : undefined;
  const zone = node?.metadata.labels?.["topology.kubernetes.io/zone"];
  const hit = endpointCache.get(pod);
  if (hit && hit.publish === publish && hit.zone === zone) return hit.endpoint;
  const terminating = pod.metadata.deletionTimestamp !== undefined;
  const ready = publish || (isPodReady(pod) && !terminating);
  const serving = publish || isPodReady(pod);
  const endpoint: Endpoint = {
    addresses: [pod.status?.podIP as string],
    conditions: { ready, serving, terminating },
    ...(pod.spec.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    targetRef: { kind: "Pod", namespace: pod.metadata.namespace as string, name: pod.metadata.name, uid: pod.metadata.uid as string },
    ...(zone ? { zone } : {}),
  };
  endpointCache.set(pod, { publish, zone, endpoint });
  return endpoint;
}

/** The desired endpoints of a Service grouped by port set: `portsKey → {ports, endpoints}`. */
export function desiredSlices(svc: Service, view: View): Map<string, { ports: EndpointPort[]; endpoints: Endpoint[] }> {
  const out = new Map<string, { ports: EndpointPort[]; endpoints: Endpoint[] }>();
  const ns = svc.metadata.namespace ?? "";
  const [first] = Object.entries(svc.spec.selector ?? {});
  // The pods carrying the selector's first label, then the whole selector (the same set as a scan).
  const candidates = first ? view.indexed("Pod", "label", `${ns}\0${first[0]}=${first[1]}`) : view.list("Pod", svc.metadata.namespace);
  const pods = candidates.filter((p) => mapSelectorMatches(svc.spec.selector ?? {}, p.metadata.labels) && p.status?.podIP && p.status.phase !== "Succeeded" && p.status.phase !== "Failed");
  for (const pod of pods) {
    const ports: EndpointPort[] = [];
    for (const sp of svc.spec.ports ?? []) {
      const port = findPort(pod, sp);
      if (port === undefined) continue;
      ports.push({ name: sp.name ?? "", port, protocol: sp.protocol ?? "TCP", ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
    }
    let key = "";
    for (const p of ports) key += `${p.name}\0${p.port}\0${p.protocol}\0${p.appProtocol ?? ""}\n`;
    let g = out.get(key);
    if (!g) {
      g = { ports, endpoints: [] };
      out.set(key, g);
    }
    g.endpoints.push(endpointFor(pod, svc, view));
  }
  return out;
}

function sliceLabels(svc: Service): Record<string, string> {
  const own = { ...(svc.metadata.labels ?? {}) };
  const headless = svc.spec.clusterIP === "None" ? { "service.kubernetes.io/headless": "" } : {};
  return { ...own, ...headless, [SERVICE_NAME_LABEL]: svc.metadata.name, [MANAGED_BY_LABEL]: MANAGED_BY };
}

/** The controller. */
export const endpointSliceController: Controller = {
  name: "endpointslice-controller",
  keysFor(e, view) {
    const o = e.object;
    if (o.kind === "Service") return [keyOf(o)];
    if (o.kind === "Pod") {
      // Services whose selector shares a label with the pod, then the whole selector.
      const ns = o.metadata.namespace ?? "";
      const keys = new Set<string>();
      for (const [k, v] of Object.entries(o.metadata.labels ?? {})) {
        for (const s of view.indexed("Service", "selector", `${ns}\0${k}=${v}`)) if (mapSelectorMatches(s.spec.selector ?? {}, o.metadata.labels)) keys.add(keyOf(s));
      }
      return [...keys].sort();
    }
    if (o.kind === "EndpointSlice" && o.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY) return [`${o.metadata.namespace}/${o.metadata.labels[SERVICE_NAME_LABEL] ?? ""}`];
    return [];
  },
  reconcile(key, view) {
    const svc = view.get("Service", key);
    const [ns = ""] = key.split("/");
    const name = key.slice(ns.length + 1);
    const existing = view.indexed("EndpointSlice", "service", `${ns}/${name}`).filter((s) => s.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY);
    const actions: Action[] = [];
    if (!svc || !svc.spec.selector || Object.keys(svc.spec.selector).length === 0 || svc.spec.type === "ExternalName") {
      for (const s of existing) actions.push({ type: "delete", kind: "EndpointSlice", key: keyOf(s) });
      return actions;
    }
    const desired: { ports: EndpointPort[]; endpoints: Endpoint[] }[] = [];
    for (const g of desiredSlices(svc, view).values()) {
      const sorted = [...g.endpoints].sort((a, b) => ((a.targetRef?.name ?? "") < (b.targetRef?.name ?? "") ? -1 : 1));
      for (let i = 0; i < sorted.length; i += MAX_ENDPOINTS_PER_SLICE) desired.push({ ports: g.ports, endpoints: sorted.slice(i, i + MAX_ENDPOINTS_PER_SLICE) });
    }
    if (desired.length === 0) desired.push({ ports: [], endpoints: [] });
    const pool = [...existing];
    const labels = sliceLabels(svc);
    for (const d of desired) {
      const body = { addressType: "IPv4" as const, endpoints: d.endpoints, ports: d.ports.length > 0 ? d.ports : null };
      const same = pool.findIndex((s) => s.addressType === body.addressType && jsonEqual(s.ports ?? null, body.ports) && jsonEqual(s.metadata.labels, labels) && jsonEqual(s.endpoints, body.endpoints));
      if (same >= 0) {
        pool.splice(same, 1);
        continue;
      }
      const reuse = pool.shift();
      if (reuse) {
        actions.push({ type: "update", object: { ...reuse, metadata: { ...reuse.metadata, labels }, ...body } });
      } else {
        const slice: EndpointSlice = {
          apiVersion: "discovery.k8s.io/v1",
          kind: "EndpointSlice",
          metadata: { name: "", generateName: `${svc.metadata.name}-`, namespace: ns, labels, annotations: {}, ownerReferences: [ownerRef(svc)] },
          ...body,
        };
        actions.push({ type: "create", object: slice });
      }
    }
    for (const s of pool) actions.push({ type: "delete", kind: "EndpointSlice", key: keyOf(s) });
    return actions;
  },
};
