/**
 * @module net
 * Values: addresses, prefixes, tuples, header records and their codecs. Knows nothing of nodes
 * or pods (DESIGN, layers).
 */
export * from "./addr.js";
export * from "./cidr.js";
export * from "./tuple.js";
export * from "./bytes.js";
export * from "./headers/types.js";
export { encodeEthernet, decodeEthernet, encodeArp, decodeArp, ETHERTYPE_ARP, ETHERTYPE_IPV4 } from "./headers/ethernet.js";
export { encodeIpv4, decodeIpv4, ipProtocol } from "./headers/ipv4.js";
export { encodeUdp, decodeUdp, encodeTcp, decodeTcp, encodeIcmp, decodeIcmp, VXLAN_PORTS } from "./headers/transport.js";
export { encodeVxlan, decodeVxlan, VXLAN_OVERHEAD } from "./headers/vxlan.js";
export * from "./summary.js";
export * from "./packet.js";
