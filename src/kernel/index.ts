/**
 * @module kernel
 * The emulated Linux network stack: namespaces, devices, routing, neighbours, netfilter hooks
 * with conntrack, the packet path, lab scripts and the views in the real tools' formats.
 */
export { Network, NEIGH_FAIL_MS, type NetworkOptions } from "./network.js";
export type { Segment, SegmentNic } from "./segment.js";
export { NetNs, KernelError, type LinkSpec, type RouteSpec } from "./netns.js";
export type { Device, Loopback, Veth, Bridge, Vxlan, Nic, IfAddr, Route, RouteType, Neighbour, NudState, Socket, Sysctls, IfConf } from "./types.js";
export type { KernelEvent, DropReason } from "./events.js";
export type { SendOptions } from "./ip-pipeline.js";
export { applyScript, parseScript, ScriptError, type ScriptLine } from "./ip-script.js";
export { ipLink, ipLinkDetails, ipAddr, ipBriefAddr, ipBriefLink, ipRoute, ipNeigh, bridgeFdbShow, conntrackList, type ViewOptions } from "./views.js";
