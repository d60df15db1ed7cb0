/**
 * publish: the site of a history — an index, a page per cell and per machine, self-contained and
 * escaped like report.html — rebuilt incrementally (only pages whose inputs changed), never written
 * over a folder that is not a site. Chromium renders it in test/system/nights.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXIT, UsageError, message } from '../harness/errors.ts';
import { CSP } from '../reports/html.ts';
import { publishSite, STATE_FILE } from '../reports/publish/site.ts';
import { makeHistory } from './fixtures/history.ts';
import { HOSTILE } from './fixtures/results.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-publish-'));
const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
const shape = { workloads: ['matmul'], backends: ['a', 'b'] };

test('the pages: index, a page per cell and per machine; self-contained, every string escaped', async () => {
  const root = tmp();
  makeHistory(path.join(root, 'one'), { ...shape, nights: 12, hostname: 'one', slower: { night: 6, backend: 'a', factor: 1.5 } });
  makeHistory(path.join(root, 'evil'), { nights: 4, workloads: [HOSTILE], backends: [HOSTILE], hostname: HOSTILE, text: HOSTILE });
  const site = tmp();
  const r = await publishSite([root], site, 1.25);
  assert.equal(r.nights, 16);
  assert.equal(r.machines, 2);
  assert.deepEqual(r.written.filter((p) => p.startsWith('cells/')).length, 3);
  assert.deepEqual(r.written.filter((p) => p.startsWith('machines/')).length, 2);
  assert.ok(r.written.includes('index.html'));
  for (const page of r.written) {
    const html = fs.readFileSync(path.join(site, page), 'utf8');
    assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="${CSP}">`), page);
    assert.doesNotMatch(html, /<script|<img|<iframe|\son\w+="/i, `${page}: no script, no image, no handler`);
    assert.doesNotMatch(html.replace(/xmlns(:\w+)?="[^"]*"/g, ''), /https?:\/\//, `${page}: no address but the SVG namespace`);
    assert.match(html, /<svg/, `${page} has its charts inline`);
  }
  const index = fs.readFileSync(path.join(site, 'index.html'), 'utf8');
  assert.ok(index.includes('&lt;script&gt;window.__pwned=1&lt;/script&gt;'), 'the hostile name is shown as text');
  assert.match(index, /compute time stepped to 1\.\d\d×/, 'the findings of the latest nights');
  const cell = r.written.find((p) => p.startsWith('cells/one-matmul-a'))!;
  const html = fs.readFileSync(path.join(site, cell), 'utf8');
  for (const id of ['chart-stability', 'chart-time', 'chart-slowdown', 'steps-table', 'nights-table']) assert.ok(html.includes(`id="${id}"`), id);
  assert.match(html, /det compute time stepped 1\.\d\d× at night 7 /);
  const machine = fs.readFileSync(path.join(site, r.written.find((p) => p.startsWith('machines/one-'))!), 'utf8');
  assert.ok(machine.includes('id="fingerprint-changes"') && machine.includes('environment.git.commit'));
  // links between pages resolve to pages of the site
  for (const href of [...index.matchAll(/href="([^"]+)"/g)].map((m) => m[1])) assert.ok(fs.existsSync(path.join(site, href)), href);
});

test('incremental: nothing changed, nothing written; a new night rewrites its machine\'s pages and the index only; gone pages are removed', async () => {
  const root = tmp();
  makeHistory(path.join(root, 'one'), { ...shape, nights: 6, hostname: 'one' });
  makeHistory(path.join(root, 'two'), { ...shape, nights: 6, hostname: 'two' });
  const site = tmp();
  const first = await publishSite([root], site, 1.25);
  assert.equal(first.written.length, 7);
  const again = await publishSite([root], site, 1.25);
  assert.deepEqual(again.written, []);
  assert.equal(again.nightsRead, 0, 'every night came from the state file');
  makeHistory(path.join(root, 'one-more'), { ...shape, nights: 1, hostname: 'one', start: '2026-01-07T02:00:00Z', seed: 3 });
  const more = await publishSite([root], site, 1.25);
  assert.equal(more.nightsRead, 1);
  assert.deepEqual(more.written.map((p) => p.replace(/-[0-9a-f]{10}\.html$/, '')).sort(), ['cells/one-matmul-a-cpu-t1', 'cells/one-matmul-b-cpu-t1', 'index.html', 'machines/one']);
  fs.rmSync(path.join(root, 'two'), { recursive: true });
  const fewer = await publishSite([root], site, 1.25);
  assert.deepEqual(fewer.removed.map((p) => p.replace(/-[0-9a-f]{10}\.html$/, '')).sort(), ['cells/two-matmul-a-cpu-t1', 'cells/two-matmul-b-cpu-t1', 'machines/two']);
  for (const p of fewer.removed) assert.ok(!fs.existsSync(path.join(site, p)));
});

test('a folder that is not a site is refused; a damaged state file rebuilds everything and says so', async () => {
  const root = tmp();
  makeHistory(root, { ...shape, nights: 3 });
  const other = tmp();
  fs.writeFileSync(path.join(other, 'notes.txt'), 'mine');
  await assert.rejects(publishSite([root], other, 1.25), new UsageError(message.siteNotEmpty(other)));
  assert.deepEqual(fs.readdirSync(other), ['notes.txt']);
  const site = tmp();
  await publishSite([root], site, 1.25);
  const state = JSON.parse(fs.readFileSync(path.join(site, STATE_FILE), 'utf8'));
  // a state that names a file outside the site's pages: never removed
  state.pages['../notes.txt'] = 'x';
  state.nights[0][1].night.cells = 'damaged';
  fs.writeFileSync(path.join(site, STATE_FILE), JSON.stringify(state));
  const r = await publishSite([root], site, 1.25);
  assert.match(r.stateNote ?? '', /is damaged: every page is rendered again/);
  assert.equal(r.written.length, r.pages);
});

test('the CLI: publish and history on the same folders; a folder that does not exist is exit 2 in one line', () => {
  const root = tmp();
  makeHistory(root, { ...shape, nights: 8, slower: { night: 4, backend: 'a', factor: 1.6 } });
  const site = path.join(tmp(), 'site');
  const published = spawnSync(process.execPath, [bin, 'publish', root, '--out', site, '--json'], { encoding: 'utf8' });
  assert.equal(published.status, EXIT.ok, published.stderr);
  assert.equal(JSON.parse(published.stdout).index, path.join(site, 'index.html'));
  const history = spawnSync(process.execPath, [bin, 'history', root, '--json'], { encoding: 'utf8' });
  assert.equal(history.status, EXIT.findings, history.stderr);
  assert.deepEqual(JSON.parse(history.stdout).findings.map((f: { kind: string }) => f.kind), ['step-slower', 'step-slower']);
  const missing = spawnSync(process.execPath, [bin, 'history', path.join(root, 'nope')], { encoding: 'utf8' });
  assert.equal(missing.status, EXIT.usage);
  assert.equal(missing.stderr, `detbench: ${message.historyMissing(path.join(root, 'nope'))}\n`);
});
