/**
 * @module kube-proxy/names
 * Chain names and number formats exactly as kube-proxy (iptables mode, v1.32–v1.33) derives them
 * (kube-proxy.md §3): the 16-character hash is the first 16 characters of the standard base32 of
 * SHA-256 over the service-port name plus its lower-case protocol (and, for an endpoint chain, the
 * endpoint's `IP:port`).
 * @see k8s.io/kubernetes/pkg/proxy/iptables/proxier.go (portProtoHash, servicePortEndpointChainName)
 */
import * as crypto from "node:crypto";

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 (upper case, padded), as Go's `base32.StdEncoding`. */
export function base32(bytes: Uint8Array): string {
  let out = "";
  let buf = 0;
  let bits = 0;
  for (const b of bytes) {
    buf = (buf << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buf >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(buf << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += "=";
  return out;
}

/** The first 16 characters of `base32(bytes)`: its first ten bytes, five at a time (40 bits, 8 characters). */
function base32Head16(d: Uint8Array): string {
  let out = "";
  for (let i = 0; i < 10; i += 5) {
    const a = d[i] as number;
    const b = d[i + 1] as number;
    const c = d[i + 2] as number;
    const e = d[i + 3] as number;
    const f = d[i + 4] as number;
    out += `${BASE32[a >>> 3]}${BASE32[((a & 7) << 2) | (b >>> 6)]}${BASE32[(b >>> 1) & 31]}${BASE32[((b & 1) << 4) | (c >>> 4)]}${BASE32[((c & 15) << 1) | (e >>> 7)]}${BASE32[(e >>> 2) & 31]}${BASE32[((e & 3) << 3) | (f >>> 5)]}${BASE32[f & 31]}`;
  }
  return out;
}

// Node's one-shot `crypto.hash` (20.12 on) hashes a short string in half the time of
// createHash().update().digest() (measured: 160,000 endpoint names, 0.19 s against 0.34-0.5 s);
// a first sync at 10,000 Services names ~160,000 chains. Older Node 20 releases lack it.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: "buffer") => Uint8Array }).hash;
const sha256: (text: string) => Uint8Array = oneShot ? (text) => oneShot("sha256", text, "buffer") : (text) => crypto.createHash("sha256").update(text).digest();

/** The 16-character chain suffix for `text`. */
export function chainHash(text: string): string {
  // Every node's proxier names the same chains: each name is hashed once (bounded memo).
  const hit = hashMemo.get(text);
  if (hit !== undefined) return hit;
  const h = base32Head16(sha256(text));
  if (hashMemo.size >= HASH_MEMO_MAX) hashMemo.clear();
  hashMemo.set(text, h);
  return h;
}
const hashMemo = new Map<string, string>();
const HASH_MEMO_MAX = 2_000_000;

/** The chains of one service port (`ns/name[:port]` + lower-case protocol). */
export interface ServicePortChains {
  readonly svc: string;
  readonly svl: string;
  readonly ext: string;
  readonly fw: string;
}

/** `KUBE-SVC-`, `KUBE-SVL-`, `KUBE-EXT-`, `KUBE-FW-` + the shared hash. */
export function servicePortChains(spn: string, protocol: string): ServicePortChains {
  const h = chainHash(spn + protocol);
  return { svc: `KUBE-SVC-${h}`, svl: `KUBE-SVL-${h}`, ext: `KUBE-EXT-${h}`, fw: `KUBE-FW-${h}` };
}

/** `KUBE-SEP-` + hash of the service port name, protocol and `IP:port`. */
export function endpointChain(spn: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${chainHash(spn + protocol + endpoint)}`;
}

/** The prefixes of service chains (stale-chain cleanup deletes only these). */
export const SERVICE_CHAIN_PREFIXES = ["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"] as const;

/**
 * `1/n` printed with Go's `%0.10f` (kube-proxy's `computeProbability`): 10 decimals, rounded
 * half to even on the exact binary value, as Go's strconv does.
 */
export function probability(n: number): string {
  // Only when 1/n is a short binary fraction (n a power of two) can the double sit exactly on a
  // rounding tie; JS's toFixed breaks ties upwards, Go's strconv to even. Elsewhere they agree.
  if ((n & (n - 1)) === 0 && n > 1024) {
    const scale = 10n ** 10n;
    const d = BigInt(n);
    let q = scale / d;
    const twice = (scale % d) * 2n;
    if (twice > d || (twice === d && q % 2n === 1n)) q += 1n;
    return `0.${q.toString().padStart(10, "0")}`;
  }
  return (1 / n).toFixed(10);
}

/**
 * Go's `fmt.Sprintf("%#08x", v)`: Go pads the digits (not the `0x`) to the width, so 0x4000
 * prints as `0x00004000` — the form the real kube-proxy binary writes (kubernetes#34006 dump).
 */
export function goHex08(v: number): string {
  return `0x${v.toString(16).padStart(8, "0")}`;
}
