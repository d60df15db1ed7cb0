/**
 * A child process for a backend that needs process-wide settings (environment variables read once
 * by a native library at load). The runner forks one per (backend, mode) with that environment and
 * sends it run requests; it answers with the same results a worker thread would.
 */
import { loadPlugins } from '../backends/index.js';
import type { RunRequest } from '../protocol.js';
import runTask from './worker.js';

await loadPlugins();
// detbench started this process in a group of its own and ends it by closing the IPC channel (or
// killing it); a parent that died without doing so leaves the channel closed too
process.on('disconnect', () => process.exit(0));
process.on('message', async (req: RunRequest) => {
  const result = await runTask(req);
  process.send!(result);
});
process.send!({ ready: true });
