import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { analyze } from '../harness/analysis/analyze.ts';
import { loadResults } from '../harness/store.ts';
import { CSP, escapeHtml } from '../reports/html.ts';
import { renderReport } from '../reports/index.ts';
import { escapeMarkdown } from '../reports/markdown.ts';
import { specWarnings, toSvg } from '../reports/render.ts';
import { charts } from '../reports/specs.ts';
import { HOSTILE, makeResults } from './fixtures/results.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-report-'));

test('every chart spec is valid against vega-lite’s JSON schema and compiles without warnings', async () => {
  const dir = makeResults(root, { workloads: ['mlp-train', 'matmul'], backends: ['tfjs-cpu', 'ort-cpu', 'broken'], repeats: 4 });
  const summary = analyze(loadResults(dir));
  const schema = createRequire(import.meta.url)('vega-lite/vega-lite-schema.json');
  // optimize: false: ajv compiles vega-lite's large schema in ≈ 0.9 s of CPU instead of ≈ 2.6 s (six specs to check)
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false, code: { optimize: false } });
  const validate = ajv.compile(schema);
  const specs = charts(summary, 1.25);
  assert.equal(specs.length, 6);
  for (const chart of specs) assert.ok(validate(chart.spec), `${chart.id}: ${ajv.errorsText(validate.errors)}`);
  specWarnings.length = 0;
  const { files } = await renderReport(dir);
  assert.deepEqual(specWarnings, []);
  for (const name of ['report.html', 'report.md', 'summary.json', ...specs.flatMap((c) => [`charts/${c.id}.svg`, `charts/${c.id}.png`])]) {
    assert.ok(files.includes(path.join(dir, name)), name);
    assert.ok(fs.statSync(path.join(dir, name)).size > 0, name);
  }
  const png = fs.readFileSync(path.join(dir, 'charts/determinism-matrix.png'));
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
});

test('the chart renderer (a thread of its own) turns a spec it cannot render into an error, and renders the next one', async () => {
  await assert.rejects(toSvg({ mark: 'no-such-mark', data: { values: [] } } as never), Error);
  const svg = await toSvg({ mark: 'bar', data: { values: [{ x: 'a', y: 1 }] }, encoding: { x: { field: 'x', type: 'nominal' }, y: { field: 'y', type: 'quantitative' } } });
  assert.match(svg, /^<svg /);
});

test('a hostile results folder renders inert: no tag or attribute from the folder survives', async () => {
  const dir = makeResults(root, { workloads: [HOSTILE, 'matmul'], backends: [HOSTILE, 'ort-cpu'], repeats: 3, text: HOSTILE });
  await renderReport(dir);
  const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
  assert.ok(!/<script/i.test(html), 'a <script> tag made it into the page');
  assert.ok(!/<img/i.test(html), 'an <img> tag made it into the page');
  // Attribute values are double-quoted with quotes inside escaped, so dropping "…" leaves only names.
  const tagsWithoutValues = html.replace(/"[^"]*"/g, '""');
  assert.ok(!/<[^>]*\son\w+\s*=/i.test(tagsWithoutValues), 'an event-handler attribute made it into a tag');
  assert.ok(html.includes(escapeHtml(HOSTILE)), 'the hostile text is shown, escaped');
  assert.ok(html.includes(`content="${CSP}"`));
  const md = fs.readFileSync(path.join(dir, 'report.md'), 'utf8');
  assert.ok(!md.includes('<script') && !md.includes('<img'));
});

test('a killed run renders with an incomplete banner', async () => {
  const dir = makeResults(root, { workloads: ['matmul'], backends: ['tfjs-cpu'], repeats: 5, killAfter: 4 });
  await renderReport(dir, { formats: ['html', 'md'] });
  assert.match(fs.readFileSync(path.join(dir, 'report.html'), 'utf8'), /<div class="banner" id="incomplete">INCOMPLETE: 4 of 10 planned runs/);
  assert.match(fs.readFileSync(path.join(dir, 'report.md'), 'utf8'), /\*\*INCOMPLETE\*\*: 4 of 10/);
});

test('escapers', () => {
  assert.equal(escapeHtml(`<a href="x">'&`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
  assert.equal(escapeMarkdown('a|b<c>`d`'), 'a\\|b&lt;c&gt;\\`d\\`');
});
