#!/usr/bin/env node
// Runs harness/cli.ts with the tsx loader registered for this process and every worker thread it
// starts (worker threads inherit --import; a loader registered at run time would not reach them).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

if (process.env.DETBENCH_TIMELINE === '1' || process.env.DETBENCH_DEBUG === '1') {
  // see harness/run/timeline.ts
  process.stderr.write(`detbench timeline ${(performance.timeOrigin + performance.now()).toFixed(1)} bin\n`);
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsx = path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/loader.mjs');
const child = spawn(process.execPath, ['--import', pathToFileURL(tsx).href, path.join(root, 'harness/cli.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 2 : 1)));
