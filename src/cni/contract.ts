/**
 * @module cni/contract
 * The CNI plugin contract, copied from the spec (`skel.PluginMainFuncs`): ADD, DEL and CHECK with
 * the runtime's arguments and a network configuration, returning a CNI Result. The kubelet (through
 * the container runtime) calls it once per pod sandbox.
 * @see https://github.com/containernetworking/cni/blob/main/SPEC.md
 */

/** What the runtime passes (CNI_* environment variables and CNI_ARGS). */
export interface CniArgs {
  readonly containerId: string;
  /** The sandbox's network namespace (a name in podwire). */
  readonly netns: string;
  readonly ifName: string;
  /** CNI_ARGS as the kubelet's runtime sets them (K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID). */
  readonly args: Readonly<Record<string, string>>;
}

/** A CNI Result (spec 1.0 shape). */
export interface CniResult {
  readonly cniVersion: string;
  readonly interfaces?: readonly { readonly name: string; readonly mac?: string; readonly sandbox?: string }[];
  readonly ips: readonly { readonly address: string; readonly gateway?: string; readonly interface?: number }[];
  readonly routes?: readonly { readonly dst: string; readonly gw?: string }[];
  readonly dns?: { readonly nameservers?: readonly string[]; readonly search?: readonly string[] };
}

/** A CNI error (`types.Error`): code, message, details. The runtime prints `plugin type="x" failed (add): <msg>`. */
export class CniError extends Error {
  override readonly name = "CniError";
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly details = "",
  ) {
    super(details ? `${msg}: ${details}` : msg);
  }
}

/** A plugin. */
export interface CniPlugin<Conf> {
  /** The plugin's `type` as a network config names it (`bridge`, `flannel`, `host-local`). */
  readonly type: string;
  add(args: CniArgs, conf: Conf): CniResult;
  del(args: CniArgs, conf: Conf): void;
  check(args: CniArgs, conf: Conf): void;
}

/** The network a kubelet attaches pods to: one plugin and its configuration, as `/etc/cni/net.d` gives it. */
export interface PodNetwork {
  readonly pluginType: string;
  add(args: CniArgs): CniResult;
  del(args: CniArgs): void;
}

/** Binds a plugin to its configuration. */
export function podNetwork<Conf>(plugin: CniPlugin<Conf>, conf: Conf): PodNetwork {
  return { pluginType: plugin.type, add: (a) => plugin.add(a, conf), del: (a) => plugin.del(a, conf) };
}
