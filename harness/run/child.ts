/**
 * A child process for a backend that needs process-wide settings (environment variables read once
 * by a native library at load). The runner forks one per (backend, mode) with that environment and
 * sends it run requests; it answers with the same results a worker thread would.
 */
import { loadPlugins } from '../backends/index.js';
import type { RunTask } from '../protocol.js';
import { setScratchRoot } from './scratch.js';
import runTask from './worker.js';

await loadPlugins();
// the runner's scratch folder, removed when it closes (a child may be killed before its backends clean up)
if (process.env.DETBENCH_SCRATCH) setScratchRoot(process.env.DETBENCH_SCRATCH);
// detbench started this process in a group of its own and ends it by closing the IPC channel (or
// killing it); a parent that died without doing so leaves the channel closed too
process.on('disconnect', () => process.exit(0));
process.on('message', async (req: RunTask) => {
  const result = await runTask(req);
  process.send!(result);
});
process.send!({ ready: true });
