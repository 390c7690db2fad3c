/**
 * @module node/config
 * What the node layer needs to know about a topology: the networking choices (CNI, subnets,
 * underlay, kube-proxy settings) and each node's and external host's declaration. The topology
 * loader resolves these from the Cluster document (topology/build.ts).
 */
import type { Cidr } from "../net/cidr.js";

/** kube-proxy's settings (KubeProxyConfiguration field names). */
export interface KubeProxySettings {
  /** undefined = podSubnet; "" = no local-traffic detector. */
  readonly clusterCIDR?: string;
  readonly detectLocalMode: "ClusterCIDR" | "NodeCIDR" | "BridgeInterface" | "InterfaceNamePrefix";
  readonly detectLocal?: { readonly bridgeInterface?: string; readonly interfaceNamePrefix?: string };
  /** [] = all local addresses; CIDRs, or "primary". */
  readonly nodePortAddresses: readonly string[];
  readonly masqueradeAll: boolean;
  readonly masqueradeBit: number;
  readonly localhostNodePorts: boolean;
  /** podwire: whether the kernel has nfnetlink_acct, so kube-proxy's nfacct counters exist (default true). */
  readonly nfacct: boolean;
}

/** The bridge plugin's settings in `cni: bridge` mode. */
export interface BridgePluginSettings {
  readonly ipMasq: boolean;
  readonly hairpinMode: boolean;
  readonly isDefaultGateway: boolean;
}

/** The networking of a topology, resolved. */
export interface NodeNetworking {
  readonly cni: "flannel" | "bridge" | "docker0";
  readonly bridge: string;
  readonly flannel: { readonly backend: "vxlan" | "host-gw"; readonly vni: number; readonly port: number };
  readonly podSubnet: Cidr;
  readonly underlay: { readonly subnet: Cidr; readonly mtu: number; readonly gateway: string };
  readonly kubeProxy: KubeProxySettings;
  readonly bridgePlugin: BridgePluginSettings;
  readonly seed: number;
}

/** A node as the topology declares it. */
export interface NodeDecl {
  readonly name: string;
  readonly role?: "control-plane" | "worker";
  readonly ip: string;
  readonly extraAddresses: readonly string[];
  readonly sysctls: Readonly<Record<string, string | number>>;
}

/** A machine outside the cluster on the underlay. */
export interface HostDecl {
  readonly name: string;
  readonly ip: string;
  /** Ports it listens on, `"8080,53/udp"` (UDP answers). */
  readonly listen?: string;
}
