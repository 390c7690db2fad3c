/**
 * The apiserver's allocators, validation and defaulting, and host-local IPAM. Expected texts are
 * the real components' (kube-apiserver ipallocator/portallocator and validation, host-local),
 * as collected in ../shared/reference/dataplane.md §3 and §6.
 */
import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/cluster/api/resource.js";
import type { Service } from "../../src/cluster/api/types.js";
import { NodeCidrAllocator, CIDR_EXHAUSTED } from "../../src/cluster/allocators/node-cidr.js";
import { nodePortOffset } from "../../src/cluster/allocators/node-port.js";
import { ServiceIpAllocator, serviceIpOffset } from "../../src/cluster/allocators/service-ip.js";
import { parseCron, cronNext } from "../../src/cluster/cron.js";
import { HostLocalStore, hostLocal } from "../../src/cni/host-local.js";
import { formatIpv4 } from "../../src/net/addr.js";
import { cidr, formatCidr } from "../../src/net/cidr.js";
import { createRng } from "../../src/sim/rng.js";
import { applyAll, deployment, service, testCluster } from "../support/cluster.js";

function thrown(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return "(no error)";
}

describe("ClusterIP allocation (KEP-3070 bands)", () => {
  it("the kubernetes Service takes the first address; dynamic ones come from the upper band", () => {
    const c = testCluster([{ name: "w" }]);
    expect(c.get("Service", "default/kubernetes")?.spec.clusterIP).toBe("10.96.0.1");
    applyAll(c, Array.from({ length: 20 }, (_, i) => service(`s${i}`, { selector: { app: "x" }, ports: [{ port: 80 }] })));
    for (let i = 0; i < 20; i += 1) {
      const ip = c.get("Service", `default/s${i}`)?.spec.clusterIP ?? "";
      const n = ip.split(".").map(Number).reduce((a, b) => a * 256 + b, 0);
      // Upper band of 10.96.0.0/12 starts after offset 256: 10.96.1.1.
      expect(n).toBeGreaterThanOrEqual((10 * 256 ** 3 + 96 * 256 ** 2 + 1 * 256 + 1));
    }
  });

  it("band offsets are min(max(16, size/16), 256) for IPs and min(max(16, size/32), 128) for ports", () => {
    expect([serviceIpOffset(2 ** 20), serviceIpOffset(256), serviceIpOffset(8)]).toEqual([256, 16, 0]);
    expect(nodePortOffset(2768)).toBe(86);
  });

  it("user-chosen addresses are honoured or refused with the apiserver's messages", () => {
    const c = testCluster([{ name: "w" }]);
    c.apply(service("dns", { clusterIP: "10.96.0.10", selector: { app: "dns" }, ports: [{ port: 53, protocol: "UDP" }] }));
    expect(c.get("Service", "default/dns")?.spec.clusterIP).toBe("10.96.0.10");
    expect(thrown(() => c.apply(service("dup", { clusterIP: "10.96.0.10", ports: [{ port: 53 }] })))).toBe(
      'The Service "dup" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated',
    );
    expect(thrown(() => c.apply(service("out", { clusterIP: "10.200.0.5", ports: [{ port: 53 }] })))).toBe(
      'The Service "out" is invalid: spec.clusterIPs: Invalid value: []string{"10.200.0.5"}: failed to allocate IP 10.200.0.5: the provided IP (10.200.0.5) is not in the valid range. The range of valid IPs is 10.96.0.0/12',
    );
  });

  it("a full range says so", () => {
    const a = new ServiceIpAllocator(cidr("10.0.0.0/29"), createRng(1));
    const got = Array.from({ length: 6 }, () => a.allocateNext()).map((r) => (r.ok ? formatIpv4(r.value) : r.error));
    expect(new Set(got).size).toBe(6);
    expect(a.allocateNext()).toEqual({ ok: false, error: "Internal error occurred: failed to allocate a serviceIP: range is full" });
  });
});

describe("NodePort allocation", () => {
  it("same port number, different protocols share one node port (DNS 53/UDP + 53/TCP)", () => {
    const c = testCluster([{ name: "w" }]);
    c.apply(service("dns", { type: "NodePort", selector: { app: "dns" }, ports: [{ name: "dns", port: 53, protocol: "UDP" }, { name: "dns-tcp", port: 53, protocol: "TCP" }] }));
    const ports = c.get("Service", "default/dns")?.spec.ports ?? [];
    expect(ports[0]?.nodePort).toBe(ports[1]?.nodePort);
    expect(ports[0]?.nodePort).toBeGreaterThanOrEqual(30086);
  });

  it("conflicts and out-of-range ports get the apiserver's messages", () => {
    const c = testCluster([{ name: "w" }]);
    c.apply(service("a", { type: "NodePort", selector: { app: "a" }, ports: [{ port: 80, nodePort: 30080 }] }));
    expect(thrown(() => c.apply(service("b", { type: "NodePort", selector: { app: "b" }, ports: [{ port: 80, nodePort: 30080 }] })))).toBe('The Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated');
    expect(thrown(() => c.apply(service("c", { type: "NodePort", selector: { app: "c" }, ports: [{ port: 80, nodePort: 80 }] })))).toBe('The Service "c" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767');
    // A refused Service holds nothing: its ClusterIP went back to the pool, and the name is free.
    expect(c.get("Service", "default/b")).toBeUndefined();
  });

  it("a LoadBalancer with externalTrafficPolicy Local gets a healthCheckNodePort; deleting frees its ports", () => {
    const c = testCluster([{ name: "w" }], { pool: "203.0.113.0/28" });
    applyAll(c, [service("lb", { type: "LoadBalancer", externalTrafficPolicy: "Local", selector: { app: "x" }, ports: [{ port: 80, nodePort: 30080 }] })]);
    const s = c.get("Service", "default/lb") as Service;
    expect(s.spec.healthCheckNodePort).toBeGreaterThanOrEqual(30000);
    // MetalLB hands out the lowest address of the pool.
    expect(s.status?.loadBalancer?.ingress?.[0]?.ip).toBe("203.0.113.0");
    c.api.delete("Service", "default/lb");
    expect(c.api.nodePorts.has(30080)).toBe(false);
  });

  it("a Service whose manifest already carries an ingress keeps it; without a pool it stays pending", () => {
    const c = testCluster([{ name: "w" }], { pool: "203.0.113.0/28" });
    applyAll(c, [{ ...service("kept", { type: "LoadBalancer", selector: { app: "x" }, ports: [{ port: 80 }] }), status: { loadBalancer: { ingress: [{ ip: "198.51.100.7" }] } } }]);
    expect(c.get("Service", "default/kept")?.status?.loadBalancer?.ingress?.[0]?.ip).toBe("198.51.100.7");
    const d = testCluster([{ name: "w" }]);
    applyAll(d, [service("pending", { type: "LoadBalancer", selector: { app: "x" }, ports: [{ port: 80 }] })]);
    expect(d.get("Service", "default/pending")?.status?.loadBalancer?.ingress).toBeUndefined();
  });
});

describe("node CIDRs (range allocator)", () => {
  it("in node order, then exhaustion with kube-controller-manager's message", () => {
    const a = new NodeCidrAllocator(cidr("10.244.0.0/23"), 24);
    const got = [a.allocateNext(), a.allocateNext(), a.allocateNext()].map((r) => (r.ok ? formatCidr(r.value) : r.error));
    expect(got).toEqual(["10.244.0.0/24", "10.244.1.0/24", CIDR_EXHAUSTED]);
  });

  it("a released CIDR is not reused before the cursor wraps", () => {
    const a = new NodeCidrAllocator(cidr("10.244.0.0/22"), 24);
    const first = a.allocateNext();
    a.allocateNext();
    if (first.ok) a.release(first.value);
    const r = a.allocateNext();
    expect(r.ok && formatCidr(r.value)).toBe("10.244.2.0/24");
  });

  it("nodes get podCIDRs in registration order", () => {
    const c = testCluster([{ name: "b-node" }, { name: "a-node" }]);
    expect(c.get("Node", "b-node")?.spec.podCIDR).toBe("10.244.0.0/24");
    expect(c.get("Node", "a-node")?.spec.podCIDR).toBe("10.244.1.0/24");
  });
});

describe("validation with the apiserver's messages", () => {
  const cases: { name: string; obj: unknown; want: string }[] = [
    // Defaulting runs before validation (SetDefaults_Service sets targetPort = port), so the
    // out-of-range port is reported twice, for port and for the defaulted targetPort.
    { name: "port out of range", obj: service("web", { selector: { app: "w" }, ports: [{ port: 70000 }] }), want: 'The Service "web" is invalid: \n* spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive\n* spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive' },
    { name: "Service name must be a DNS-1035 label", obj: service("1web", { selector: { app: "w" }, ports: [{ port: 80 }] }), want: "The Service \"1web\" is invalid: metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')" },
    { name: "multi-port Services need names", obj: service("web", { selector: { app: "w" }, ports: [{ port: 80 }, { port: 443 }] }), want: 'The Service "web" is invalid: \n* spec.ports[0].name: Required value\n* spec.ports[1].name: Required value' },
    { name: "nodePort on a ClusterIP Service", obj: service("web", { selector: { app: "w" }, ports: [{ port: 80, nodePort: 30001 }] }), want: "The Service \"web\" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'" },
    { name: "unsupported type", obj: service("web", { type: "Foo" as never, ports: [{ port: 80 }] }), want: 'The Service "web" is invalid: spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"' },
    { name: "selector does not match template labels", obj: { ...deployment("web", 1), spec: { ...deployment("web", 1).spec, selector: { matchLabels: { app: "other" } } } }, want: 'The Deployment "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`' },
    { name: "bad label value", obj: { ...deployment("web", 1), metadata: { name: "web", labels: { tier: "-x" } } }, want: "The Deployment \"web\" is invalid: metadata.labels: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')" },
  ];
  it.each(cases)("$name", ({ obj, want }) => {
    const c = testCluster([{ name: "w" }]);
    let err: unknown;
    try {
      c.apply(obj as Service);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).message).toBe(want);
  });

  it("an object in a namespace nobody created is refused", () => {
    const c = testCluster([{ name: "w" }]);
    expect(thrown(() => c.apply(deployment("web", 1, { ns: "shop" })))).toBe('namespaces "shop" not found');
  });
});

describe("host-local IPAM (dataplane.md §3)", () => {
  const conf = { name: "cbr0", ranges: [[{ subnet: "10.244.1.0/29" }]] };
  const args = (id: string) => ({ containerId: id, netns: "x", ifName: "eth0", args: {} });

  it("starts after the gateway, round-robins without reusing a freed address, then reports exhaustion", () => {
    const store = new HostLocalStore();
    const p = hostLocal(store);
    expect(p.add(args("a"), conf).ips[0]).toEqual({ address: "10.244.1.2/29", gateway: "10.244.1.1" });
    p.del(args("a"), conf);
    // .2 was released but the iterator continues from last_reserved_ip.0 = .2; .1 is the gateway, .7 the broadcast.
    const next = ["b", "c", "d", "e", "f"].map((id) => p.add(args(id), conf).ips[0]?.address);
    expect(next).toEqual(["10.244.1.3/29", "10.244.1.4/29", "10.244.1.5/29", "10.244.1.6/29", "10.244.1.2/29"]);
    expect(store.listing("cbr0")).toEqual(["10.244.1.2", "10.244.1.3", "10.244.1.4", "10.244.1.5", "10.244.1.6", "last_reserved_ip.0", "lock"]);
    expect(thrown(() => p.add(args("g"), conf))).toBe("failed to allocate for range 0: no IP addresses available in range set: 10.244.1.1-10.244.1.6");
  });

  it("refuses a subnet with host bits and a duplicate allocation", () => {
    const p = hostLocal(new HostLocalStore());
    expect(thrown(() => p.add(args("a"), { name: "n", ranges: [[{ subnet: "10.244.0.1/24" }]] }))).toBe("invalid range set 0: Network has host bits set. For a subnet mask of length 24 the network address is 10.244.0.0");
    p.add(args("a"), { name: "n", ranges: [[{ subnet: "10.244.0.0/24" }]] });
    expect(thrown(() => p.add(args("a"), { name: "n", ranges: [[{ subnet: "10.244.0.0/24" }]] }))).toBe("failed to allocate for range 0: 10.244.0.2 has been allocated to a, duplicate allocation is not allowed");
  });
});

describe("cron schedules", () => {
  it("parses the standard fields and finds the next minute", () => {
    const s = parseCron("*/15 9-17 * * mon-fri");
    expect(s.ok).toBe(true);
    if (s.ok) expect(new Date(Date.UTC(2025, 0, 1) + (cronNext(s.value, 0) ?? 0)).toISOString()).toBe("2025-01-01T09:00:00.000Z");
    expect(parseCron("* * *")).toEqual({ ok: false, error: "expected exactly 5 fields, found 3: [* * *]" });
  });
});
