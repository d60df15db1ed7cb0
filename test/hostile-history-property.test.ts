/**
 * The property of hostile-property.test.ts for history and publish, whose readers (harness/nights.ts)
 * take a folder's summary.json when it has one and check only the fields they read: whatever is done
 * to a night that has its summary.json, or to a saved baseline in a store, both exit 0, 1 or 2; on 2
 * one line and no stack; nothing outside the folders given is reached, and publish writes into its
 * site only.
 *
 * Seeded, so a failure reproduces; DETBENCH_FC_RUNS and DETBENCH_FC_SEED explore further.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { saveBaseline } from '../harness/baselines.ts';
import { outside, startCliHost } from './fixtures/in-process.ts';
import { makeResults } from './fixtures/results.ts';

// fewer than hostile-property's 24: each case runs publish, which renders pages (≈ 0.2 s)
const RUNS = Number(process.env.DETBENCH_FC_RUNS ?? 16);
const SEED = Number(process.env.DETBENCH_FC_SEED ?? 20261127);

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-history-property-'));
const suite = { workloads: ['matmul'], backends: ['tfjs-cpu', 'ort-cpu'], repeats: 2, traceSteps: 2 };
/** Never mutated: the other side of compare and merge. */
const intact = makeResults(root, suite);
const pristine = makeResults(root, suite);
const pristineBaselines = fs.mkdtempSync(path.join(root, 'baselines-'));
saveBaseline(pristine, pristineBaselines);
/** Outside every folder a command is given; a link to it must never be followed. */
const secret = path.join(root, 'secret');
fs.writeFileSync(secret, '{"secret": true}\n');

const host = startCliHost();
after(() => host.close());

/** What a value in a file may be replaced by. `INF` is written as the JSON number 1e999. */
const VALUES = [null, '12', 42, 0, 4, -1, 1e308, 'INF', '../../secret', `../${'0'.repeat(61)}`, {}, [], true, ''] as const;

type Mutation =
  | { kind: 'truncate' | 'flip' | 'remove' | 'link-out' | 'link-copy'; file: number; at: number }
  | { kind: 'field'; file: number; line: number; field: number; value: number }
  | { kind: 'line'; op: 'null' | '42' | '{}' | 'duplicate' | 'drop' | 'swap' | 'cut'; line: number }
  | { kind: 'remove-artifacts' }
  /** Things in the way of what `report` writes into the folder: links to elsewhere, a folder. */
  | { kind: 'plant'; what: 'link-report' | 'link-summary' | 'folder-report' | 'link-charts' };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('truncate', 'flip', 'remove', 'link-out', 'link-copy'), file: fc.nat(), at: fc.nat() }),
  fc.record({ kind: fc.constant('field'), file: fc.nat(), line: fc.nat(), field: fc.nat(), value: fc.nat(VALUES.length - 1) }),
  fc.record({ kind: fc.constant('field'), file: fc.nat(), line: fc.nat(), field: fc.nat(), value: fc.nat(VALUES.length - 1) }),
  fc.record({ kind: fc.constant('line'), op: fc.constantFrom('null', '42', '{}', 'duplicate', 'drop', 'swap', 'cut'), line: fc.nat() }),
  fc.constant({ kind: 'remove-artifacts' as const }),
  fc.record({ kind: fc.constant('plant'), what: fc.constantFrom('link-report', 'link-summary', 'folder-report', 'link-charts') }),
);

/** Every file under dir, sorted (so a number picks the same file every time). */
function files(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** Every path into a JSON value, containers included (the root is not replaced). */
function paths(value: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  if (value === null || typeof value !== 'object') return at.length ? [at] : [];
  const inner = Object.entries(value).flatMap(([k, v]) => paths(v, [...at, Array.isArray(value) ? Number(k) : k]));
  return at.length ? [at, ...inner] : inner;
}

function replaceField(text: string, pick: number, value: unknown): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  const all = paths(parsed);
  if (all.length === 0) return null;
  const where = all[pick % all.length];
  let parent = parsed as Record<string | number, unknown>;
  for (const k of where.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  parent[where.at(-1)!] = value === 'INF' ? '__INF__' : value;
  return JSON.stringify(parsed).replace('"__INF__"', '1e999');
}

function apply(dir: string, m: Mutation): void {
  if (m.kind === 'remove-artifacts') {
    fs.rmSync(path.join(dir, 'artifacts'), { recursive: true, force: true });
    return;
  }
  if (m.kind === 'plant') {
    const at = (name: string) => {
      fs.rmSync(path.join(dir, name), { recursive: true, force: true });
      return path.join(dir, name);
    };
    if (m.what === 'link-report') fs.symlinkSync(secret, at('report.md'));
    if (m.what === 'link-summary') fs.symlinkSync(secret, at('summary.json'));
    if (m.what === 'folder-report') fs.mkdirSync(at('report.md'));
    if (m.what === 'link-charts') fs.symlinkSync(fs.mkdtempSync(path.join(root, 'charts-')), at('charts'));
    return;
  }
  const runs = path.join(dir, 'runs.jsonl');
  if (m.kind === 'line') {
    if (!fs.existsSync(runs) || fs.lstatSync(runs).isSymbolicLink()) return;
    const lines = fs.readFileSync(runs, 'utf8').split('\n').filter(Boolean);
    if (lines.length === 0) return;
    const i = m.line % lines.length;
    if (m.op === 'duplicate') lines.push(lines[i]);
    else if (m.op === 'drop') lines.splice(i, 1);
    else if (m.op === 'swap') [lines[i], lines[0]] = [lines[0], lines[i]];
    else if (m.op === 'cut') lines[i] = lines[i].slice(0, lines[i].length >> 1);
    else lines[i] = m.op;
    fs.writeFileSync(runs, lines.join('\n') + '\n');
    return;
  }
  const all = files(dir).filter((f) => !fs.lstatSync(f).isSymbolicLink());
  if (all.length === 0) return;
  const file = all[m.file % all.length];
  const bytes = fs.readFileSync(file);
  switch (m.kind) {
    case 'truncate':
      fs.truncateSync(file, bytes.length ? m.at % bytes.length : 0);
      return;
    case 'flip':
      if (bytes.length === 0) return;
      bytes[m.at % bytes.length] ^= 1 << (m.at % 8);
      fs.writeFileSync(file, bytes);
      return;
    case 'remove':
      fs.rmSync(file);
      return;
    case 'link-out':
    case 'link-copy': {
      // link-copy: the link points at an identical copy elsewhere, so following it would pass every check
      const target = m.kind === 'link-out' ? secret : path.join(fs.mkdtempSync(path.join(root, 'elsewhere-')), path.basename(file));
      if (m.kind === 'link-copy') fs.copyFileSync(file, target);
      fs.rmSync(file);
      fs.symlinkSync(target, file);
      return;
    }
    case 'field': {
      if (file.endsWith('.f32')) return;
      const text = bytes.toString('utf8');
      if (file === runs) {
        const lines = text.split('\n').filter(Boolean);
        if (lines.length === 0) return;
        const i = m.line % lines.length;
        const changed = replaceField(lines[i], m.field, VALUES[m.value]);
        if (changed === null) return;
        lines[i] = changed;
        fs.writeFileSync(file, lines.join('\n') + '\n');
      } else {
        const changed = replaceField(text, m.field, VALUES[m.value]);
        if (changed !== null) fs.writeFileSync(file, changed);
      }
    }
  }
}

/** A fresh copy of `from` inside a folder of its own, mutated. */
function mutated(from: string, mutations: Mutation[]): string {
  const dir = path.join(fs.mkdtempSync(path.join(root, 'case-')), path.basename(from));
  fs.cpSync(from, dir, { recursive: true });
  for (const m of mutations) apply(dir, m);
  return dir;
}

/** A night with its summary.json, as `detbench run` leaves it: what nights.ts reads first. */
const withSummary = makeResults(root, suite);

async function check(args: string[], roots: string[]): Promise<number> {
  const r = await host.detbench(args);
  const what = `${args.join(' ')}`;
  assert.notEqual(r.code, 'threw', `${what} threw: ${r.error}`);
  assert.ok([0, 1, 2].includes(r.code as number), `${what} → exit ${String(r.code)}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${what} printed a stack: ${r.stderr}`);
  if (r.code === 2) assert.match(r.stderr, /^detbench: [^\n]+\n$/, `${what} → exit 2 with other than one line: ${JSON.stringify(r.stderr)}`);
  assert.deepEqual(outside(r.touched, roots), [], `${what} reached outside ${roots.join(', ')}`);
  return r.code as number;
}

before(async () => {
  // summary.json, as the run wrote it; and the modules history and publish load on first use (read
  // from node_modules, outside every folder given), loaded once here
  assert.equal((await host.detbench(['report', withSummary, '--format', 'json'])).code, 0);
  assert.ok((await host.detbench(['history', withSummary])).code !== 'threw');
  assert.ok((await host.detbench(['publish', withSummary, '--out', fs.mkdtempSync(path.join(root, 'site-'))])).code !== 'threw');
});

test('history and publish on a mutated night (summary.json included): exit 0-2, one line on exit 2, nothing outside the given folders', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
      const dir = mutated(withSummary, mutations);
      await check(['history', dir, intact], [dir, intact]);
      const site = fs.mkdtempSync(path.join(root, 'site-'));
      await check(['publish', dir, intact, '--out', site], [dir, intact, site]);
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
});

test('history and publish on a baselines store with a mutated saved baseline: exit 0-2, one line on exit 2, nothing outside', async () => {
  const [hardware] = fs.readdirSync(pristineBaselines);
  const [hash] = fs.readdirSync(path.join(pristineBaselines, hardware));
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
      const baselines = fs.mkdtempSync(path.join(root, 'baselines-'));
      fs.mkdirSync(path.join(baselines, hardware));
      const saved = path.join(baselines, hardware, hash);
      fs.cpSync(path.join(pristineBaselines, hardware, hash), saved, { recursive: true });
      for (const m of mutations) apply(saved, m);
      await check(['history', baselines], [baselines]);
      const site = fs.mkdtempSync(path.join(root, 'site-'));
      await check(['publish', baselines, '--out', site], [baselines, site]);
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
});
