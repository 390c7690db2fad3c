/**
 * The settings of kube-proxy's `NewFakeProxier` (pkg/proxy/iptables/proxier_test.go, v1.33), so
 * podwire's proxier can be run on the same inputs as the upstream golden tests: pod CIDR detector
 * 10.0.0.0/8, node "test-node" at 192.168.0.2, mark written as "0x4000", localhost NodePorts on,
 * both nfacct counters present, and a fake iptables without --random-fully.
 */
import type { EndpointSlice, Service } from "../../src/cluster/api/types.js";
import type { ProxierConfig } from "../../src/kube-proxy/proxier.js";

export const TEST_NODE = "test-node";

export const FAKE_PROXIER: ProxierConfig = {
  nodeName: TEST_NODE,
  nodeIP: "192.168.0.2",
  localDetector: { mode: "ClusterCIDR", cidr: "10.0.0.0/8" },
  masqueradeMark: "0x4000",
  localhostNodePorts: true,
  nfacct: true,
  randomFully: false,
};

type Spec = Service["spec"];

/** `makeTestService(ns, name, …)`: a ClusterIP service with the given spec fields. */
export function svc(ns: string, name: string, spec: Partial<Spec>, lbIngress: string[] = []): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: ns },
    spec: { type: "ClusterIP", sessionAffinity: "None", ...spec } as Spec,
    ...(lbIngress.length > 0 ? { status: { loadBalancer: { ingress: lbIngress.map((ip) => ({ ip })) } } } : {}),
  };
}

/** `makeTestEndpointSlice(ns, name, 1, …)` with one named port. */
export function slice(ns: string, name: string, endpoints: EndpointSlice["endpoints"], port: { name?: string; port: number; protocol?: "TCP" | "UDP" | "SCTP" }, index = 1): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `${name}-${index}`, namespace: ns, labels: { "kubernetes.io/service-name": name } },
    addressType: "IPv4",
    endpoints,
    ports: [{ ...(port.name !== undefined ? { name: port.name } : {}), port: port.port, protocol: port.protocol ?? "TCP" }],
  };
}
