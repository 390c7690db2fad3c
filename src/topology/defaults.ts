/**
 * @module topology/defaults
 * Every "(default)" of TOPOLOGY.md in one place, and the resolution of a `Cluster` document into
 * the settings the control plane and the node networking use.
 *
 * Address plan: node NICs on the underlay (192.168.1.0/24) take the next free address from .10 in
 * document order; podCIDRs come from node IPAM in node order (10.244.0.0/24, 10.244.1.0/24, …)
 * unless a node fixes its own. Without a `Cluster` document the manifests go onto DEFAULT_CLUSTER:
 * two worker nodes, node-1 (192.168.1.10) and node-2 (192.168.1.11), flannel VXLAN.
 */

/** The documented defaults. */
export const DEFAULTS = {
  cni: "flannel",
  bridge: "cni0",
  dockerBridge: "docker0",
  flannelBackend: "vxlan",
  flannelVni: 1,
  flannelPort: 8472,
  podSubnet: "10.244.0.0/16",
  dockerSubnet: "172.17.0.0/16",
  nodeCidrMaskSize: 24,
  serviceSubnet: "10.96.0.0/12",
  nodePortRange: "30000-32767",
  underlaySubnet: "192.168.1.0/24",
  underlayMtu: 1500,
  /** The underlay's default gateway: its first host address. */
  underlayGatewayHost: 1,
  bridgePlugin: { ipMasq: false, hairpinMode: true, isDefaultGateway: true },
  nfacct: true,
  firstNodeHost: 10,
  kubeProxyMode: "iptables",
  detectLocalMode: "ClusterCIDR",
  masqueradeAll: false,
  masqueradeBit: 14,
  localhostNodePorts: true,
  seed: 1,
  role: "worker",
  capacity: { cpu: "4", memory: "8Gi", pods: 110 },
  sysctls: { "net.ipv4.ip_forward": 1, "net.bridge.bridge-nf-call-iptables": 1 },
} as const;

/** The Cluster document used when a topology has none. */
export const DEFAULT_CLUSTER = {
  apiVersion: "podwire.dev/v1alpha1",
  kind: "Cluster",
  metadata: { name: "default" },
  nodes: [{ name: "node-1" }, { name: "node-2" }],
} as const;
