/**
 * What hostile.test.ts leaves out: the readers of history and publish (nights.ts, the site's state
 * file), and where report, publish and baseline write or look. Named pipes must not hang a command,
 * links must not take a read or a write out of the folders given, and a results folder must never
 * have its summary replaced by another run's. Commands run in one child with every file system call
 * recorded (test/fixtures/in-process.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backendIds } from '../harness/backends/index.ts';
import { message } from '../harness/errors.ts';
import { WORKLOAD_IDS } from '../workloads/index.ts';
import { saveBaseline } from '../harness/baselines.ts';
import { loadResults } from '../harness/store.ts';
import { confinedCommands, startCliHost } from './fixtures/in-process.ts';
import { makeResults } from './fixtures/results.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-hostile-outputs-'));
const suite = { workloads: ['matmul'], backends: ['tfjs-cpu'], repeats: 2 };
const host = startCliHost();
after(() => host.close());

/** A file outside every folder given to a command. */
const secret = path.join(root, 'secret.json');
fs.writeFileSync(secret, '{"secret": true}\n');

const { detbench, refused } = confinedCommands(host);

/** A finished results folder with its summary.json, inside a folder of its own; `text` is its run id (and every free-text field). */
async function night(text = 'plain'): Promise<string> {
  const dir = makeResults(root, { ...suite, text });
  const r = await detbench(['report', dir, '--format', 'json'], [dir]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

// the modules history and publish load on first use (ajv, the site's pages) are read outside the folders given: once, here
before(async () => {
  const dir = await night();
  for (const args of [['history', dir], ['publish', dir, '--out', fs.mkdtempSync(path.join(root, 'site-'))]]) {
    const r = await host.detbench(args);
    assert.equal(r.code, 0, r.stderr);
  }
});

const mkfifo = (file: string) => {
  fs.rmSync(file, { force: true });
  const made = spawnSync('mkfifo', [file]);
  assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
};

test('history and publish on a night whose summary.json or manifest.json is a named pipe: refused, no hang', { timeout: 60_000 }, async () => {
  for (const name of ['summary.json', 'manifest.json']) {
    const dir = await night();
    const file = path.join(dir, name);
    mkfifo(file);
    await refused(['history', dir], [dir], message.notRegularFile(file, 'a named pipe'));
    const site = fs.mkdtempSync(path.join(root, 'site-'));
    await refused(['publish', dir, '--out', site], [dir, site], message.notRegularFile(file, 'a named pipe'));
  }
});

test('history on a night whose summary.json links elsewhere: refused, the link is not followed', { timeout: 60_000 }, async () => {
  const dir = await night();
  // the same summary, elsewhere: following the link would pass every check
  const copy = path.join(root, 'summary-copy.json');
  fs.copyFileSync(path.join(dir, 'summary.json'), copy);
  for (const target of [copy, secret]) {
    fs.rmSync(path.join(dir, 'summary.json'));
    fs.symlinkSync(target, path.join(dir, 'summary.json'));
    await refused(['history', dir], [dir], message.notRegularFile(path.join(dir, 'summary.json'), 'a symbolic link'));
  }
});

test("history on a night whose summary.json is another run's: refused, not taken for this run's", { timeout: 60_000 }, async () => {
  const [a, b] = [await night('run-a'), await night('run-b')];
  fs.copyFileSync(path.join(a, 'summary.json'), path.join(b, 'summary.json'));
  const runId = (dir: string) => (JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { runId: string }).runId;
  await refused(['history', b], [b], message.resultsInconsistent(path.join(b, 'summary.json'), `\`runId\` is ${JSON.stringify(runId(a))}, but manifest.json's is ${JSON.stringify(runId(b))}`));
});

test('report --out another results folder: refused, its summary.json and report left as they were', { timeout: 60_000 }, async () => {
  const [a, b] = [await night(), await night()];
  const before = fs.readFileSync(path.join(b, 'summary.json'), 'utf8');
  await refused(['report', a, '--out', b, '--format', 'md,json'], [a, b], message.reportOutIsResults(b, a));
  assert.equal(fs.readFileSync(path.join(b, 'summary.json'), 'utf8'), before);
  assert.ok(!fs.existsSync(path.join(b, 'report.md')));
  // the folder itself, however spelled, and a plain folder are fine
  assert.equal((await detbench(['report', a, '--out', `${a}${path.sep}.`, '--format', 'md'], [a])).code, 0);
  const plain = fs.mkdtempSync(path.join(root, 'report-'));
  assert.equal((await detbench(['report', a, '--out', plain, '--format', 'md'], [a, plain])).code, 0);
});

test("publish: a state file that is a named pipe is rebuilt, without a hang; a site's cells/ linked elsewhere is refused, nothing written there", { timeout: 120_000 }, async () => {
  const dir = await night();
  const site = fs.mkdtempSync(path.join(root, 'site-'));
  mkfifo(path.join(site, '.detbench-site.json'));
  const r = await detbench(['publish', dir, '--out', site], [dir, site]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /\.detbench-site\.json is not a plain file: every page is rendered again/);
  assert.ok(fs.lstatSync(path.join(site, '.detbench-site.json')).isFile(), 'replaced by a state file');

  const linked = fs.mkdtempSync(path.join(root, 'site-'));
  fs.writeFileSync(path.join(linked, '.detbench-site.json'), '{}');
  const elsewhere = fs.mkdtempSync(path.join(root, 'elsewhere-'));
  fs.symlinkSync(elsewhere, path.join(linked, 'cells'));
  await refused(['publish', dir, '--out', linked], [dir, linked], message.siteEntry(path.join(linked, 'cells'), 'a symbolic link'));
  assert.deepEqual(fs.readdirSync(elsewhere), []);
});

test('baseline list and latest with --dir a file: one line, exit 2 (not an internal error)', async () => {
  const file = path.join(root, 'a-file');
  fs.writeFileSync(file, 'x');
  await refused(['baseline', 'list', '--dir', file], [file], message.baselinesNotFolder(file));
  const r = await host.detbench(['baseline', 'latest', '--dir', file]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr, `detbench: ${message.baselinesNotFolder(file)}\n`);
});

test('merge of a merged folder with another: every machine is kept and the merged folder reads back', { timeout: 60_000 }, async () => {
  const [a, b] = [await night('run-a'), await night('run-b')];
  const out = fs.mkdtempSync(path.join(root, 'merged-'));
  const first = await detbench(['merge', a, b, '--out', out, '--json'], [a, b, out]);
  assert.equal(first.code, 0, first.stderr);
  const ab = (JSON.parse(first.stdout) as { resultsDir: string }).resultsDir;
  // its records already say machine 0 or 1: taken as one machine, a run of a cell was recorded twice
  const again = fs.mkdtempSync(path.join(root, 'merged-'));
  const second = await detbench(['merge', ab, a, '--out', again, '--json'], [ab, a, again]);
  assert.equal(second.code, 0, second.stderr);
  const dir = (JSON.parse(second.stdout) as { resultsDir: string }).resultsDir;
  const merged = loadResults(dir);
  assert.deepEqual(merged.manifest.machines?.map((m) => [m.machine, m.sourceRunId]), [[0, 'run-a'], [1, 'run-b'], [2, 'run-a']]);
  assert.deepEqual([...new Set(merged.runs.map((r) => r.machine))].sort(), [0, 1, 2]);
  assert.equal(merged.runs.length, 3 * loadResults(a).runs.length);
});

test('--junit naming a file that is no JUnit report (a results folder\'s runs.jsonl): refused, the file kept; a report written before is replaced', { timeout: 60_000 }, async () => {
  const [a, b] = [await night(), await night()];
  const runs = path.join(b, 'runs.jsonl');
  const before = fs.readFileSync(runs, 'utf8');
  await refused(['compare', a, b, '--junit', runs], [a, b], message.outputFile('--junit', runs, 'it exists and is no JUnit report (replacing it would lose what it holds)'));
  assert.equal(fs.readFileSync(runs, 'utf8'), before);
  const junit = path.join(b, 'junit.xml');
  for (let i = 0; i < 2; i++) assert.equal((await detbench(['compare', a, b, '--junit', junit], [a, b])).code, 0);
  assert.match(fs.readFileSync(junit, 'utf8'), /^<\?xml[^>]*>\s*<testsuites /);
});

test('a field nested 100,000 deep (in a record, in the manifest): one line and exit 2, not a stack overflow (exit 4)', { timeout: 60_000 }, async () => {
  const deepArray = '['.repeat(100_000) + ']'.repeat(100_000);
  const deepObject = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
  const record = await night();
  const runs = path.join(record, 'runs.jsonl');
  const lines = fs.readFileSync(runs, 'utf8').trimEnd().split('\n');
  assert.ok(lines[0].includes('"workload":"matmul"'));
  lines[0] = lines[0].replace('"workload":"matmul"', `"workload":${deepObject}`);
  fs.writeFileSync(runs, lines.join('\n') + '\n');
  await refused(['analyze', record], [record], message.resultsInvalid(`${runs} line 1`, 'workload', `must be string, got {"a":{"a":{"a":{"a":{"a":{"a":{"a":{"…`));

  const env = await night();
  const manifest = path.join(env, 'manifest.json');
  const m = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { environment: { env: Record<string, string> } };
  m.environment.env.DEEP = 'DEEP';
  fs.writeFileSync(manifest, JSON.stringify(m).replace('"DEEP":"DEEP"', `"DEEP":${deepArray}`));
  await refused(['analyze', env], [env], message.resultsInvalid(manifest, 'environment.env.DEEP', `must be string, got ${'['.repeat(37)}…`));
  // history reads the fingerprint whole (nights.ts), not through loadResults
  await refused(['history', env], [env], message.resultsField(manifest, '/environment/env/DEEP', 'must be string'));
});

test('report, locate and analyze on a saved baseline: refused, the baseline left as it was (its summary was replaced by one of 0 runs)', { timeout: 120_000 }, async () => {
  const dir = await night();
  const saved = saveBaseline(dir, fs.mkdtempSync(path.join(root, 'baselines-'))).entry.dir;
  const files = () => Object.fromEntries(fs.readdirSync(saved, { recursive: true }).map((f) => String(f)).sort().map((f) => [f, fs.statSync(path.join(saved, f)).isFile() ? fs.readFileSync(path.join(saved, f), 'utf8') : 'folder']));
  const before = files();
  await refused(['report', saved, '--format', 'md,json'], [saved], message.savedBaselineNotResults(saved));
  await refused(['analyze', saved], [saved], message.savedBaselineNotResults(saved));
  // locate starts a runner (a scratch folder elsewhere) before it reads the folder: exit and line only
  const located = await host.detbench(['locate', saved, '--no-report']);
  assert.equal(located.code, 2, located.stderr);
  assert.equal(located.stderr, `detbench: ${message.savedBaselineNotResults(saved)}\n`);
  assert.deepEqual(files(), before);
  // what a baseline is for still works
  assert.equal((await detbench(['compare', saved, dir], [saved, dir])).code, 0);
});

test('--expect with a cell pattern of 40 stars and a last character no cell id has: the command ends (it backtracked for hours)', { timeout: 120_000 }, () => {
  const a = makeResults(root, suite);
  const b = makeResults(root, { ...suite, detUnstable: true });
  const expect = path.join(root, 'stars.yml');
  fs.writeFileSync(expect, `expectations:\n  - { cell: "${'*'.repeat(40)}!", expect: unstable, reason: "matches nothing" }\n`);
  const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
  // its own process: a regular expression that backtracks cannot be stopped inside one
  const r = spawnSync(process.execPath, [bin, 'compare', a, b, '--expect', expect, '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 1, `exit ${r.status} (${r.signal ?? 'no signal'}): ${r.stderr}`);
  const kinds = (JSON.parse(r.stdout) as { findings: Array<{ kind: string }> }).findings.map((f) => f.kind);
  assert.ok(kinds.includes('determinism-regression') && kinds.includes('expectation-unmatched'), kinds.join(', '));
});

test('compare --confirm into CURRENT/confirm, a link planted there to a folder elsewhere: refused before any re-run, nothing written there', { timeout: 60_000 }, async () => {
  const a = makeResults(root, suite);
  const b = makeResults(root, { ...suite, detUnstable: true });
  const elsewhere = fs.mkdtempSync(path.join(root, 'elsewhere-'));
  fs.symlinkSync(elsewhere, path.join(b, 'confirm'));
  await refused(['compare', a, b, '--confirm', '1'], [a, b], message.notRegularFile(path.join(b, 'confirm'), 'a symbolic link'));
  assert.deepEqual(fs.readdirSync(elsewhere), []);
});

test('a name or path with a line break (a flag, a suite file, a folder) still gets one line', async () => {
  const out = fs.mkdtempSync(path.join(root, 'out-'));
  await refused(['run', '--workloads', 'mat\nmul', '--out', out], [out], message.unknownWorkload('mat\nmul', WORKLOAD_IDS));
  await refused(['run', '--backends', 'x\ny', '--out', out], [out], message.unknownBackend('x\ny', backendIds()));
  const suiteFile = path.join(out, 'suite.yaml');
  fs.writeFileSync(suiteFile, 'workloads: ["a\\nb"]\n');
  // (the yaml package loads from node_modules on first use: exit and line only)
  const fromSuite = await host.detbench(['run', '--suite', suiteFile, '--out', out]);
  assert.equal(fromSuite.code, 2);
  assert.equal(fromSuite.stderr, `detbench: ${message.unknownWorkload('a\nb', WORKLOAD_IDS)}\n`);
  const odd = path.join(out, 'a\nb');
  fs.mkdirSync(odd);
  await refused(['analyze', odd], [odd], message.resultsMissing(odd).replace('\n', '\\n'));
});

test("publish: a state file whose kept night is damaged (its folder's stamp unchanged) is rebuilt, not an internal error", { timeout: 60_000 }, async () => {
  const dir = await night();
  const site = fs.mkdtempSync(path.join(root, 'site-'));
  assert.equal((await detbench(['publish', dir, '--out', site], [dir, site])).code, 0);
  const file = path.join(site, '.detbench-site.json');
  const state = JSON.parse(fs.readFileSync(file, 'utf8')) as { nights: Array<[string, { night: Record<string, unknown> }]> };
  Object.assign(state.nights[0][1].night, { createdAt: null, cells: [{ cell: 5 }] });
  fs.writeFileSync(file, JSON.stringify(state));
  const r = await detbench(['publish', dir, '--out', site], [dir, site]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /\.detbench-site\.json is damaged: every page is rendered again/);
});
