/**
 * Exit 4 is an internal error, never a verdict: an exception nobody expected prints one line that
 * says what to report, and the stack only with DETBENCH_DEBUG=1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXIT, internalErrorReport, message } from '../harness/errors.ts';
import { mirrorFresh } from '../harness/run/compiled.mjs';

const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
const plugin = fileURLToPath(new URL('./fixtures/findings-backends.ts', import.meta.url));
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-exit-'));
const stackLine = /^\s+at /m;

test('the internal-error report: one line; the stack only when asked for', () => {
  const err = new Error('two\nlines');
  assert.equal(internalErrorReport(err, false), `detbench: ${message.internalError('two lines')}\n`);
  const debug = internalErrorReport(err, true);
  assert.ok(debug.startsWith(`detbench: ${message.internalError('two lines')}\n`));
  assert.match(debug, stackLine);
  assert.equal(internalErrorReport('not an Error', true), `detbench: ${message.internalError('not an Error')}\n`);
});

test('a backend that throws where none may: exit 4 and one line, not exit 1 and a stack', () => {
  const r = spawnSync(process.execPath, [bin, 'run', '--backends', 'fake-buggy', '--workloads', 'matmul', '--repeats', '2', '--no-report', '--out', out], {
    encoding: 'utf8', timeout: 120_000, env: { ...process.env, DETBENCH_PLUGINS: plugin, DETBENCH_DEBUG: '' },
  });
  assert.equal(r.status, EXIT.internal, r.stderr);
  const line = `detbench: ${message.internalError('fake-buggy: supports() is broken (a second line that must not reach the terminal)')}`;
  assert.deepEqual(r.stderr.split('\n').filter((l) => l.includes('internal error')), [line]);
  assert.doesNotMatch(r.stderr, stackLine);
  // with DETBENCH_DEBUG=1 the stack, through source maps: the TypeScript line that threw
  const debug = spawnSync(process.execPath, [bin, 'run', '--backends', 'fake-buggy', '--workloads', 'matmul', '--repeats', '2', '--no-report', '--out', out], {
    encoding: 'utf8', timeout: 120_000, env: { ...process.env, DETBENCH_PLUGINS: plugin, DETBENCH_DEBUG: '1' },
  });
  assert.equal(debug.status, EXIT.internal, debug.stderr);
  const thrown = fs.readFileSync(plugin, 'utf8').split('\n').findIndex((l) => l.includes("supports() is broken")) + 1;
  assert.match(debug.stderr, new RegExp(`findings-backends\\.ts:${thrown}:`));
});

test("a plugin outside the project that throws detbench's UsageError: exit 2 and its line, compiled or not", { skip: !mirrorFresh() && 'the compiled mirror is stale: npm run compile' }, () => {
  // outside the compiled folders, the plugin loads the sources through tsx: its own copy of errors.ts
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-plugin-'));
  fs.writeFileSync(path.join(folder, 'package.json'), '{ "type": "module" }\n');
  const errors = JSON.stringify(fileURLToPath(new URL('../harness/errors.ts', import.meta.url)));
  fs.writeFileSync(path.join(folder, 'plugin.ts'), `import { UsageError } from ${errors};
const available = async () => ({ available: true as const, version: '0', devices: ['cpu'], notes: [] });
export const backends = [{
  info: { id: 'fake-needs-setup', description: 'test double', deviceKinds: ['cpu'], processPerMode: false, threadControl: false, capabilities: 'none' },
  probe: available,
  supports: () => { throw new UsageError('fake-needs-setup: set FAKE_SETUP=1 first'); },
  open: async () => { throw new Error('never opened'); },
}];
`);
  for (const compiled of ['', '0']) {
    const r = spawnSync(process.execPath, [bin, 'run', '--backends', 'fake-needs-setup', '--workloads', 'matmul', '--repeats', '2', '--no-report', '--out', out], {
      encoding: 'utf8', timeout: 120_000, env: { ...process.env, DETBENCH_PLUGINS: path.join(folder, 'plugin.ts'), DETBENCH_COMPILED: compiled, DETBENCH_DEBUG: '' },
    });
    assert.equal(r.status, EXIT.usage, `DETBENCH_COMPILED=${compiled}: ${r.stderr}`);
    assert.match(r.stderr, /^detbench: fake-needs-setup: set FAKE_SETUP=1 first$/m);
  }
});
