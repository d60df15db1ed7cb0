/**
 * The HTML report in a real browser (Debian's Chromium driven by playwright-core): every chart
 * rendered with marks, no console errors, and a hostile results folder stays inert.
 * CHROMIUM_PATH overrides /usr/bin/chromium; `.ci/run` installs Chromium with apt-get.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { renderReport } from '../../reports/index.ts';
import { HOSTILE, makeResults } from '../fixtures/results.ts';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-browser-'));
let browser: Browser;

before(async () => {
  assert.ok(fs.existsSync(executablePath), `no Chromium at ${executablePath}: apt-get install chromium, or set CHROMIUM_PATH`);
  browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => browser?.close());

async function open(file: string) {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(pathToFileURL(file).href);
  return { page, errors };
}

test('every chart renders with marks, the verdict is shown, no console errors', async () => {
  const dir = makeResults(root, { workloads: ['mlp-train', 'matmul'], backends: ['tfjs-cpu', 'ort-cpu', 'broken'], repeats: 4 });
  await renderReport(dir);
  const { page, errors } = await open(path.join(dir, 'report.html'));
  const figures = await page.$$eval('figure.chart', (figs) =>
    figs.map((f) => ({
      id: f.id,
      svg: f.querySelectorAll('svg').length,
      // vega draws each mark group as <g class="mark-…"> holding paths, lines or text
      marks: f.querySelectorAll('svg g[class^="mark-"] path, svg g[class^="mark-"] line, svg g[class^="mark-"] text').length,
      width: f.querySelector('svg')?.getBoundingClientRect().width ?? 0,
    })),
  );
  assert.deepEqual(figures.map((f) => f.id), ['chart-determinism-matrix', 'chart-variance', 'chart-slowdown', 'chart-ulp-histogram', 'chart-cross-backend', 'chart-threads']);
  for (const f of figures) {
    assert.equal(f.svg, 1, f.id);
    assert.ok(f.marks > 0 && f.width > 0, `${f.id} has no visible marks`);
  }
  const verdict = await page.textContent('#verdict');
  assert.match(verdict ?? '', /4 of 4 deterministic cells bit-for-bit reproducible/);
  assert.equal(await page.$('#incomplete'), null);
  const shot = path.join(root, 'report.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(fs.statSync(shot).size > 10_000);
  assert.deepEqual(errors, []);
});

test('a hostile results folder: no script runs, no injected element exists', async () => {
  const dir = makeResults(root, { workloads: [HOSTILE, 'matmul'], backends: [HOSTILE, 'ort-cpu'], repeats: 3, text: HOSTILE });
  await renderReport(dir);
  const { page, errors } = await open(path.join(dir, 'report.html'));
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  assert.equal(await page.$$eval('script, img, iframe, object, embed', (els) => els.length), 0);
  const handlers = await page.$$eval('*', (els) => els.flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => a.name)));
  assert.deepEqual(handlers, []);
  assert.ok((await page.textContent('body'))!.includes('<script>window.__pwned=1</script>'), 'the hostile text is visible as text');
  assert.deepEqual(errors, []);
});
