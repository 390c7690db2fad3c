/**
 * @module cluster/api/validate
 * Validation as the apiserver runs it on create (pkg/apis/<group>/validation), for the fields podwire
 * models, with the apiserver's field paths and messages. Returns the field errors; the apiserver
 * wraps them as `Kind "name" is invalid: …`.
 */
import { parseIpv4 } from "../../net/addr.js";
import { parseCidr } from "../../net/cidr.js";
import { parseCron } from "../cron.js";
import { FieldErrors } from "./field.js";
import { selectorMatches, type LabelSelector, type ObjectMeta } from "./meta.js";
import { dns1035Label, dns1123Label, dns1123Subdomain, labelValue, portName, qualifiedName } from "./names.js";
import { QUANTITY_MESSAGE, parseQuantity } from "./quantity.js";
import type { AnyObject, Container, CronJob, DaemonSet, Deployment, EndpointSlice, Job, Node, Pod, PodSpec, PodTemplateSpec, ReplicaSet, Service, Taint, Toleration } from "./types.js";

const PROTOCOLS = ["SCTP", "TCP", "UDP"] as const;
const PORT_RANGE = "must be between 1 and 65535, inclusive";

function validateMeta(e: FieldErrors, m: ObjectMeta, nameCheck: (v: string) => string[], path = "metadata"): void {
  if (!m.name) e.required(`${path}.name`, "name or generateName is required");
  else for (const msg of nameCheck(m.name)) e.invalid(`${path}.name`, m.name, msg);
  if (m.namespace !== undefined) for (const msg of dns1123Label(m.namespace)) e.invalid(`${path}.namespace`, m.namespace, msg);
  validateLabels(e, m.labels, `${path}.labels`);
  for (const k of Object.keys(m.annotations ?? {})) for (const msg of qualifiedName(k.toLowerCase())) e.invalid(`${path}.annotations`, k, msg);
}

function validateLabels(e: FieldErrors, labels: Readonly<Record<string, string>> | undefined, path: string): void {
  for (const [k, v] of Object.entries(labels ?? {})) {
    for (const msg of qualifiedName(k)) e.invalid(path, k, msg);
    if (typeof v !== "string") e.invalid(path, String(v), "label values must be strings");
    else for (const msg of labelValue(v)) e.invalid(path, v, msg);
  }
}

function validateSelector(e: FieldErrors, sel: LabelSelector | undefined, path: string): void {
  if (!sel) return;
  validateLabels(e, sel.matchLabels, `${path}.matchLabels`);
  (sel.matchExpressions ?? []).forEach((r, i) => {
    const p = `${path}.matchExpressions[${i}]`;
    for (const msg of qualifiedName(r.key)) e.invalid(`${p}.key`, r.key, msg);
    if (r.operator === "In" || r.operator === "NotIn") {
      if (!r.values || r.values.length === 0) e.required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'");
    } else if (r.operator === "Exists" || r.operator === "DoesNotExist") {
      if (r.values && r.values.length > 0) e.forbidden(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    } else {
      e.invalid(`${p}.operator`, r.operator, "not a valid selector operator");
    }
  });
}

function validatePort(e: FieldErrors, v: unknown, path: string): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65535) e.invalid(path, v, PORT_RANGE);
}

function validateContainer(e: FieldErrors, c: Container, path: string, hostNetwork: boolean): void {
  if (!c.name) e.required(`${path}.name`);
  else for (const msg of dns1123Label(c.name)) e.invalid(`${path}.name`, c.name, msg);
  if (!c.image) e.required(`${path}.image`);
  const names = new Set<string>();
  (c.ports ?? []).forEach((p, i) => {
    const pp = `${path}.ports[${i}]`;
    if (p.name !== undefined) {
      for (const msg of portName(p.name)) e.invalid(`${pp}.name`, p.name, msg);
      if (names.has(p.name)) e.duplicate(`${pp}.name`, p.name);
      names.add(p.name);
    }
    if (p.containerPort === undefined) e.required(`${pp}.containerPort`);
    else validatePort(e, p.containerPort, `${pp}.containerPort`);
    if (p.hostPort !== undefined && p.hostPort !== 0) validatePort(e, p.hostPort, `${pp}.hostPort`);
    if (hostNetwork && p.hostPort !== undefined && p.hostPort !== p.containerPort) e.invalid(`${pp}.containerPort`, p.containerPort, "must match `hostPort` when `hostNetwork` is true");
    if (p.protocol !== undefined && !(PROTOCOLS as readonly string[]).includes(p.protocol)) e.notSupported(`${pp}.protocol`, p.protocol, PROTOCOLS);
  });
  for (const part of ["requests", "limits"] as const) {
    for (const [k, v] of Object.entries(c.resources?.[part] ?? {})) {
      if (parseQuantity(v) === undefined) e.invalid(`${path}.resources.${part}[${k}]`, String(v), QUANTITY_MESSAGE);
    }
  }
}

function validateToleration(e: FieldErrors, t: Toleration, path: string): void {
  if (t.key) for (const msg of qualifiedName(t.key)) e.invalid(`${path}.key`, t.key, msg);
  if (!t.key && t.operator !== "Exists") e.invalid(`${path}.operator`, t.operator ?? "", "operator must be Exists when `key` is empty, which means \"match all values and all keys\"");
  if (t.operator === "Exists" && t.value) e.invalid(`${path}.operator`, "Exists", "value must be empty when `operator` is 'Exists'");
  if (t.operator !== undefined && t.operator !== "Exists" && t.operator !== "Equal") e.notSupported(`${path}.operator`, t.operator, ["Equal", "Exists"]);
  if (t.effect !== undefined && !["NoSchedule", "PreferNoSchedule", "NoExecute"].includes(t.effect)) e.notSupported(`${path}.effect`, t.effect, ["NoExecute", "NoSchedule", "PreferNoSchedule"]);
  if (t.tolerationSeconds !== undefined && t.effect !== "NoExecute") e.invalid(`${path}.effect`, t.effect ?? "", "effect must be 'NoExecute' when `tolerationSeconds` is set");
}

/** Pod spec checks (shared by pods and templates); `restartPolicies` restricts what workloads allow. */
export function validatePodSpec(e: FieldErrors, s: PodSpec | undefined, path: string, restartPolicies?: readonly string[]): void {
  if (!s) {
    e.required(path);
    return;
  }
  if (!Array.isArray(s.containers) || s.containers.length === 0) e.required(`${path}.containers`);
  const seen = new Set<string>();
  const hostNetwork = s.hostNetwork === true;
  (s.containers ?? []).forEach((c, i) => {
    validateContainer(e, c, `${path}.containers[${i}]`, hostNetwork);
    if (c.name && seen.has(c.name)) e.duplicate(`${path}.containers[${i}].name`, c.name);
    seen.add(c.name);
  });
  (s.initContainers ?? []).forEach((c, i) => validateContainer(e, c, `${path}.initContainers[${i}]`, hostNetwork));
  if (s.nodeName !== undefined) for (const msg of dns1123Subdomain(s.nodeName)) e.invalid(`${path}.nodeName`, s.nodeName, msg);
  validateLabels(e, s.nodeSelector, `${path}.nodeSelector`);
  (s.tolerations ?? []).forEach((t, i) => validateToleration(e, t, `${path}.tolerations[${i}]`));
  const rp = s.restartPolicy ?? "Always";
  if (!["Always", "OnFailure", "Never"].includes(rp)) e.notSupported(`${path}.restartPolicy`, rp, ["Always", "OnFailure", "Never"]);
  else if (restartPolicies && !restartPolicies.includes(rp)) {
    if (restartPolicies.length === 1) e.notSupported(`${path}.restartPolicy`, rp, restartPolicies);
    else e.required(`${path}.restartPolicy`, `valid values: ${restartPolicies.map((x) => `"${x}"`).join(", ")}`);
  }
}

function validateTemplate(e: FieldErrors, sel: LabelSelector | undefined, t: PodTemplateSpec | undefined, kind: string, restart: readonly string[]): void {
  if (!sel) e.required("spec.selector");
  else {
    validateSelector(e, sel, "spec.selector");
    const empty = Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0;
    if (empty) e.invalid("spec.selector", "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}", `empty selector is invalid for ${kind}`);
    else if (t && !selectorMatches(sel, t.metadata?.labels)) e.invalid("spec.template.metadata.labels", t.metadata?.labels ?? {}, "`selector` does not match template `labels`");
  }
  if (!t) {
    e.required("spec.template");
    return;
  }
  validateLabels(e, t.metadata?.labels, "spec.template.metadata.labels");
  validatePodSpec(e, t.spec, "spec.template.spec", restart);
}

function validateReplicas(e: FieldErrors, n: unknown): void {
  if (n !== undefined && (typeof n !== "number" || !Number.isInteger(n) || n < 0)) e.invalid("spec.replicas", n, "must be greater than or equal to 0");
}

function validateTaint(e: FieldErrors, t: Taint, path: string): void {
  for (const msg of qualifiedName(t.key ?? "")) e.invalid(`${path}.key`, t.key ?? "", msg);
  if (t.value) for (const msg of labelValue(t.value)) e.invalid(`${path}.value`, t.value, msg);
  if (!t.effect) e.required(`${path}.effect`);
  else if (!["NoSchedule", "PreferNoSchedule", "NoExecute"].includes(t.effect)) e.notSupported(`${path}.effect`, t.effect, ["NoSchedule", "PreferNoSchedule", "NoExecute"]);
}

function validateServicePorts(e: FieldErrors, s: Service): void {
  const type = s.spec.type ?? "ClusterIP";
  const ports = s.spec.ports ?? [];
  if (ports.length === 0 && type !== "ExternalName" && !(s.spec.clusterIP === "None" && !s.spec.selector)) e.required("spec.ports");
  const names = new Set<string>();
  const keys = new Set<string>();
  ports.forEach((p, i) => {
    const pp = `spec.ports[${i}]`;
    if (ports.length > 1 && !p.name) e.required(`${pp}.name`);
    if (p.name) {
      for (const msg of dns1123Label(p.name)) e.invalid(`${pp}.name`, p.name, msg);
      if (names.has(p.name)) e.duplicate(`${pp}.name`, p.name);
      names.add(p.name);
    }
    validatePort(e, p.port, `${pp}.port`);
    const proto = p.protocol ?? "TCP";
    if (!(PROTOCOLS as readonly string[]).includes(proto)) e.notSupported(`${pp}.protocol`, proto, PROTOCOLS);
    if (typeof p.targetPort === "number") validatePort(e, p.targetPort, `${pp}.targetPort`);
    else if (typeof p.targetPort === "string") for (const msg of portName(p.targetPort)) e.invalid(`${pp}.targetPort`, p.targetPort, msg);
    if (p.nodePort !== undefined && p.nodePort !== 0) {
      if (type === "ClusterIP" || type === "ExternalName") e.forbidden(`${pp}.nodePort`, `may not be used when \`type\` is '${type}'`);
      else validatePort(e, p.nodePort, `${pp}.nodePort`);
    }
    const key = `${proto}/${p.port}`;
    if (keys.has(key)) {
      e.duplicate(pp, `core.ServicePort{Name:"", Protocol:"${proto}", AppProtocol:(*string)(nil), Port:${p.port}, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`);
    }
    keys.add(key);
  });
}

function validateService(e: FieldErrors, s: Service): void {
  validateMeta(e, s.metadata, dns1035Label);
  const type = s.spec.type ?? "ClusterIP";
  if (!["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].includes(type)) e.notSupported("spec.type", type, ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]);
  validateServicePorts(e, s);
  validateLabels(e, s.spec.selector, "spec.selector");
  if (type === "ExternalName") {
    if (!s.spec.externalName) e.required("spec.externalName");
    else for (const msg of dns1123Subdomain(s.spec.externalName.replace(/\.$/, ""))) e.invalid("spec.externalName", s.spec.externalName, msg);
  }
  if (s.spec.clusterIP !== undefined && s.spec.clusterIP !== "" && s.spec.clusterIP !== "None" && !parseIpv4(s.spec.clusterIP).ok) {
    e.invalid("spec.clusterIPs[0]", s.spec.clusterIP, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
  }
  if (s.spec.clusterIP === "None" && (type === "NodePort" || type === "LoadBalancer")) e.invalid("spec.clusterIPs[0]", "None", `may not be set to 'None' for ${type} services`);
  (s.spec.externalIPs ?? []).forEach((ip, i) => {
    if (!parseIpv4(ip).ok) e.invalid(`spec.externalIPs[${i}]`, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
  });
  const external = type === "NodePort" || type === "LoadBalancer";
  const etp = s.spec.externalTrafficPolicy;
  if (etp !== undefined && !["Cluster", "Local"].includes(etp)) e.notSupported("spec.externalTrafficPolicy", etp, ["Cluster", "Local"]);
  else if (etp !== undefined && !external && (s.spec.externalIPs ?? []).length === 0) e.invalid("spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services");
  const itp = s.spec.internalTrafficPolicy;
  if (itp !== undefined && !["Cluster", "Local"].includes(itp)) e.notSupported("spec.internalTrafficPolicy", itp, ["Cluster", "Local"]);
  const aff = s.spec.sessionAffinity;
  if (aff !== undefined && !["None", "ClientIP"].includes(aff)) e.notSupported("spec.sessionAffinity", aff, ["ClientIP", "None"]);
  const t = s.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
  if (t !== undefined && (t <= 0 || t > 86400)) e.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", t, "must be greater than 0 and less than 86400");
  if (s.spec.loadBalancerSourceRanges !== undefined && s.spec.loadBalancerSourceRanges.length > 0) {
    if (type !== "LoadBalancer") e.forbidden("spec.loadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'");
    s.spec.loadBalancerSourceRanges.forEach((r, i) => {
      if (!parseCidr(r.trim()).ok && !parseIpv4(r.trim()).ok) e.invalid(`spec.loadBalancerSourceRanges[${i}]`, r, "must be a valid IP address or CIDR");
    });
  }
  if (s.spec.healthCheckNodePort !== undefined && !(type === "LoadBalancer" && etp === "Local")) {
    e.invalid("spec.healthCheckNodePort", s.spec.healthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'");
  }
  if (s.spec.loadBalancerIP !== undefined && s.spec.loadBalancerIP !== "" && type !== "LoadBalancer") e.forbidden("spec.loadBalancerIP", "may only be used when `type` is 'LoadBalancer'");
}

function validateEndpointSlice(e: FieldErrors, s: EndpointSlice): void {
  validateMeta(e, s.metadata, dns1123Subdomain);
  if (!s.addressType) e.required("addressType");
  else if (!["IPv4", "IPv6", "FQDN"].includes(s.addressType)) e.notSupported("addressType", s.addressType, ["FQDN", "IPv4", "IPv6"]);
  else if (s.addressType !== "IPv4") e.raw(`addressType: Unsupported value: "${s.addressType}": podwire models IPv4 only`);
  (s.endpoints ?? []).forEach((ep, i) => {
    if (!ep.addresses || ep.addresses.length === 0) e.required(`endpoints[${i}].addresses`, "must contain at least 1 address");
    (ep.addresses ?? []).forEach((a, j) => {
      if (!parseIpv4(a).ok) e.invalid(`endpoints[${i}].addresses[${j}]`, a, "must be a valid IPv4 address");
    });
  });
  (s.ports ?? []).forEach((p, i) => {
    if (p.port !== undefined) validatePort(e, p.port, `ports[${i}].port`);
    if (p.protocol !== undefined && !(PROTOCOLS as readonly string[]).includes(p.protocol)) e.notSupported(`ports[${i}].protocol`, p.protocol, PROTOCOLS);
  });
}

/** Validates any modelled object; returns the field errors (empty when valid). */
export function validateObject(o: AnyObject): string[] {
  const e = new FieldErrors();
  switch (o.kind) {
    case "Namespace":
      validateMeta(e, o.metadata, dns1123Label);
      break;
    case "Node":
      validateMeta(e, o.metadata, dns1123Subdomain);
      (o as Node).spec?.taints?.forEach((t, i) => validateTaint(e, t, `spec.taints[${i}]`));
      break;
    case "Pod":
      validateMeta(e, o.metadata, dns1123Subdomain);
      validatePodSpec(e, (o as Pod).spec, "spec");
      break;
    case "Service":
      validateService(e, o as Service);
      break;
    case "EndpointSlice":
      validateEndpointSlice(e, o as EndpointSlice);
      break;
    case "Deployment":
      validateMeta(e, o.metadata, dns1123Subdomain);
      validateReplicas(e, (o as Deployment).spec?.replicas);
      validateTemplate(e, (o as Deployment).spec?.selector, (o as Deployment).spec?.template, "deployment", ["Always"]);
      break;
    case "ReplicaSet":
      validateMeta(e, o.metadata, dns1123Subdomain);
      validateReplicas(e, (o as ReplicaSet).spec?.replicas);
      validateTemplate(e, (o as ReplicaSet).spec?.selector, (o as ReplicaSet).spec?.template, "replicaset", ["Always"]);
      break;
    case "DaemonSet":
      validateMeta(e, o.metadata, dns1123Subdomain);
      validateTemplate(e, (o as DaemonSet).spec?.selector, (o as DaemonSet).spec?.template, "daemonset", ["Always"]);
      break;
    case "Job":
      validateMeta(e, o.metadata, dns1123Subdomain);
      validateJob(e, o as Job, "spec");
      break;
    case "CronJob":
      validateMeta(e, o.metadata, dns1123Subdomain);
      validateCronJob(e, o as CronJob);
      break;
    case "Event":
      break;
  }
  return e.list;
}

function validateJob(e: FieldErrors, j: Job, path: string): void {
  if (!j.spec?.template) {
    e.required(`${path}.template`);
    return;
  }
  if (j.spec.manualSelector === true) validateTemplate(e, j.spec.selector, j.spec.template, "job", ["OnFailure", "Never"]);
  else {
    if (j.spec.selector !== undefined) e.invalid(`${path}.selector`, "…", "`selector` will be auto-generated");
    validatePodSpec(e, j.spec.template.spec, `${path}.template.spec`, ["OnFailure", "Never"]);
  }
  for (const f of ["completions", "parallelism", "backoffLimit"] as const) {
    const v = j.spec[f];
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) e.invalid(`${path}.${f}`, v, "must be greater than or equal to 0");
  }
}

function validateCronJob(e: FieldErrors, c: CronJob): void {
  if (!c.spec?.schedule) e.required("spec.schedule");
  else {
    const r = parseCron(c.spec.schedule);
    if (!r.ok) e.invalid("spec.schedule", c.spec.schedule, r.error);
  }
  if (c.spec?.timeZone !== undefined && c.spec.timeZone !== "UTC" && c.spec.timeZone !== "Etc/UTC") e.raw(`spec.timeZone: Unsupported value: "${c.spec.timeZone}": podwire's virtual clock runs in UTC`);
  if (!c.spec?.jobTemplate) e.required("spec.jobTemplate");
  else validateJob(e, { ...(c as unknown as Job), spec: c.spec.jobTemplate.spec }, "spec.jobTemplate.spec");
}
