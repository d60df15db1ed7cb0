/**
 * Probes that load a GPU stack run in a child process: a failing driver can print native errors or
 * abort, and neither may reach the suite. The probe script prints one JSON object as its last line.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const TSX_LOADER = pathToFileURL(path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/loader.mjs')).href;

export type ProbeOutcome<T> = { ok: true; result: T; stderr: string } | { ok: false; error: string; stderr: string };

/** Runs `script` (a URL next to the caller) with tsx in a child process and parses its last stdout line. */
export function probeInChild<T extends { ok: boolean; error?: string }>(script: URL, args: string[] = [], timeoutMs = 60_000): ProbeOutcome<T> {
  const r = spawnSync(process.execPath, ['--import', TSX_LOADER, fileURLToPath(script), ...args], { encoding: 'utf8', timeout: timeoutMs });
  const stderr = (r.stderr ?? '').trim();
  const line = (r.stdout ?? '').trim().split('\n').filter(Boolean).at(-1);
  try {
    const result = JSON.parse(line ?? '') as T;
    return result.ok ? { ok: true, result, stderr } : { ok: false, error: result.error ?? 'unknown error', stderr };
  } catch {
    const why = r.error ? r.error.message : `the probe process ended with code ${r.status}${r.signal ? ` (${r.signal})` : ''}`;
    return { ok: false, error: why, stderr };
  }
}
