/**
 * Bad flags, paths, suite fields and plugins: one line naming the field and the fix, exit 2, before
 * anything starts (no backend probed, no folder written) — and nothing hangs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MAX_LOADER_WORKERS, THREADS_EXPECTED } from '../harness/axes.ts';
import { backendIds, loadPlugins } from '../harness/backends/index.ts';
import { MAX_CONCURRENCY, MAX_REPEATS, MAX_TIMEOUT_SEC, MIN_TIMEOUT_SEC } from '../harness/config.ts';
import { fingerprint } from '../harness/env.ts';
import { EXIT, message, UsageError } from '../harness/errors.ts';
import { WORKLOAD_IDS } from '../workloads/index.ts';
import { inProcess } from './fixtures/main.ts';
import { makeResults } from './fixtures/results.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-bad-input-'));
const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));

const cli = (...argv: string[]) => inProcess(argv);

async function refused(args: string[], expected: string | RegExp): Promise<void> {
  const r = await cli(...args);
  assert.equal(r.code, EXIT.usage, `${args.join(' ')} → exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${args.join(' ')}: one line, before any probing; got ${r.stderr}`);
  if (typeof expected === 'string') assert.equal(lines[0], `detbench: ${expected}`);
  else assert.match(lines[0], expected);
}

const file = (name: string, text: string) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
};

test('run flags out of range: refused with the field and its range', async () => {
  const out = path.join(tmp, 'out');
  await refused(['run', '--timeout', '3000000', '--out', out], message.timeout(3000000, MIN_TIMEOUT_SEC, MAX_TIMEOUT_SEC));
  await refused(['run', '--timeout', '0.0001', '--out', out], message.timeout(0.0001, MIN_TIMEOUT_SEC, MAX_TIMEOUT_SEC));
  await refused(['run', '--seed', '9007199254740993', '--out', out], message.seed(9007199254740992));
  await refused(['run', '--seed', '1e99', '--out', out], message.seed(1e99));
  await refused(['run', '--shard', '3/2', '--out', out], message.shard('3/2'));
  await refused(['run', '--backends', ',', '--out', out], message.emptyList('backends', backendIds()));
  await refused(['run', '--workloads', ',', '--out', out], message.emptyList('workloads', WORKLOAD_IDS));
  await refused(['run', '--budget', '10', '--out', out], message.budgetWithoutPrecision());
  await refused(['run', '--concurrency', '0', '--out', out], message.concurrency(0, MAX_CONCURRENCY));
  // past these the plan's runs or the pool's threads took the memory: exit 4 (out of memory) or a crash, not a line
  await refused(['run', '--concurrency', '1e9', '--out', out], message.concurrency(1e9, MAX_CONCURRENCY));
  await refused(['run', '--repeats', '1e308', '--out', out], message.repeats(1e308, MAX_REPEATS));
  await refused(['run', '--repeats', String(MAX_REPEATS + 1), '--out', out], message.repeats(MAX_REPEATS + 1, MAX_REPEATS));
  // threads and loader workers are started: 1e9 threads failed in onnxruntime, 100,000 loader workers took the host's memory
  await refused(['run', '--threads', '1e9', '--out', out], message.axisValues('threads', THREADS_EXPECTED, [1e9]));
  await refused(['run', '--loader-workers', String(MAX_LOADER_WORKERS + 1), '--out', out], message.axisValues('loaderWorkers', `whole numbers from 0 to ${MAX_LOADER_WORKERS} (e.g. 0,2,4)`, [MAX_LOADER_WORKERS + 1]));
  assert.ok(!fs.existsSync(out), 'nothing was written for a refused run');
});

test('suite files whose fields have the wrong shape are refused, not ignored', async () => {
  await refused(['run', '--suite', file('params5.yaml', 'params: 5\n')], message.suiteParams(5));
  await refused(['run', '--suite', file('params-matmul5.yaml', 'params: { matmul: 5 }\n')], message.suiteParamsOf('matmul', 5));
  await refused(['run', '--suite', file('name.yaml', 'name: [1, 2]\n')], message.suiteName([1, 2]));
  // an endless soak was accepted, and the manifest stored it as null: the folder did not read back
  await refused(['run', '--suite', file('soak-inf.yaml', 'soakSec: .inf\n')], message.soak(Infinity));
  assert.match(message.soak(Infinity), /got Infinity$/);
});

test('folders that cannot be written: one line, no hang (procfs made recursive mkdir spin)', async () => {
  const aFile = file('a-file', 'x');
  const dangling = path.join(tmp, 'dangling');
  fs.symlinkSync(path.join(tmp, 'nowhere'), dangling);
  const why = /^detbench: cannot use .+ as a folder to write to: .+; pass --\w+ a folder you can create and write$/;
  for (const out of ['/proc/detbench-out', '/proc/detbench-out/a/b', '/sys/detbench-out', aFile, path.join(aFile, 'sub'), dangling]) {
    await refused(['run', '--out', out], why);
  }
  await refused(['report', tmp, '--out', '/proc/xx'], why);
  await refused(['baseline', 'save', tmp, '--dir', aFile], why);
});

test('compare --save creates the folder it is given', async () => {
  // two copies of one tiny finished folder; compare exits 0 and saves into a folder that did not exist
  const a = makeResults(tmp, { workloads: ['matmul'], backends: ['tfjs-cpu'], repeats: 2 });
  const save = path.join(tmp, 'saved', 'deeper');
  const r = await cli('compare', a, a, '--save', save, '--json');
  assert.equal(r.code, EXIT.ok, r.stderr);
  assert.ok(fs.existsSync(path.join(save, 'compare.json')) && fs.existsSync(path.join(save, 'compare.txt')));
});

test('DETBENCH_PLUGINS: a missing file, a module that throws, a syntax error, a wrong export, a duplicate id', async () => {
  const cases: Array<[string, string | RegExp]> = [
    [path.join(tmp, 'nonexistent.mjs'), message.pluginMissing(path.join(tmp, 'nonexistent.mjs'))],
    [file('throws.mjs', 'throw new Error("plugin exploded");\n'), message.pluginLoad(path.join(tmp, 'throws.mjs'), 'plugin exploded')],
    [file('syntax.mjs', 'export const backends = [;\n'), new RegExp(`^DETBENCH_PLUGINS: ${path.join(tmp, 'syntax.mjs')} cannot be loaded \\(`)],
    [file('five.mjs', 'export const backends = 5;\n'), message.pluginShape(path.join(tmp, 'five.mjs'))],
    [file('dup.mjs', 'export const backends = [{ info: { id: "tfjs-cpu" } }];\n'), message.pluginDuplicate(path.join(tmp, 'dup.mjs'), 'tfjs-cpu')],
  ];
  for (const [plugin, expected] of cases) {
    await assert.rejects(loadPlugins(plugin), (err: Error) => {
      assert.ok(err instanceof UsageError, `${plugin}: ${err}`);
      if (typeof expected === 'string') assert.equal(err.message, expected);
      else assert.match(err.message, expected);
      return true;
    });
  }
  // and through the command: one line, exit 2
  const r = spawnSync(process.execPath, [bin, 'workloads'], { encoding: 'utf8', env: { ...process.env, DETBENCH_PLUGINS: path.join(tmp, 'syntax.mjs') } });
  assert.equal(r.status, EXIT.usage, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test('DETBENCH_PLUGINS: a TypeScript plugin in a folder with no package.json (CommonJS scope) loads through the command', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'plugin-'));
  fs.writeFileSync(path.join(dir, 'helper.ts'), 'export const id: string = "ts-plugin-backend";\n');
  const plugin = file(path.join(path.basename(dir), 'plugin.ts'), 'import { id } from "./helper";\nexport const backends: unknown[] = [{ info: { id } }];\n');
  const r = spawnSync(process.execPath, [bin, 'workloads'], { encoding: 'utf8', env: { ...process.env, DETBENCH_PLUGINS: plugin } });
  assert.equal(r.status, EXIT.ok, r.stderr);
});

test('the fingerprint asks git without optional locks (no .git/index.lock from a results run)', () => {
  const fakeBin = fs.mkdtempSync(path.join(tmp, 'bin-'));
  const log = path.join(fakeBin, 'calls');
  fs.writeFileSync(path.join(fakeBin, 'git'), `#!/bin/sh\necho "$@" >> ${log}\necho 0123456789abcdef\n`, { mode: 0o755 });
  const saved = process.env.PATH;
  process.env.PATH = `${fakeBin}${path.delimiter}${saved}`;
  try {
    fingerprint(fileURLToPath(new URL('..', import.meta.url)));
  } finally {
    process.env.PATH = saved;
  }
  const status = fs.readFileSync(log, 'utf8').split('\n').find((l) => l.includes('status'));
  assert.ok(status?.startsWith('--no-optional-locks status'), `git was called as: ${status}`);
});
