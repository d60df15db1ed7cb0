/**
 * --junit output validates against a published JUnit schema: Jenkins xUnit plugin's junit-10.xsd
 * (test/fixtures/junit/, MIT, byte for byte; see its SOURCE.md), checked with `xmllint --schema` —
 * for a real run with findings (fake plugin backends), for compare, and for hostile names.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { finding } from '../../harness/analysis/findings.ts';
import { EXIT } from '../../harness/errors.ts';
import { junitXml } from '../../reports/junit.ts';
import { HOSTILE, makeResults } from '../fixtures/results.ts';
import { systemTest } from './components.ts';

const XSD = fileURLToPath(new URL('../fixtures/junit/junit-10.xsd', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/detbench.mjs', import.meta.url));
const plugin = fileURLToPath(new URL('../fixtures/findings-backends.ts', import.meta.url));
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-junit-'));

/** xmllint's verdict on a file: validates, or its errors. */
function validate(file: string): void {
  const r = spawnSync('xmllint', ['--noout', '--schema', XSD, file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${file} does not validate against junit-10.xsd: ${r.stderr}`);
  assert.match(r.stderr, /validates$/m);
}

systemTest('run --junit: a testcase per cell, failures for findings; it validates', 'xmllint', () => {
  const dir = tmp();
  const junit = path.join(dir, 'reports', 'junit.xml');
  const r = spawnSync(process.execPath, [bin, 'run', '--backends', 'fake-exact-gradients,fake-unstable,fake-failing', '--workloads', 'matmul', '--repeats', '2', '--threads', '1', '--no-report', '--out', dir, '--junit', junit], {
    encoding: 'utf8', env: { ...process.env, DETBENCH_PLUGINS: plugin }, timeout: 180_000,
  });
  assert.equal(r.status, EXIT.findings, r.stderr);
  const xml = fs.readFileSync(junit, 'utf8');
  assert.equal([...xml.matchAll(/<testcase /g)].length, 6, 'three backends × det and nondet');
  assert.match(xml, /<failure type="det-unstable" message="matmul on fake-unstable/);
  assert.match(xml, /<failure type="runs-failed" message="matmul on fake-failing/);
  validate(junit);
});

systemTest('compare --junit and hostile names: they validate', 'xmllint', () => {
  const root = tmp();
  const suite = { workloads: ['matmul', HOSTILE], backends: [HOSTILE, 'broken'], repeats: 4, text: HOSTILE };
  const baseline = makeResults(root, suite);
  const current = makeResults(root, { ...suite, valueOffset: 1e-3, detUnstable: true });
  const junit = path.join(root, 'compare.xml');
  const r = spawnSync(process.execPath, [bin, 'compare', baseline, current, '--junit', junit], { encoding: 'utf8' });
  assert.equal(r.status, EXIT.findings, r.stderr);
  assert.match(fs.readFileSync(junit, 'utf8'), /<failure type="determinism-regression"/);
  validate(junit);
  const text = `${HOSTILE}\u0000\u001b[31m\uD800 ]]> end`;
  const cell = { id: text, workload: text, backend: text, device: 'cpu', mode: 'det' as const, threads: 1, verdict: 'failed' as const, seconds: 1 };
  const raw = path.join(root, 'hostile.xml');
  fs.writeFileSync(raw, junitXml(text, [cell, { ...cell, id: 'x', verdict: 'unavailable' }], [
    finding('runs-failed', cell, { statuses: { error: 1 }, message: text }), finding('incomplete-results', undefined, { recordedRuns: 1, plannedRuns: 2 }), finding('new-cell', cell, {}),
  ], { timestamp: text, hostname: text }));
  validate(raw);
});
