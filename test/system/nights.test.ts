/**
 * The history, verified with real nights: 30 runs of scripts/nightly.sh (detbench run, baseline,
 * compare) into one DETBENCH_OUT, with a plugin backend (test/fixtures/nightly-backends.ts) that is
 * 30 % slower from night 20 and gives other det bits from night 25, next to one that never changes.
 *
 * - `detbench history` finds a timing step at night 20 ± 1 and results changed at night 25, for the
 *   changing backend's cells, and nothing else anywhere;
 * - the site nightly.sh publishes renders in Chromium (index and a cell page) with marks and no
 *   console errors;
 * - the JUnit file of a night validates against Jenkins' junit-10.xsd (xmllint);
 * - a one-night timing blip (a run while the fake's blip file exists) is slower against the night
 *   before, and `compare --confirm 3`, whose re-runs run after the blip is over, says "not confirmed".
 *
 * Minutes long (about 100 detbench processes); CI runs it with the other system tests.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Comparison } from '../../harness/analysis/compare.ts';
import type { History } from '../../harness/analysis/history.ts';
import { EXIT } from '../../harness/errors.ts';
import { chartsOnPage, openInChromium } from './browser.ts';
import { systemTest } from './components.ts';

const NIGHTS = 30;
const script = fileURLToPath(new URL('../../scripts/nightly.sh', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/detbench.mjs', import.meta.url));
const plugin = fileURLToPath(new URL('../fixtures/nightly-backends.ts', import.meta.url));
const XSD = fileURLToPath(new URL('../fixtures/junit/junit-10.xsd', import.meta.url));
const RUN_ARGS = '--backends fake-nightly,fake-steady --workloads matmul,reduce-sum --repeats 3 --threads 1 --no-report';

function night(root: string, n: number, extra: Record<string, string> = {}) {
  const r = spawnSync('bash', [script], {
    encoding: 'utf8', timeout: 300_000,
    env: {
      ...process.env, DETBENCH_PLUGINS: plugin, DETBENCH_FAKE_NIGHT: String(n), DETBENCH_OUT: path.join(root, 'results'), DETBENCH_BASELINES: path.join(root, 'baselines'),
      DETBENCH_RUN_ARGS: RUN_ARGS, GITHUB_ACTIONS: '', ...extra,
    },
  });
  const current = r.stdout.match(/^nightly: results in (.*) \(run exit \d\)$/m)?.[1];
  assert.ok(current, `night ${n} wrote no results: ${r.stderr}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, current };
}

const detbench = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 600_000, env: { ...process.env, DETBENCH_PLUGINS: plugin, GITHUB_ACTIONS: '', ...env } });

async function rendersWithMarks(t: TestContext, file: string, figures: string[]) {
  const { page, errors } = await openInChromium(t, file);
  const found = await chartsOnPage(page);
  assert.deepEqual(found.map((f) => f.id), figures, file);
  for (const f of found) assert.ok(f.marks > 0 && f.width > 0, `${file}: ${f.id} has no visible marks`);
  assert.deepEqual(errors, [], file);
  return page;
}

systemTest(`${NIGHTS} real nights: a step at night 20, results changed at 25, nothing else; the site, JUnit, --confirm`, ['chromium', 'xmllint'], async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-nights-'));
  const site = path.join(root, 'site');
  const nights: Array<ReturnType<typeof night>> = [];
  for (let n = 1; n <= NIGHTS; n++) nights.push(night(root, n, n === NIGHTS ? { DETBENCH_SITE: site } : {}));

  // nightly's verdicts: green until the slowdown, red from then on
  assert.deepEqual(nights.map((x) => x.status), Array.from({ length: NIGHTS }, (_, i) => (i + 1 < 20 ? EXIT.ok : EXIT.findings)), nights.map((x) => x.stderr.slice(-300)).join('\n'));
  const compared = (n: number) => JSON.parse(fs.readFileSync(path.join(nights[n - 1].current, 'compare.json'), 'utf8')) as Comparison;
  const failing = (n: number) => [...new Set(compared(n).findings.filter((f) => f.severity === 'fail').map((f) => `${f.kind} ${f.cell?.id}`))].sort();
  assert.deepEqual(failing(20), ['slower matmul|fake-nightly|cpu|det|t1', 'slower matmul|fake-nightly|cpu|nondet|t1', 'slower reduce-sum|fake-nightly|cpu|det|t1', 'slower reduce-sum|fake-nightly|cpu|nondet|t1']);
  assert.ok(failing(25).includes('results-changed matmul|fake-nightly|cpu|det|t1') && failing(25).includes('results-changed reduce-sum|fake-nightly|cpu|det|t1'));
  assert.ok(failing(25).every((f) => f.includes('fake-nightly')), 'the steady backend never fails');

  // history: the steps where they were put, and nothing else
  const h = detbench(['history', path.join(root, 'results'), path.join(root, 'baselines'), '--json']);
  assert.equal(h.status, EXIT.findings, h.stderr);
  const history = JSON.parse(h.stdout) as History;
  assert.equal(history.machines.length, 1);
  assert.equal(history.machines[0].nights.length, NIGHTS, 'the saved baseline is night 1, not a night of its own');
  const steps = history.series.flatMap((s) => s.steps.map((st) => ({ group: s.group, kind: st.kind, what: st.kind === 'timing' ? `${st.measure} ${st.mode}` : st.kind, night: s.points[st.at].night + 1 })));
  for (const st of steps) assert.ok(st.group.includes('|fake-nightly|'), `a step on the steady backend: ${JSON.stringify(st)}`);
  const timing = steps.filter((st) => st.kind === 'timing');
  assert.deepEqual(timing.map((st) => `${st.group} ${st.what}`).sort(), ['matmul|fake-nightly|cpu|t1 computeMs det', 'matmul|fake-nightly|cpu|t1 computeMs nondet', 'reduce-sum|fake-nightly|cpu|t1 computeMs det', 'reduce-sum|fake-nightly|cpu|t1 computeMs nondet']);
  for (const st of timing) assert.ok(Math.abs(st.night - 20) <= 1, `timing step at night ${st.night}`);
  assert.deepEqual(steps.filter((st) => st.kind !== 'timing').map((st) => `${st.group} ${st.kind} ${st.night}`).sort(), ['matmul|fake-nightly|cpu|t1 results 25', 'reduce-sum|fake-nightly|cpu|t1 results 25']);
  const text = detbench(['history', path.join(root, 'results')]).stdout;
  assert.match(text, /det compute time stepped 1\.\d\d× at night (19|20|21) /);
  assert.match(text, /det results changed at night 25 .*changed with them: .*environment\.env\.DETBENCH_FAKE_NIGHT/);

  // the site nightly.sh published on the last night
  const index = path.join(site, 'index.html');
  const page = await rendersWithMarks(t, index, ['chart-latest']);
  assert.match((await page.textContent('#findings')) ?? '', /fake-nightly .*stepped to 1\.\d\d×/);
  const cellHref = await page.$eval('table.grid a[href*="matmul-fake-nightly"]', (a) => a.getAttribute('href'));
  await rendersWithMarks(t, path.join(site, cellHref!), ['chart-stability', 'chart-time', 'chart-slowdown']);

  // the JUnit file of the last night
  const junit = path.join(nights[NIGHTS - 1].current, 'junit.xml');
  const lint = spawnSync('xmllint', ['--noout', '--schema', XSD, junit], { encoding: 'utf8' });
  assert.equal(lint.status, 0, lint.stderr);
  assert.match(fs.readFileSync(junit, 'utf8'), /<failure type="results-changed"/);

  // a blip: night 30 again, on a busy machine (2× slower), then compare --confirm 3 once it is over
  const blipFile = path.join(root, 'busy');
  fs.writeFileSync(blipFile, '');
  const blip = detbench(['run', ...RUN_ARGS.split(' '), '--out', path.join(root, 'blip'), '--json'], { DETBENCH_FAKE_NIGHT: String(NIGHTS), DETBENCH_FAKE_BLIP_FILE: blipFile });
  assert.ok(blip.status === EXIT.ok || blip.status === EXIT.findings, blip.stderr);
  const blipDir = (JSON.parse(blip.stdout) as { resultsDir: string }).resultsDir;
  fs.rmSync(blipFile);
  const before = nights[NIGHTS - 1].current;
  const plain = detbench(['compare', before, blipDir, '--json']);
  assert.equal(plain.status, EXIT.findings, 'the blip is slower than the night before');
  assert.equal((JSON.parse(plain.stdout) as Comparison).findings.filter((f) => f.kind === 'slower').length, 8, 'every cell of both backends');
  const listing = () => fs.readdirSync(before).sort().join();
  const untouched = listing();
  const confirmed = detbench(['compare', before, blipDir, '--confirm', '3'], { DETBENCH_FAKE_NIGHT: String(NIGHTS), DETBENCH_FAKE_BLIP_FILE: blipFile });
  assert.equal(confirmed.status, EXIT.ok, `${confirmed.stdout}\n${confirmed.stderr}`);
  assert.match(confirmed.stdout, /Confirmation \(3 re-runs of the flagged cells, in .*confirm\):/);
  assert.equal([...confirmed.stdout.matchAll(/^ {2}- \[slower\] .*: not confirmed, repeated in 0 of 3 re-run\(s\)$/gm)].length, 8, confirmed.stdout);
  assert.doesNotMatch(confirmed.stdout, /: confirmed,/);
  assert.equal(listing(), untouched, 'the baseline side is never written to');
  assert.ok(fs.readdirSync(path.join(blipDir, 'confirm')).filter((f) => !f.endsWith('.json')).length === 6, 'three re-runs of each backend, in the current folder\'s confirm/');
}, { timeout: 40 * 60_000 });
