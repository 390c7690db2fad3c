/**
 * @module podwire
 * The library API for other projects' tests. Today it offers the packet values and codecs, the
 * iptables engine (parse a real dump, print it as iptables-save does, walk a first packet) and
 * the offline trace; the cluster API (load a topology, settle, trace) comes with the topology
 * and tracer work.
 */
export * as net from "./net/index.js";
export * as netfilter from "./netfilter/index.js";
export { parseRestore, formatSave } from "./netfilter/index.js";
export { iptablesTrace, iptablesTraceJson, iptablesTraceText, type IptablesTrace, type IptablesTraceInput } from "./trace/iptables-trace.js";
export { createRng, type Rng } from "./sim/rng.js";
export { createClock, type Clock } from "./sim/clock.js";
