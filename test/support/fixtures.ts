/**
 * Loads the packet fixtures captured from the real kernel (see test/fixtures/README.md).
 * Each fixture has a name, its bytes, and the line tcpdump printed for it.
 */
import { readFileSync } from "node:fs";
import { fromHex } from "../../src/net/bytes.js";

export interface CapturedFrame {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** What `tcpdump -nn -e` printed, without the timestamp. */
  readonly tcpdump: string;
}

export function loadCapture(): ReadonlyMap<string, CapturedFrame> {
  const text = readFileSync(new URL("../fixtures/veth-capture.txt", import.meta.url), "utf8");
  const out = new Map<string, CapturedFrame>();
  let line = "";
  for (const l of text.split("\n")) {
    if (l.startsWith("# ")) {
      line = l.slice(2).replace(/^\S+ /, "");
    } else if (l.trim() !== "") {
      const [name, hex] = l.split(" ");
      out.set(name ?? "", { name: name ?? "", bytes: fromHex(hex ?? ""), tcpdump: line });
    }
  }
  return out;
}
