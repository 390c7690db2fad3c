/**
 * Generates a kube-proxy iptables-restore input for a node, in kube-proxy's own spelling
 * (kube-proxy.md §4: `-m comment … -m tcp -p tcp -d IP --dport P`, no /32, probabilities as
 * `%0.10f`, chain names sha256 → base32 → 16 characters), for the parse benchmark. It is a bench
 * fixture generator, not podwire's kube-proxy (that is built from API objects elsewhere).
 */
import { createHash } from "node:crypto";

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** First 16 characters of base32(sha256(s)), as kube-proxy names its chains. */
export function chainHash(s: string): string {
  const d = createHash("sha256").update(s).digest();
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of d) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= 16) break;
  }
  return out;
}

/** Options of the generated dump. */
export interface DumpShape {
  readonly services: number;
  readonly endpointsPerService: number;
  /** Every k-th service is a NodePort (0 = none). */
  readonly nodePortEvery: number;
}

/** The restore text and where things are, for picking trace targets. */
export interface Dump {
  readonly text: string;
  readonly lines: number;
  readonly clusterIp: (i: number) => string;
  readonly nodePort: (i: number) => number;
  /** The endpoint addresses of service i (port 8080). */
  readonly endpoints: (i: number) => string[];
}

/** Builds the dump. */
export function kubeProxyDump(shape: DumpShape): Dump {
  const natChains: string[] = [":KUBE-SERVICES - [0:0]", ":KUBE-NODEPORTS - [0:0]", ":KUBE-POSTROUTING - [0:0]", ":KUBE-MARK-MASQ - [0:0]"];
  const natRules: string[] = [
    "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
    "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
    "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
    "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
    "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
    "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully",
    "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
  ];
  const clusterIp = (i: number): string => `10.96.${(i >>> 8) & 255}.${i & 255}`.replace(/^10\.96\.0\.0$/, "10.96.0.1");
  const nodePort = (i: number): number => 30000 + (i % 2768);
  const endpointsOf = (i: number): string[] => {
    const n = shape.endpointsPerService;
    return Array.from({ length: n }, (_, e) => `10.${244 + (((i * n + e) >>> 16) & 7)}.${((i * n + e) >>> 8) & 255}.${(i * n + e) & 255}`);
  };
  const large = shape.services * shape.endpointsPerService > 1000;
  for (let i = 0; i < shape.services; i++) {
    const spn = `ns${i % 97}/svc${i}:http`;
    const h = chainHash(`${spn}tcp`);
    const cip = clusterIp(i + 10);
    natChains.push(`:KUBE-SVC-${h} - [0:0]`);
    natRules.push(`-A KUBE-SERVICES -m comment --comment "${spn} cluster IP" -m tcp -p tcp -d ${cip} --dport 80 -j KUBE-SVC-${h}`);
    const np = shape.nodePortEvery > 0 && i % shape.nodePortEvery === 0;
    if (np) {
      natChains.push(`:KUBE-EXT-${h} - [0:0]`);
      natRules.push(`-A KUBE-NODEPORTS -m comment --comment ${spn} -m tcp -p tcp --dport ${nodePort(i)} -j KUBE-EXT-${h}`);
      natRules.push(`-A KUBE-EXT-${h} -m comment --comment "masquerade traffic for ${spn} external destinations" -j KUBE-MARK-MASQ`);
      natRules.push(`-A KUBE-EXT-${h} -j KUBE-SVC-${h}`);
    }
    natRules.push(`-A KUBE-SVC-${h} -m comment --comment "${spn} cluster IP" -m tcp -p tcp -d ${cip} --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ`);
    const n = shape.endpointsPerService;
    const eps = endpointsOf(i).map((a) => `${a}:8080`).sort();
    eps.forEach((ep, e) => {
      const sep = chainHash(`${spn}tcp${ep}`);
      natChains.push(`:KUBE-SEP-${sep} - [0:0]`);
      const c = large ? "" : `-m comment --comment "${spn} -> ${ep}" `;
      const stat = e < n - 1 ? `-m statistic --mode random --probability ${(1 / (n - e)).toFixed(10)} ` : "";
      natRules.push(`-A KUBE-SVC-${h} ${c}${stat}-j KUBE-SEP-${sep}`);
      const sc = large ? "" : `-m comment --comment ${spn} `;
      natRules.push(`-A KUBE-SEP-${sep} ${sc}-s ${ep.split(":")[0] ?? ""} -j KUBE-MARK-MASQ`);
      natRules.push(`-A KUBE-SEP-${sep} ${sc}-m tcp -p tcp -j DNAT --to-destination ${ep}`);
    });
  }
  natRules.push("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS");
  const filter = [
    "*filter",
    ":INPUT ACCEPT [0:0]",
    ":FORWARD ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":KUBE-SERVICES - [0:0]",
    ":KUBE-EXTERNAL-SERVICES - [0:0]",
    ":KUBE-FORWARD - [0:0]",
    ":KUBE-NODEPORTS - [0:0]",
    ":KUBE-PROXY-FIREWALL - [0:0]",
    "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD",
    "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
    "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT",
    "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "COMMIT",
  ];
  const nat = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]", ...natChains, ...natRules, "COMMIT"];
  const all = [...filter, ...nat];
  return { text: `${all.join("\n")}\n`, lines: all.length, clusterIp: (i) => clusterIp(i + 10), nodePort, endpoints: endpointsOf };
}
