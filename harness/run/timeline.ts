/**
 * Where a command's time goes before, between and after the timed runs. With DETBENCH_TIMELINE=1
 * (npm run bench sets it) or DETBENCH_DEBUG=1, each phase boundary writes one stderr line
 * `detbench timeline <epoch ms> <process CPU ms> <event> [detail]`, from whichever thread or process
 * reaches it. Epoch milliseconds (not performance.now(), whose origin differs per thread) put them
 * on one clock, the one `npm run bench` also starts its stopwatch on; the CPU time is this
 * process's, all its threads together (not its child processes'), which says how much work a phase
 * did where wall-clock time on a shared machine cannot. Off, a mark costs one comparison.
 */
const enabled = process.env.DETBENCH_TIMELINE === '1' || process.env.DETBENCH_DEBUG === '1';

export const TIMELINE_PREFIX = 'detbench timeline ';

export function mark(event: string): void {
  if (!enabled) return;
  const cpu = process.cpuUsage();
  process.stderr.write(`${TIMELINE_PREFIX}${(performance.timeOrigin + performance.now()).toFixed(1)} ${((cpu.user + cpu.system) / 1000).toFixed(0)} ${event}\n`);
}

/** Marks `<event>:start` and `<event>:end` around `work`. */
export async function span<T>(event: string, work: () => Promise<T>): Promise<T> {
  mark(`${event}:start`);
  try {
    return await work();
  } finally {
    mark(`${event}:end`);
  }
}
