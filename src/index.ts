/**
 * @module podwire
 * The library API for other projects' tests. Today it offers the packet values and codecs, the
 * iptables engine (parse a real dump, print it as iptables-save does, walk a first packet), the
 * offline trace, and the emulated Linux network stack (`kernel`: build namespaces with
 * ip-command-named calls or a lab script, send packets, read the events and the `ip`/`bridge`/
 * `conntrack` views), and the control plane (`loadTopology` / `Cluster`: apiserver, scheduler,
 * controllers, kubelets on a virtual clock; operations such as cordon and drain). Tracing a
 * topology end to end comes with the tracer work.
 */
export * as net from "./net/index.js";
export * as netfilter from "./netfilter/index.js";
export * as kernel from "./kernel/index.js";
export { Network, applyScript } from "./kernel/index.js";
export { ip, mac } from "./net/addr.js";
export { parseRestore, formatSave } from "./netfilter/index.js";
export { iptablesTrace, iptablesTraceJson, iptablesTraceText, type IptablesTrace, type IptablesTraceInput } from "./trace/iptables-trace.js";
export { createRng, type Rng } from "./sim/rng.js";
export { createClock, type Clock } from "./sim/clock.js";
export { Cluster, type ClusterConfig, type NodeSpec } from "./cluster/cluster.js";
export { cordon, uncordon, drain, scale, remove, failNode, recoverNode, OperationError } from "./cluster/operations.js";
export type * as api from "./cluster/api/types.js";
export { ApiError } from "./cluster/api/resource.js";
export { loadTopology, loadTopologyText, type Topology } from "./topology/index.js";
export { TopologyError, type Issue } from "./topology/load.js";
