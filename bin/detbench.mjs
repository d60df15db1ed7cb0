#!/usr/bin/env node
// The detbench command. It registers the tsx loader in this process (TypeScript runs without a build
// step; see harness/run/tsx.mjs) and runs the CLI here, in one process: a signal sent to the process
// group reaches one detbench, which handles it once (harness/run/signals.ts). Signals that arrive
// while the code is still loading are kept and handed over, so Ctrl-C works from the first moment.
const early = [];
const keep = (signal) => early.push({ signal, at: performance.now() });
process.on('SIGINT', keep);
process.on('SIGTERM', keep);
if (process.env.DETBENCH_DEBUG === '1') process.stderr.write('detbench: [debug] SIGINT and SIGTERM are handled from here on\n');

const { registerTsx } = await import('../harness/run/tsx.mjs');
registerTsx();
const { run } = await import('../harness/cli.ts');
process.off('SIGINT', keep);
process.off('SIGTERM', keep);
await run(process.argv.slice(2), early);
