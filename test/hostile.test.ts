/**
 * Hostile and damaged results folders (issue 9): every reader validates what it reads, refuses
 * with one line naming the file, the line and the field (exit 2), reads a killed run as incomplete
 * (exit 3), and never reads or writes outside the folders it was given. The commands run through
 * the CLI's main() in one long-lived child (test/fixtures/in-process.ts) with every file system call
 * recorded.
 */
import { SUMMARY_VERSION } from '../harness/analysis/summary.ts';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { saveBaseline } from '../harness/baselines.ts';
import { loadSide } from '../harness/analysis/compare.ts';
import { loadPlugins } from '../harness/backends/index.ts';
import { message } from '../harness/errors.ts';
import { cellId, type RunRecord, type RunRequest } from '../harness/protocol.ts';
import { runAll } from '../harness/run/runner.ts';
import { VALIDATORS_FILE, problemOf, validatorsSource } from '../harness/schema.ts';
import { ResultsWriter, artifactPath, loadResults, nonFiniteField, writeAtomic } from '../harness/store.ts';
import { confinedCommands, startCliHost } from './fixtures/in-process.ts';
import { fixtureManifest, makeResults } from './fixtures/results.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-hostile-'));
const traced = { workloads: ['matmul'], backends: ['tfjs-cpu', 'ort-cpu'], repeats: 2, traceSteps: 3 };
const good = () => makeResults(root, traced);
const runsOf = (dir: string) => path.join(dir, 'runs.jsonl');
const lines = (dir: string) => fs.readFileSync(runsOf(dir), 'utf8').trimEnd().split('\n');
const setLines = (dir: string, xs: string[]) => fs.writeFileSync(runsOf(dir), xs.join('\n') + '\n');
/** Edits record `i` of runs.jsonl as parsed JSON (`raw` edits its text after serialisation). */
function editRecord(dir: string, i: number, edit: (r: Record<string, unknown>) => void, raw = (text: string) => text) {
  const xs = lines(dir);
  const r = JSON.parse(xs[i]) as Record<string, unknown>;
  edit(r);
  xs[i] = raw(JSON.stringify(r));
  setLines(dir, xs);
}
const firstOk = (dir: string) => {
  const i = lines(dir).findIndex((l) => (JSON.parse(l) as RunRecord).status === 'ok');
  return { i, record: JSON.parse(lines(dir)[i]) as Extract<RunRecord, { status: 'ok' }> };
};

/** A file outside every folder given to a command: if anything reads it, the spy says so. */
const secret = path.join(root, 'secret');
fs.writeFileSync(secret, 'not results\n');

const host = startCliHost();
after(() => host.close());

/** Commands with file access recorded: each must stay inside `roots` (refused: exit 2, one line). */
const { detbench, refused } = confinedCommands(host);

/** The reading commands on one damaged folder: each refuses it with the same line. */
async function everyReaderRefuses(dir: string, expected: string | RegExp) {
  const other = good();
  const out = fs.mkdtempSync(path.join(root, 'out-'));
  await refused(['analyze', dir], [dir], expected);
  await refused(['report', dir, '--format', 'md,json'], [dir], expected);
  await refused(['compare', other, dir], [dir, other], expected);
  await refused(['compare', dir, other], [dir, other], expected);
  await refused(['baseline', 'save', dir, '--dir', out], [dir, out], expected);
  await refused(['merge', other, dir, '--out', out], [dir, other, out], expected);
  assert.deepEqual(fs.readdirSync(out), [], 'nothing is written before every source is checked');
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('a digest that is a path (../) is refused before any file is opened, by every command', async () => {
  const dir = good();
  const { i } = firstOk(dir);
  editRecord(dir, i, (r) => ((r.artifact as { sha256: string }).sha256 = '../../../secret'));
  await everyReaderRefuses(dir, new RegExp(`^${escape(runsOf(dir))} line ${i + 1}: \`artifact\\.sha256\` must be a sha256 digest \\(64 lowercase hex digits\\), got "\\.\\./\\.\\./\\.\\./secret"; `));
  const trace = good();
  editRecord(trace, firstOk(trace).i, (r) => ((r.stepTrace as { sha256: string }).sha256 = '../x'));
  await refused(['analyze', trace], [trace], /`stepTrace\.sha256` must be a sha256 digest/);
});

test('an artifact that is a symbolic link is refused, even to a file with the right content', async () => {
  const dir = good();
  const { record } = firstOk(dir);
  const file = artifactPath(dir, record.artifact.sha256);
  // the same bytes, outside: following the link would pass every digest check
  const copy = path.join(root, `copy-${record.artifact.sha256}`);
  fs.copyFileSync(file, copy);
  fs.rmSync(file);
  fs.symlinkSync(copy, file);
  await everyReaderRefuses(dir, message.notRegularFile(file, 'a symbolic link'));

  const linkedFolder = good();
  const artifacts = path.join(linkedFolder, 'artifacts');
  fs.renameSync(artifacts, path.join(root, `artifacts-${path.basename(path.dirname(linkedFolder))}`));
  fs.symlinkSync(path.join(root, `artifacts-${path.basename(path.dirname(linkedFolder))}`), artifacts);
  await refused(['analyze', linkedFolder], [linkedFolder], message.notRegularFile(artifacts, 'a symbolic link'));

  const linkedManifest = good();
  const manifest = path.join(linkedManifest, 'manifest.json');
  fs.copyFileSync(manifest, path.join(root, 'manifest-copy.json'));
  fs.rmSync(manifest);
  fs.symlinkSync(path.join(root, 'manifest-copy.json'), manifest);
  await refused(['analyze', linkedManifest], [linkedManifest], message.notRegularFile(manifest, 'a symbolic link'));
});

test('a named pipe in place of an artifact is refused without blocking', async () => {
  const dir = good();
  const file = artifactPath(dir, firstOk(dir).record.artifact.sha256);
  fs.rmSync(file);
  const made = spawnSync('mkfifo', [file]);
  assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
  await refused(['analyze', dir], [dir], message.notRegularFile(file, 'a named pipe'));
});

test('missing, flipped, truncated artifacts: one line naming the file and the fix', async () => {
  const noArtifacts = good();
  fs.rmSync(path.join(noArtifacts, 'artifacts'), { recursive: true });
  const { i, record } = firstOk(noArtifacts);
  await everyReaderRefuses(noArtifacts, message.artifactMissing(artifactPath(noArtifacts, record.artifact.sha256), `${runsOf(noArtifacts)} line ${i + 1}`));

  const flipped = good();
  const file = artifactPath(flipped, firstOk(flipped).record.artifact.sha256);
  const bytes = fs.readFileSync(file);
  bytes[5] ^= 0x40;
  fs.writeFileSync(file, bytes);
  await everyReaderRefuses(flipped, message.artifactCorrupt(file));

  const short = good();
  const shortFile = artifactPath(short, firstOk(short).record.artifact.sha256);
  fs.truncateSync(shortFile, 10);
  await everyReaderRefuses(short, message.artifactSize(shortFile, 10, firstOk(short).record.artifact.bytes));
});

test('records that are not records: null, 42, {}, null or string fields, negative or infinite numbers', async (t) => {
  const cases: Array<[string, (dir: string) => void, (dir: string) => string | RegExp]> = [
    ['a null line', (d) => setLines(d, ['null', ...lines(d).slice(1)]), (d) => message.resultsInvalid(`${runsOf(d)} line 1`, '', 'must be object, got null')],
    ['a record replaced by 42', (d) => setLines(d, [...lines(d).slice(0, 2), '42', ...lines(d).slice(3)]), (d) => message.resultsInvalid(`${runsOf(d)} line 3`, '', 'must be object, got 42')],
    ['200,000 lines of {}', (d) => fs.writeFileSync(runsOf(d), '{}\n'.repeat(200_000)), (d) => message.resultsInvalid(`${runsOf(d)} line 1`, 'status', 'is missing')],
    ['a null field', (d) => editRecord(d, firstOk(d).i, (r) => (r.computeMs = null)), (d) => message.resultsInvalid(`${runsOf(d)} line ${firstOk(d).i + 1}`, 'computeMs', 'must be number, got null')],
    ['a number given as a string', (d) => editRecord(d, firstOk(d).i, (r) => (r.computeMs = '12')), (d) => message.resultsInvalid(`${runsOf(d)} line ${firstOk(d).i + 1}`, 'computeMs', 'must be number, got "12"')],
    ['a negative computeMs', (d) => editRecord(d, firstOk(d).i, (r) => (r.computeMs = -3)), (d) => message.resultsInvalid(`${runsOf(d)} line ${firstOk(d).i + 1}`, 'computeMs', 'must be >= 0, got -3')],
    ['Infinity (1e999)', (d) => editRecord(d, firstOk(d).i, (r) => (r.outputL2 = 'INF'), (t) => t.replace('"INF"', '1e999')), (d) => message.resultsInvalid(`${runsOf(d)} line ${firstOk(d).i + 1}`, 'outputL2', 'must be number (a finite number), got Infinity')],
    ['an unknown status', (d) => editRecord(d, 0, (r) => (r.status = 'fine')), (d) => message.resultsInvalid(`${runsOf(d)} line 1`, 'status', 'must be one of ok, unsupported, error, crashed, timeout, got "fine"')],
    ['an unknown field', (d) => editRecord(d, 0, (r) => (r.cheat = 1)), (d) => message.resultsInvalid(`${runsOf(d)} line 1`, 'cheat', 'is not a field this version of detbench writes')],
    ['a record counted twice', (d) => setLines(d, [...lines(d), lines(d)[0]]), (d) => message.resultsInconsistent(`${runsOf(d)} line ${lines(d).length}`, `run 0 of "matmul|tfjs-cpu|cpu|det|t1" is already recorded at ${runsOf(d)} line 1`)],
    [
      'a record of a cell the manifest does not plan',
      (d) => editRecord(d, 0, (r) => { r.workload = 'reduce-sum'; r.cell = cellId(r as unknown as RunRecord); }),
      (d) => message.resultsInconsistent(`${runsOf(d)} line 1`, '`cell` "reduce-sum|tfjs-cpu|cpu|det|t1" is not a cell of manifest.json'),
    ],
    [
      // a table that names the whole artifact again and again would make a reader copy it each time
      'a tensor table whose entries overlap',
      (d) => editRecord(d, firstOk(d).i, (r) => { const t = (r.artifact as { tensors: unknown[] }).tensors; t.push(t[0]); }),
      (d) => {
        const { i, record } = firstOk(d);
        const floats = record.artifact.bytes / 4;
        return message.resultsInconsistent(`${runsOf(d)} line ${i + 1}`, `\`artifact.tensors[${record.artifact.tensors.length - 1}].offset\` is 0, but the tensors before it end at ${floats}`);
      },
    ],
    ['damage before the last line', (d) => setLines(d, ['{"workload":', ...lines(d)]), (d) => new RegExp(`^${escape(runsOf(d))} line 1 cannot be read: `)],
  ];
  for (const [name, damage, expected] of cases) {
    await t.test(name, async () => {
      const dir = good();
      damage(dir);
      const out = fs.mkdtempSync(path.join(root, 'out-'));
      await refused(['analyze', dir], [dir], expected(dir));
      await refused(['merge', dir, '--out', out], [dir, out], expected(dir));
      assert.deepEqual(fs.readdirSync(out), []);
    });
  }
});

test('manifests and complete.json that are not what detbench writes', async () => {
  const manifestOf = (d: string) => path.join(d, 'manifest.json');
  const editManifest = (d: string, edit: (m: Record<string, unknown>) => unknown) => {
    const m = JSON.parse(fs.readFileSync(manifestOf(d), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(manifestOf(d), JSON.stringify(edit(m) ?? m));
  };
  const cases: Array<[(dir: string) => void, (dir: string) => string | RegExp]> = [
    [(d) => fs.writeFileSync(manifestOf(d), 'null'), (d) => message.resultsInvalid(manifestOf(d), '', 'must be object, got null')],
    [(d) => editManifest(d, (m) => void delete m.environment), (d) => message.resultsInvalid(manifestOf(d), 'environment', 'is missing')],
    [(d) => editManifest(d, (m) => void (m.plannedRuns = '8')), (d) => message.resultsInvalid(manifestOf(d), 'plannedRuns', 'must be integer, got "8"')],
    [(d) => editManifest(d, (m) => void ((m.cells as Array<Record<string, unknown>>)[1].threads = '1')), (d) => message.resultsInvalid(manifestOf(d), 'cells[1].threads', 'must be integer, got "1"')],
    [(d) => editManifest(d, (m) => void ((m.environment as { env: Record<string, unknown> }).env['A\nB'] = 5)), (d) => message.resultsInvalid(manifestOf(d), 'environment.env["A\\nB"]', 'must be string, got 5')],
    [(d) => fs.writeFileSync(path.join(d, 'complete.json'), '{"finishedAt": "x", "ru'), (d) => new RegExp(`^${escape(path.join(d, 'complete.json'))} cannot be read: [^\\n]*; the folder was damaged`)],
    [(d) => fs.writeFileSync(path.join(d, 'complete.json'), '{"finishedAt": "x", "runs": -1, "interrupted": false}'), (d) => message.resultsInvalid(path.join(d, 'complete.json'), 'runs', 'must be >= 0, got -1')],
  ];
  for (const [damage, expected] of cases) {
    const dir = good();
    damage(dir);
    await everyReaderRefuses(dir, expected(dir));
  }
});

test('compare on a folder with a garbage manifest says the manifest is invalid, not that there is none', async () => {
  const dir = good();
  const manifest = path.join(dir, 'manifest.json');
  fs.writeFileSync(manifest, '\u0000garbage');
  const other = good();
  await refused(['compare', other, dir], [dir, other], new RegExp(`^${escape(manifest)} cannot be read: `));
  // a saved baseline (no runs.jsonl) with a garbage manifest or summary
  const saved = saveBaseline(good(), fs.mkdtempSync(path.join(root, 'baselines-'))).entry.dir;
  fs.writeFileSync(path.join(saved, 'summary.json'), `{"summaryVersion": ${SUMMARY_VERSION}, "cells": "no"}`);
  await refused(['compare', saved, other], [saved, other], message.baselineInvalid(path.join(saved, 'summary.json'), 'runId', 'is missing'));
  fs.writeFileSync(path.join(saved, 'manifest.json'), '[]');
  await refused(['compare', saved, other], [saved, other], message.resultsInvalid(path.join(saved, 'manifest.json'), '', 'must be object, got []'));
});

test('compare on a saved baseline whose cells or modes carry a bad axis value: one line naming the field', async () => {
  const other = good();
  const cases: Array<[(s: { cells: Array<Record<string, unknown>>; modes: Array<Record<string, unknown>> }) => void, string, string]> = [
    [(s) => void (s.cells[0].numerics = { x: 1 }), 'cells[0].numerics', 'must be string, got {"x":1}'],
    [(s) => void (s.cells[0].autotune = 'sometimes'), 'cells[0].autotune', 'must be one of off, on, got "sometimes"'],
    [(s) => void (s.cells[0].loaderWorkers = -1), 'cells[0].loaderWorkers', 'must be >= 0, got -1'],
    [(s) => void (s.cells[0].arm = 5), 'cells[0].arm', 'must be string, got 5'],
    [(s) => void (s.modes[0].resumeAt = '3'), 'modes[0].resumeAt', 'must be integer, got "3"'],
  ];
  for (const [damage, field, problem] of cases) {
    const saved = saveBaseline(good(), fs.mkdtempSync(path.join(root, 'baselines-'))).entry.dir;
    const file = path.join(saved, 'summary.json');
    const summary = JSON.parse(fs.readFileSync(file, 'utf8'));
    damage(summary);
    fs.writeFileSync(file, JSON.stringify(summary));
    await refused(['compare', saved, other], [saved, other], message.baselineInvalid(file, field, problem));
  }
});

test('baseline list over a garbage baseline.json: one line; links in the baselines folder are not followed', async () => {
  const baselines = fs.mkdtempSync(path.join(root, 'baselines-'));
  const { entry } = saveBaseline(good(), baselines);
  // a link to a folder elsewhere (which holds a valid baseline) is not listed
  const elsewhere = fs.mkdtempSync(path.join(root, 'elsewhere-'));
  saveBaseline(makeResults(root, { ...traced, valueOffset: 1 }), elsewhere);
  fs.symlinkSync(path.join(elsewhere, entry.hardware), path.join(baselines, 'linked'));
  const listed = await detbench(['baseline', 'list', '--dir', baselines, '--json'], [baselines]);
  assert.equal(listed.code, 0);
  assert.deepEqual((JSON.parse(listed.stdout) as Array<{ dir: string }>).map((e) => e.dir), [entry.dir]);

  const file = path.join(entry.dir, 'baseline.json');
  fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), hash: 7 }));
  await refused(['baseline', 'list', '--dir', baselines], [baselines], message.baselineInvalid(file, 'hash', 'must be string, got 7'));
  fs.writeFileSync(file, 'garbage');
  await refused(['baseline', 'list', '--dir', baselines], [baselines], new RegExp(`^${escape(file)} cannot be read: .*; remove this baseline folder and save it again`));
});

test('baseline save into a baselines folder that holds a link to elsewhere: refused, nothing written there', async () => {
  const baselines = fs.mkdtempSync(path.join(root, 'baselines-'));
  const dir = good();
  const { entry } = saveBaseline(dir, fs.mkdtempSync(path.join(root, 'probe-')));
  const elsewhere = fs.mkdtempSync(path.join(root, 'elsewhere-'));
  fs.symlinkSync(elsewhere, path.join(baselines, entry.hardware));
  await refused(['baseline', 'save', dir, '--dir', baselines], [dir, baselines], message.notRegularFile(path.join(baselines, entry.hardware), 'a symbolic link'));
  assert.deepEqual(fs.readdirSync(elsewhere), []);
});

test('report writes into a folder from elsewhere without writing through links it holds', async () => {
  const linked = good();
  const elsewhere = fs.mkdtempSync(path.join(root, 'charts-elsewhere-'));
  fs.symlinkSync(elsewhere, path.join(linked, 'charts'));
  await refused(['report', linked, '--format', 'md'], [linked], message.notRegularFile(path.join(linked, 'charts'), 'a symbolic link'));
  assert.deepEqual(fs.readdirSync(elsewhere), []);

  // links where report.md and summary.json go are replaced, not written through
  const planted = good();
  fs.symlinkSync(secret, path.join(planted, 'report.md'));
  fs.symlinkSync(secret, path.join(planted, 'summary.json'));
  const r = await detbench(['report', planted, '--format', 'md,json'], [planted]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(secret, 'utf8'), 'not results\n');
  assert.ok(fs.lstatSync(path.join(planted, 'report.md')).isFile());

  // nor through a link planted where writeAtomic puts its temporary file
  const file = path.join(planted, 'x.json');
  fs.symlinkSync(secret, `${file}.tmp-${process.pid}`);
  writeAtomic(file, '{}');
  assert.equal(fs.readFileSync(secret, 'utf8'), 'not results\n');
  assert.equal(fs.readFileSync(file, 'utf8'), '{}');
});

test('a killed run stays readable and incomplete (exit 3), even with 0 runs; a truncated last line is left out', async () => {
  const none = makeResults(root, { ...traced, killAfter: 0 });
  const r = await detbench(['analyze', none], [none]);
  assert.equal(r.code, 3);
  const side = loadSide(none);
  assert.equal(side.summary.complete, false);
  assert.equal(side.summary.recordedRuns, 0);

  const cut = makeResults(root, { ...traced, killAfter: 3 });
  fs.appendFileSync(runsOf(cut), lines(cut)[0].slice(0, 40));
  assert.equal((await detbench(['analyze', cut], [cut])).code, 3);
  assert.equal(loadResults(cut).runs.length, 3);

  // complete.json that claims more runs than runs.jsonl holds: records were lost
  const lost = good();
  setLines(lost, lines(lost).slice(0, -1));
  assert.equal((await detbench(['analyze', lost], [lost])).code, 3);
});

test('merge: two traced folders merge with every trace artifact; a damaged source leaves --out untouched', async () => {
  const a = good(), b = makeResults(root, { ...traced, seed: 2 });
  const out = fs.mkdtempSync(path.join(root, 'out-'));
  const r = await detbench(['merge', a, b, '--out', out, '--json'], [a, b, out]);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const merged = (JSON.parse(r.stdout) as { resultsDir: string }).resultsDir;
  assert.deepEqual(fs.readdirSync(out), [path.basename(merged)], 'only the merged folder, no temporary one');
  const results = loadResults(merged);
  assert.ok(results.runs.some((x) => x.status === 'ok' && x.stepTrace));
  for (const digest of results.artifacts.keys()) assert.ok(fs.statSync(artifactPath(merged, digest)).isFile(), `${digest} copied`);
  assert.ok(results.artifacts.size > results.runs.filter((x) => x.status === 'ok').length / 2, 'trace artifacts are among them');
  const analyzed = await detbench(['analyze', merged, '--json'], [merged]);
  assert.ok((JSON.parse(analyzed.stdout) as { cells: Array<{ divergence: unknown }> }).cells.some((c) => c.divergence !== null));

  const damaged = good();
  const file = artifactPath(damaged, firstOk(damaged).record.stepTrace!.sha256);
  const bytes = fs.readFileSync(file);
  bytes[0] ^= 1;
  fs.writeFileSync(file, bytes);
  const empty = fs.mkdtempSync(path.join(root, 'out-'));
  await refused(['merge', a, damaged, '--out', empty], [a, damaged, empty], message.artifactCorrupt(file));
  assert.deepEqual(fs.readdirSync(empty), []);
});

test('NaN and Infinity never become null: the writer refuses them, the runner records such a run as an error', async () => {
  assert.deepEqual(nonFiniteField({ a: [1, { b: NaN }] }), { field: 'a[1].b', value: NaN });
  assert.equal(nonFiniteField({ a: [1, { b: 2 }], c: null }), null);

  process.env.DETBENCH_PLUGINS = fileURLToPath(new URL('./fixtures/fake-backends.ts', import.meta.url));
  await loadPlugins();
  const runs: RunRequest[] = [0, 1].map((runIndex) => ({
    workload: 'matmul', backend: runIndex ? 'fake-mixed' : 'fake-nan', device: 'cpu', mode: 'det', threads: 1, runIndex, repeat: runIndex, warmup: false, seed: 0, preset: 'quick', params: {},
  }));
  const dir = path.join(fs.mkdtempSync(path.join(root, 'nan-')), 'r');
  const writer = ResultsWriter.create(dir, fixtureManifest(runs, runs.length));
  await runAll(runs, writer, { concurrency: 1, timeoutMs: 5000 });
  const [nan, ok] = runs.map((_, i) => loadResults(dir).runs.find((x) => x.runIndex === i)!);
  assert.deepEqual({ status: nan.status, message: 'message' in nan ? nan.message : '' }, { status: 'error', message: message.nonFinite('outputL2', NaN) });
  assert.equal(ok.status, 'ok');
  assert.throws(() => writer.append({ ...(ok as Extract<RunRecord, { status: 'ok' }>), runIndex: 2, computeMs: Infinity }), (e: unknown) => (e as Error).message.startsWith(message.nonFinite('computeMs', Infinity)));
  writer.finish({ finishedAt: '', runs: 2, interrupted: false });
});

test('a folder written by a real traced run validates against the schema, saves as a baseline, and merges with itself', async () => {
  const out = fs.mkdtempSync(path.join(root, 'real-'));
  const run = await host.detbench(['run', '--backends', 'tfjs-cpu', '--workloads', 'mlp-train', '--modes', 'det', '--repeats', '2', '--threads', '1', '--trace', '--no-report', '--json', '--out', out]);
  assert.equal(run.code, 0, run.stderr);
  const dir = (JSON.parse(run.stdout) as { resultsDir: string }).resultsDir;
  assert.equal(problemOf('manifest', JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'))), null);
  assert.equal(problemOf('completion', JSON.parse(fs.readFileSync(path.join(dir, 'complete.json'), 'utf8'))), null);
  const records = lines(dir).map((l) => JSON.parse(l) as RunRecord);
  for (const r of records) assert.equal(problemOf('record', r), null);
  assert.ok(records.every((r) => r.status === 'ok' && r.stepTrace), 'every run traced');
  // the held-out evaluation's time, as tfjs-cpu measured it, apart from the steps' compute
  assert.ok(records.every((r) => r.status === 'ok' && r.evaluation && typeof r.evalMs === 'number' && r.evalMs > 0), 'every run evaluated and timed it');

  const { entry } = saveBaseline(dir, path.join(out, 'baselines'));
  assert.equal(problemOf('baseline', JSON.parse(fs.readFileSync(path.join(entry.dir, 'baseline.json'), 'utf8'))), null);
  assert.equal(problemOf('summary', JSON.parse(fs.readFileSync(path.join(entry.dir, 'summary.json'), 'utf8'))), null);

  const merged = await detbench(['merge', dir, dir, '--out', path.join(out, 'merged'), '--json'], [dir, out]);
  assert.equal(merged.code, 0, merged.stderr);
  const m = loadResults((JSON.parse(merged.stdout) as { resultsDir: string }).resultsDir);
  assert.equal(m.runs.length, 2 * records.length);
  assert.equal(m.manifest.machines?.length, 2);
});

test('the real CLI process: one line and exit 2 on a folder with a garbage manifest, never a stack', () => {
  const garbage = good();
  fs.writeFileSync(path.join(garbage, 'manifest.json'), 'garbage');
  const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [bin, 'compare', good(), garbage], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`^detbench: ${escape(path.join(garbage, 'manifest.json'))} cannot be read: [^\\n]+\\n$`));
});

test('the precompiled validators (harness/schema-validators.cjs) are those of the schemas in harness/schema.ts: after changing a schema, run `npm run schemas`', () => {
  assert.ok(fs.readFileSync(VALIDATORS_FILE, 'utf8') === validatorsSource(), `${VALIDATORS_FILE} is out of date: run \`npm run schemas\``);
});
