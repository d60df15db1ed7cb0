/**
 * The HTML report in a real browser (Debian's Chromium driven by playwright-core): every chart
 * rendered with marks, no console errors, and a hostile results folder stays inert.
 * CHROMIUM_PATH overrides /usr/bin/chromium; `.ci/run` installs Chromium with apt-get.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderReport } from '../../reports/index.ts';
import { HOSTILE, makeResults } from '../fixtures/results.ts';
import { chartsOnPage, openInChromium } from './browser.ts';
import { systemTest } from './components.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-browser-'));

systemTest('every chart renders with marks, the verdict is shown, no console errors', 'chromium', async (t) => {
  const root = tmp();
  const dir = makeResults(root, { workloads: ['mlp-train', 'matmul'], backends: ['tfjs-cpu', 'ort-cpu', 'broken'], repeats: 4 });
  await renderReport(dir);
  const { page, errors } = await openInChromium(t, path.join(dir, 'report.html'));
  const figures = await chartsOnPage(page);
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

systemTest('a hostile results folder: no script runs, no injected element exists', 'chromium', async (t) => {
  const dir = makeResults(tmp(), { workloads: [HOSTILE, 'matmul'], backends: [HOSTILE, 'ort-cpu'], repeats: 3, text: HOSTILE });
  await renderReport(dir);
  const { page, errors } = await openInChromium(t, path.join(dir, 'report.html'));
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  assert.equal(await page.$$eval('script, img, iframe, object, embed', (els) => els.length), 0);
  const handlers = await page.$$eval('*', (els) => els.flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => a.name)));
  assert.deepEqual(handlers, []);
  assert.ok((await page.textContent('body'))!.includes('<script>window.__pwned=1</script>'), 'the hostile text is visible as text');
  assert.deepEqual(errors, []);
});
