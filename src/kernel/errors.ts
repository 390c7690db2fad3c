/**
 * @module kernel/errors
 * The error a refused mutation throws, worded as the real command (`ip`, `bridge`, `sysctl`,
 * `iptables-restore`) would report it.
 */

/** A failed mutation, worded as the real command would report it. */
export class KernelError extends Error {
  override readonly name = "KernelError";
}
