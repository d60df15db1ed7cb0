/** A Chromium of a test's own (playwright-core, Debian's Chromium or CHROMIUM_PATH), shared by the browser tests. */
import type { TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { CHROMIUM } from './components.ts';

/** A page with `file` open in a Chromium of the test's own, closed when the test ends, and the page's errors as they come. */
export async function openInChromium(t: TestContext, file: string): Promise<{ page: Page; errors: string[] }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(pathToFileURL(file).href);
  return { page, errors };
}

/** The page's charts as drawn: each figure's id, its SVGs, its marks and its width on screen. */
export function chartsOnPage(page: Page): Promise<Array<{ id: string; svg: number; marks: number; width: number }>> {
  return page.$$eval('figure.chart', (figs) =>
    figs.map((f) => ({
      id: f.id,
      svg: f.querySelectorAll('svg').length,
      // vega draws each mark group as <g class="mark-…"> holding paths, lines or text
      marks: f.querySelectorAll('svg g[class^="mark-"] path, svg g[class^="mark-"] line, svg g[class^="mark-"] text').length,
      width: f.querySelector('svg')?.getBoundingClientRect().width ?? 0,
    })),
  );
}
