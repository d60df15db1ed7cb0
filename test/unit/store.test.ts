import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { message, UsageError } from '../../harness/errors.ts';
import { cellId, type RunRecord } from '../../harness/protocol.ts';
import { loadResults, readArtifact, ResultsWriter, SCHEMA_VERSION, type Manifest } from '../../harness/store.ts';
import { fixtureManifest } from '../fixtures/results.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-store-'));

const cell = { workload: 'matmul', backend: 'b', device: 'cpu', mode: 'det', threads: 1 } as const;
const manifest = (plannedRuns: number): Manifest => fixtureManifest([cell], plannedRuns);

function record(runIndex: number, sha256: string): RunRecord {
  return {
    workload: 'matmul', backend: 'b', device: 'cpu', mode: 'det', threads: 1, runIndex, repeat: runIndex, warmup: false, seed: 0,
    preset: 'quick', params: {}, cell: cellId(cell), startedAt: '', wallMs: 1, determinism: null, warnings: [],
    status: 'ok', setupMs: 0, computeMs: 1, loss: null, outputL2: 1, artifact: { sha256, bytes: 12, tensors: [] },
  };
}

test('records round-trip; identical artifacts are stored once; a finished folder is complete', () => {
  const dir = path.join(root, 'a');
  const w = ResultsWriter.create(dir, manifest(2));
  const bytes = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
  const d1 = w.writeArtifact(bytes);
  const d2 = w.writeArtifact(bytes.slice());
  assert.equal(d1, d2);
  assert.equal(fs.readdirSync(path.join(dir, 'artifacts')).length, 1);
  w.append(record(0, d1));
  w.append(record(1, d1));
  w.finish({ finishedAt: '', runs: 2, interrupted: false });
  const r = loadResults(dir);
  assert.equal(r.complete, true);
  assert.equal(r.runs.length, 2);
  assert.deepEqual(Array.from(readArtifact(dir, d1, { bytes: 12, by: 'test' })), [1, 2, 3]);
});

test('results are never overwritten', () => {
  const dir = path.join(root, 'b');
  ResultsWriter.create(dir, manifest(1));
  assert.throws(() => ResultsWriter.create(dir, manifest(1)), (e: unknown) => e instanceof UsageError && e.message === message.outExists(dir));
});

test('a killed run (no complete.json, truncated last line) keeps every finished record and reads as incomplete', () => {
  const dir = path.join(root, 'c');
  const w = ResultsWriter.create(dir, manifest(3));
  const d = w.writeArtifact(new Uint8Array(12));
  w.append(record(0, d));
  w.append(record(1, d));
  fs.appendFileSync(path.join(dir, 'runs.jsonl'), '{"workload":"matm');
  const r = loadResults(dir);
  assert.equal(r.runs.length, 2);
  assert.equal(r.complete, false);
  assert.ok(r.readWarnings.some((x) => /partial record/.test(x)));
  assert.ok(r.readWarnings.some((x) => /incomplete results: 2 of 3/.test(x)));
});

test('damage before the last line, a missing manifest or another schema version is refused with a reason', () => {
  const dir = path.join(root, 'd');
  const w = ResultsWriter.create(dir, manifest(3));
  w.append(record(0, '0'.repeat(64)));
  fs.appendFileSync(path.join(dir, 'runs.jsonl'), 'garbage\n');
  w.append(record(1, '0'.repeat(64)));
  assert.throws(() => loadResults(dir), (e: unknown) => e instanceof UsageError && /line 2/.test(e.message));

  assert.throws(() => loadResults(path.join(root, 'none')), (e: unknown) => e instanceof UsageError && e.message === message.resultsMissing(path.join(root, 'none')));
  const old = path.join(root, 'e');
  fs.mkdirSync(old);
  fs.writeFileSync(path.join(old, 'manifest.json'), JSON.stringify({ ...manifest(1), schemaVersion: 99 }));
  assert.throws(() => loadResults(old), (e: unknown) => e instanceof UsageError && e.message === message.resultsSchema(old, 99, SCHEMA_VERSION));
});

test('a corrupt artifact is detected by its digest', () => {
  const dir = path.join(root, 'f');
  const w = ResultsWriter.create(dir, manifest(1));
  const d = w.writeArtifact(new Uint8Array(new Float32Array([5]).buffer));
  fs.writeFileSync(path.join(dir, 'artifacts', `${d}.f32`), new Uint8Array(new Float32Array([6]).buffer));
  assert.throws(() => readArtifact(dir, d, { bytes: 4, by: 'test' }), (e: unknown) => e instanceof UsageError && e.message === message.artifactCorrupt(path.join(dir, 'artifacts', `${d}.f32`)));
});
