/**
 * Probes that load a GPU stack run in a child process: a failing driver can print native errors or
 * abort, and neither may reach the suite. The probe script prints one JSON object as its last line.
 */
import { spawn } from 'node:child_process';
import { childModule } from './tsx.mjs';

export type ProbeOutcome<T> = { ok: true; result: T; stderr: string } | { ok: false; error: string; stderr: string };

/** A command's output, whatever its exit: probes read what a failing command printed. */
export function capture(file: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string; error?: string }> {
  return new Promise((resolve) => {
    // detached: a process group of its own, so a signal to detbench's group does not turn a probe into
    // "unavailable" (run/signals.ts); the timeout still ends it
    const child = spawn(file, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [], err: Buffer[] = [];
    let size = 0;
    let error: string | undefined;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_OUTPUT_BYTES) into.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    const timer = setTimeout(() => {
      error = `no answer within ${timeoutMs / 1000} s (SIGTERM)`;
      child.kill('SIGTERM');
    }, timeoutMs);
    child.on('error', (e) => (error ??= e.message));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: error ? null : code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ...(error ? { error } : {}) });
    });
  });
}

const MAX_OUTPUT_BYTES = 16 << 20;

/** Runs `module` (a URL next to the caller; see tsx.mjs's childModule) in a child process and parses its last stdout line. */
export async function probeInChild<T extends { ok: boolean; error?: string }>(module: URL, args: string[] = [], timeoutMs = 60_000): Promise<ProbeOutcome<T>> {
  const { script, execArgv } = childModule(module);
  const r = await capture(process.execPath, [...execArgv, script, ...args], timeoutMs);
  const stderr = r.stderr.trim();
  const line = r.stdout.trim().split('\n').filter(Boolean).at(-1);
  try {
    const result = JSON.parse(line ?? '') as T;
    return result.ok ? { ok: true, result, stderr } : { ok: false, error: result.error ?? 'unknown error', stderr };
  } catch {
    return { ok: false, error: r.error ?? `the probe process ended with code ${r.status}`, stderr };
  }
}
