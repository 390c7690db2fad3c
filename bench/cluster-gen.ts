/**
 * A generator of topologies at any size for the benchmarks: N nodes (the first a control plane),
 * S Services each selecting one Deployment, P pods spread over the Deployments (so each Service
 * has about P/S endpoints), a mix of types (every 4th NodePort, every 16th LoadBalancer with
 * externalTrafficPolicy Local; node ports kept within the default range), and an external host.
 */
export interface GenOptions {
  readonly nodes: number;
  readonly pods: number;
  readonly services: number;
}

const MAX_NODE_PORTS = 2600;

/** The topology as YAML text. */
export function clusterYaml(o: GenOptions): string {
  const out: string[] = [];
  // Up to 256 nodes the kubeadm/flannel layout; beyond, 10.128.0.0/9 split into /22s (8,192 nodes).
  const podSubnet = o.nodes <= 256 ? "10.244.0.0/16" : "10.128.0.0/9";
  const mask = o.nodes <= 256 ? 24 : 22;
  const underlay = o.nodes < 200 ? "192.168.0.0/24" : "172.16.0.0/16";
  out.push(
    "apiVersion: podwire.dev/v1alpha1",
    "kind: Cluster",
    "metadata: {name: bench}",
    "networking:",
    `  podSubnet: ${podSubnet}`,
    `  nodeCidrMaskSize: ${mask}`,
    "  serviceSubnet: 10.96.0.0/12",
    `  underlay: {subnet: ${underlay}}`,
    // Up to 250 LoadBalancer Services the documentation range; beyond, the benchmarking range (RFC 2544).
    `  loadBalancer: {pool: ${o.services / 16 > 250 ? "198.18.0.0/15" : "203.0.113.0/24"}}`,
    "nodes:",
  );
  for (let i = 0; i < o.nodes; i += 1) out.push(`  - {name: node-${i}${i === 0 ? ", role: control-plane" : ""}, capacity: {pods: ${Math.max(110, Math.ceil((o.pods / o.nodes) * 2))}, cpu: "64", memory: 256Gi}}`);
  out.push("hosts:", `  - {name: client, ip: ${underlay.startsWith("192") ? "192.168.0.250" : "172.16.255.250"}}`);
  let nodePorts = 0;
  const per = Math.floor(o.pods / o.services);
  const extra = o.pods - per * o.services;
  for (let s = 0; s < o.services; s += 1) {
    const replicas = per + (s < extra ? 1 : 0);
    out.push("---", "apiVersion: apps/v1", "kind: Deployment", `metadata: {name: app-${s}}`, "spec:", `  replicas: ${replicas}`, `  selector: {matchLabels: {app: app-${s}}}`, "  template:", `    metadata: {labels: {app: app-${s}}}`, "    spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 8080}]}]}");
    // The default node port range (30000-32767) holds 2,768 ports, and a LoadBalancer Service
    // with externalTrafficPolicy Local takes two (its health check node port): past 2,600 ports
    // the rest are ClusterIP (10,000 Services would otherwise fill it, as they would a real cluster's).
    const wants = s % 16 === 15 ? "LoadBalancer" : s % 4 === 3 ? "NodePort" : "ClusterIP";
    const cost = wants === "LoadBalancer" ? 2 : wants === "NodePort" ? 1 : 0;
    const type = nodePorts + cost > MAX_NODE_PORTS ? "ClusterIP" : wants;
    if (type !== "ClusterIP") nodePorts += cost;
    out.push("---", "apiVersion: v1", "kind: Service", `metadata: {name: app-${s}}`, "spec:", `  type: ${type}`, ...(type === "LoadBalancer" ? ["  externalTrafficPolicy: Local"] : []), `  selector: {app: app-${s}}`, "  ports: [{port: 80, targetPort: 8080}]");
  }
  return `${out.join("\n")}\n`;
}
