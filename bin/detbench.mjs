#!/usr/bin/env node
// The detbench command. It loads the CLI, compiled or through tsx (harness/run/tsx.mjs), and runs it
// here, in one process: a signal sent to the process group reaches one detbench, which handles it
// once (harness/run/signals.ts). Signals that arrive while the code is still loading are kept and
// handed over, so Ctrl-C works from the first moment.
const early = [];
const keep = (signal) => early.push({ signal, at: performance.now() });
process.on('SIGINT', keep);
process.on('SIGTERM', keep);
if (process.env.DETBENCH_DEBUG === '1') process.stderr.write('detbench: [debug] SIGINT and SIGTERM are handled from here on\n');

const { importTs } = await import('../harness/run/tsx.mjs');
const { run } = await importTs(new URL('../harness/cli.ts', import.meta.url));
process.off('SIGINT', keep);
process.off('SIGTERM', keep);
await run(process.argv.slice(2), early);
