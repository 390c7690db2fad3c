/**
 * @module netfilter
 * The iptables engine: model, restore parser, save printer, evaluation, conntrack and NAT.
 */
export * from "./model.js";
export { parseRestore, type RestoreIssue, type RestoreResult, type RestoreOptions } from "./iptables-restore.js";
export { formatSave, formatRule, formatRuleSpec, chainOrder, type SaveOptions } from "./iptables-save.js";
export { traverseTable, JUMP_STACK_MAX, type RuleHit, type TableVerdict, type NatDecision } from "./traverse.js";
export { traceFirstPacket, type FirstPacketInput, type FirstPacketResult, type HookStep } from "./first-packet.js";
export { explore, randomChooser, type Chooser, type Explored } from "./explore.js";
export { Conntrack, formatConntrackLine, CT_TIMEOUTS, type CtEntry, type CtDir } from "./conntrack.js";
export { applyNat, type NatEnv, type NatResult } from "./nat.js";
export type { NfPacket, NfEnv, CtView } from "./packet.js";
