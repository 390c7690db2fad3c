/**
 * Placeholders for the values the kernel draws at random, so a podwire view can be compared with
 * the real tool's output: MACs (`<mac1>`, … in order of first appearance; broadcast, zero and
 * multicast MACs kept), bridge ids, `veth` + 8 hex names, namespace names (`names`: exact
 * replacements applied first), and the bridge/port timers iproute2 prints.
 */
export function normaliseRandom(text: string, names: readonly (readonly [string, string])[] = []): string {
  const maps = new Map<string, Map<string, string>>();
  const sub = (kind: string, v: string): string => {
    let m = maps.get(kind);
    if (!m) maps.set(kind, (m = new Map()));
    if (!m.has(v)) m.set(v, `<${kind}${m.size + 1}>`);
    return m.get(v) as string;
  };
  let t = text;
  for (const [from, to] of names) t = t.replaceAll(from, to);
  return t
    .replace(/8000\.[0-9a-f:]+/g, "8000.<bridge-id>")
    .replace(/([0-9a-f]{2}:){5}[0-9a-f]{2}/g, (m) => (m === "ff:ff:ff:ff:ff:ff" || m === "00:00:00:00:00:00" || m.startsWith("33:33") || m.startsWith("01:00:5e") ? m : sub("mac", m)))
    .replace(/veth[0-9a-f]{8}/g, (m) => sub("veth", m))
    .replace(/(_timer)\s+\d+\.\d\d/g, "$1 <t>");
}
