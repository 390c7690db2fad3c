/**
 * @module node/agents
 * Small pieces of the node agents: the addresses podwire gives what the kernel would draw at
 * random (NIC and VTEP MACs), the ports a pod's containers listen on, and flanneld's Node
 * annotations — the one thing flannel writes through the API.
 */
import type { Ipv4, Mac } from "../net/addr.js";
import { createRng } from "../sim/rng.js";
import type { Pod } from "../cluster/api/types.js";
import type { Controller } from "../cluster/controllers/types.js";
import { FLANNEL_ANNOTATIONS, type FlannelConfig } from "../cni/flannel.js";
import type { NodeNetworking } from "./config.js";

/** The annotation that overrides the ports a pod listens on (TOPOLOGY.md). */
export const LISTEN_ANNOTATION = "podwire.dev/listen";

/** A NIC MAC derived from the address (QEMU's 52:54:00 prefix + the low three address bytes). */
export function nicMac(a: Ipv4): Mac {
  return `52:54:00:${[(a >>> 16) & 255, (a >>> 8) & 255, a & 255].map((o) => o.toString(16).padStart(2, "0")).join(":")}` as Mac;
}

/** A node's VTEP MAC: random as flannel makes it, but stable per seed and node name (flannel keeps it in backend-data). */
export function vtepMac(seed: number, node: string): Mac {
  let h = seed >>> 0;
  for (let i = 0; i < node.length; i += 1) h = Math.imul(h ^ node.charCodeAt(i), 16777619) >>> 0;
  const r = createRng(h);
  const x = r.uint32();
  const y = r.uint32();
  const b = [((x >>> 24) & 0xfe) | 0x02, (x >>> 16) & 255, (x >>> 8) & 255, x & 255, (y >>> 8) & 255, y & 255];
  return b.map((o) => o.toString(16).padStart(2, "0")).join(":") as Mac;
}

/** The ports a pod listens on: its containerPorts, or the `podwire.dev/listen` annotation. */
export function podListens(pod: Pod): { proto: "tcp" | "udp"; port: number }[] {
  const ann = pod.metadata.annotations?.[LISTEN_ANNOTATION];
  if (ann !== undefined) {
    return ann
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")
      .map((s) => {
        const [port = "", proto = "tcp"] = s.split("/");
        return { proto: proto.toLowerCase() === "udp" ? ("udp" as const) : ("tcp" as const), port: Number(port) };
      })
      .filter((l) => Number.isInteger(l.port) && l.port > 0 && l.port < 65536);
  }
  const out: { proto: "tcp" | "udp"; port: number }[] = [];
  for (const c of pod.spec.containers) for (const p of c.ports ?? []) if (p.protocol !== "SCTP") out.push({ proto: p.protocol === "UDP" ? "udp" : "tcp", port: p.containerPort });
  return out;
}

/** flanneld's Node annotations (§4.4), written once the node has a podCIDR. */
export function flannelAnnotations(cfg: NodeNetworking, fc: FlannelConfig): Controller {
  return {
    name: "flannel",
    keysFor: (e) => (e.object.kind === "Node" && e.type !== "DELETED" ? [e.object.metadata.name] : []),
    reconcile: (key, view) => {
      const node = view.get("Node", key);
      if (!node?.spec.podCIDR) return [];
      const ipText = node.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
      if (!ipText) return [];
      const want: Record<string, string> = {
        [FLANNEL_ANNOTATIONS.backendData]: fc.backend === "vxlan" ? JSON.stringify({ VNI: fc.vni, VtepMAC: vtepMac(cfg.seed, key) }) : "null",
        [FLANNEL_ANNOTATIONS.backendType]: fc.backend,
        [FLANNEL_ANNOTATIONS.kubeSubnetManager]: "true",
        [FLANNEL_ANNOTATIONS.publicIp]: ipText,
      };
      const have = node.metadata.annotations ?? {};
      if (Object.entries(want).every(([k, v]) => have[k] === v)) return [];
      return [{ type: "update", object: { ...node, metadata: { ...node.metadata, annotations: { ...have, ...want } } } }];
    },
  };
}
