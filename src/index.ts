/**
 * @module podwire
 * The library API for other projects' tests. Today it offers the packet values and codecs, the
 * iptables engine (parse a real dump, print it as iptables-save does, walk a first packet), the
 * offline trace, and the emulated Linux network stack (`kernel`: build namespaces with
 * ip-command-named calls or a lab script, send packets, read the events and the `ip`/`bridge`/
 * `conntrack` views), and the control plane (`loadTopology` / `Cluster`: apiserver, scheduler,
 * controllers, kubelets on a virtual clock; operations such as cordon and drain), the nodes'
 * emulated kernels as the CNI plugins, flannel, Docker and kube-proxy configure them
 * (`topology.dataplane`), and `trace` — a packet and its reply through a topology.
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
export { loadTopology, loadTopologyText, type BuildOptions, type Topology } from "./topology/index.js";
export { TopologyError, type Issue } from "./topology/load.js";
export { trace, type TraceRequest, type TraceResult, type PathOutcome, type Delivered, type Drop, type Nat, type Hop, type Reply, type Verdict } from "./trace/tracer.js";
export { traceText, traceJson } from "./trace/render.js";
export { TraceInputError } from "./trace/endpoints.js";
export { Dataplane } from "./node/dataplane.js";
export { syncProxyRules, type ProxierConfig, type ProxierInput, type ProxierOutput, type SyncOptions } from "./kube-proxy/proxier.js";
