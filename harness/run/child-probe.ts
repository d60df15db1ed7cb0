/**
 * Probes that load a GPU stack run in a child process: a failing driver can print native errors or
 * abort, and neither may reach the suite. The probe script prints one JSON object as its last line.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const TSX_LOADER = pathToFileURL(path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/loader.mjs')).href;

export type ProbeOutcome<T> = { ok: true; result: T; stderr: string } | { ok: false; error: string; stderr: string };

/** A command's output, whatever its exit: probes read what a failing command printed. */
export function capture(file: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string; error?: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20, env }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string }) | null;
      const status = e ? (typeof e.code === 'number' ? e.code : null) : 0;
      // a command that cannot start (ENOENT…) or was killed by the timeout has no exit status
      const error = e && status === null ? (e.killed ? `no answer within ${timeoutMs / 1000} s${e.signal ? ` (${e.signal})` : ''}` : e.message) : undefined;
      resolve({ status, stdout: stdout ?? '', stderr: stderr ?? '', ...(error ? { error } : {}) });
    });
  });
}

/** Runs `script` (a URL next to the caller) with tsx in a child process and parses its last stdout line. */
export async function probeInChild<T extends { ok: boolean; error?: string }>(script: URL, args: string[] = [], timeoutMs = 60_000): Promise<ProbeOutcome<T>> {
  const r = await capture(process.execPath, ['--import', TSX_LOADER, fileURLToPath(script), ...args], timeoutMs);
  const stderr = r.stderr.trim();
  const line = r.stdout.trim().split('\n').filter(Boolean).at(-1);
  try {
    const result = JSON.parse(line ?? '') as T;
    return result.ok ? { ok: true, result, stderr } : { ok: false, error: result.error ?? 'unknown error', stderr };
  } catch {
    return { ok: false, error: r.error ?? `the probe process ended with code ${r.status}`, stderr };
  }
}
