#!/usr/bin/env node
// The only place that touches process.argv, the real streams and process.exit.
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  isTTY: Boolean(process.stdout.isTTY),
  env: process.env,
});
