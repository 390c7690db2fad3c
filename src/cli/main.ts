/**
 * @module cli/main
 * Builds the commander program and runs it with injected streams. Exit codes (CLI.md):
 * 0 success, 1 bad input (one line per problem on stderr), 2 internal error (stack with --debug).
 */
import { Command, CommanderError } from "commander";
import { readFileSync } from "node:fs";
import { register as registerGet } from "./commands/get.js";
import { register as registerIptables } from "./commands/iptables.js";
import { register as registerViews } from "./commands/views.js";
import { register as registerTrace } from "./commands/trace.js";
import { register as registerMaterialize } from "./commands/materialize.js";
import { UsageError, type CliIo } from "./io.js";

/** Builds the program; commands write to `io`. */
export function buildProgram(io: CliIo): Command {
  const program = new Command("podwire")
    .description("packet-level emulator of Kubernetes container networking")
    .version("0.1.0")
    .option("--debug", "print stack traces of internal errors")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined })
    .showHelpAfterError(false);
  registerTrace(program, io);
  registerIptables(program, io);
  registerGet(program, io);
  registerViews(program, io);
  registerMaterialize(program, io);
  for (const c of program.commands) {
    c.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined });
    for (const s of c.commands) s.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined });
  }
  return program;
}

/** Runs podwire with arguments (without node and script); returns the exit code. */
export async function main(argv: readonly string[], io0: CliIo): Promise<number> {
  const io: CliIo = { readFile: (p) => readFileSync(p, "utf8"), ...io0 };
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0 || e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
      io.stderr(`podwire: ${e.message.replace(/^error: /, "")}\n`);
      return 1;
    }
    if (e instanceof UsageError) {
      io.stderr(`podwire: ${e.message}\n`);
      return 1;
    }
    io.stderr(`podwire: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    if (argv.includes("--debug") && e instanceof Error && e.stack) io.stderr(`${e.stack}\n`);
    return 2;
  }
}
