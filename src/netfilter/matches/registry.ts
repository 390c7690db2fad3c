/**
 * @module netfilter/matches/registry
 * The literal table of match modules podwire parses and evaluates (STYLE 3.6). A module not in
 * this table is kept verbatim as `{kind: "unknown"}`: it parses, prints back, and makes a trace
 * say "cannot evaluate -m X".
 */
import { conntrackModule, connmarkMatchModule, markMatchModule, stateModule } from "./ct.js";
import { addrtypeModule, commentModule, iprangeModule, limitModule, nfacctModule, physdevModule, pkttypeModule, recentModule, setModule, statisticModule } from "./misc.js";
import type { MatchModule } from "./module.js";
import { icmpModule, multiportModule, tcpModule, udpModule } from "./ports.js";

export const MATCH_MODULES: ReadonlyMap<string, MatchModule> = new Map<string, MatchModule>(
  (
    [
      tcpModule,
      udpModule,
      icmpModule,
      multiportModule,
      commentModule,
      statisticModule,
      markMatchModule,
      connmarkMatchModule,
      conntrackModule,
      stateModule,
      addrtypeModule,
      recentModule,
      physdevModule,
      pkttypeModule,
      iprangeModule,
      limitModule,
      nfacctModule,
      setModule,
    ] as MatchModule[]
  ).map((m) => [m.name, m]),
);
