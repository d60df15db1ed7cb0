#!/usr/bin/env node
// Runs harness/cli.ts in this process, with tsx registered at run time: one Node start instead of
// two (this launcher used to spawn a second node with --import). Hooks registered at run time, like
// an --import loader on Node 20, do not reach worker threads or child processes: the worker entries
// (harness/run/worker-entry.mjs, shard-entry.mjs) register tsx themselves, and child processes
// start with --import (TSX_LOADER in harness/run/child-probe.ts).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { register as registerCjs } from 'tsx/cjs/api';
import { register as registerEsm } from 'tsx/esm/api';

if (process.env.DETBENCH_TIMELINE === '1' || process.env.DETBENCH_DEBUG === '1') {
  // see harness/run/timeline.ts
  const cpu = process.cpuUsage();
  process.stderr.write(`detbench timeline ${(performance.timeOrigin + performance.now()).toFixed(1)} ${((cpu.user + cpu.system) / 1000).toFixed(0)} bin\n`);
}
registerCjs();
registerEsm();
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../harness/cli.ts');
// cli.ts runs its main() (exit codes, internal errors) when it is the entry point, process.argv[1]
process.argv[1] = cli;
await import(pathToFileURL(cli).href);
