/**
 * Expected nondeterminism: `--expect FILE` names known findings, so a nightly stays green on them
 * without hiding them. A finding an expectation matches becomes an `expected` note that carries it
 * whole (every output still says it); an expectation past its expiry date matches nothing and is
 * reported, as is one that matched no finding (fixed? then remove it).
 *
 *   expectations:
 *     - cell: "index-add|ort-webgpu|*"     # glob over the finding's cell id (* any text, ? one character)
 *       expect: unstable                  # a verdict (EXPECTED_VERDICTS) or a finding kind
 *       reason: WebGPU has no determinism switch (issue 12)
 *       expires: 2027-03-31               # optional: from the next day on, it counts again
 */
import fs from 'node:fs';
import { UsageError, message } from './errors.js';
import { parseYaml } from './yaml.js';
import { finding, FINDING_SEVERITY } from './analysis/findings.js';
import { FINDING_KINDS, type ExpectationRef, type Finding, type FindingKind } from './analysis/summary.js';

/** Verdicts an expectation may name, and the finding kinds each covers. */
export const EXPECTED_VERDICTS = {
  unstable: ['det-unstable', 'still-unstable', 'determinism-regression', 'soak-changed', 'step-unstable', 'devices-disagree', 'suspect-device', 'suspect-machine'],
  slower: ['slower', 'slower-inconclusive', 'step-slower'],
  'results-changed': ['results-changed', 'step-results-changed'],
  failing: ['runs-failed', 'newly-failing'],
  unsupported: ['newly-unsupported', 'missing-cell'],
} as const satisfies Record<string, readonly FindingKind[]>;
export type ExpectedVerdict = keyof typeof EXPECTED_VERDICTS;

export interface Expectation extends ExpectationRef {
  kinds: readonly FindingKind[];
  /** Whether a cell id matches the pattern (globMatcher). */
  match: (cellId: string) => boolean;
}

/** Finding kinds an expectation may name: those about a cell that change an exit code (notes change none). */
export const EXPECTABLE_KINDS: readonly FindingKind[] = FINDING_KINDS.filter((k) => FINDING_SEVERITY[k] !== 'info' && k !== 'incomplete-results' && k !== 'no-data');

export const EXPECTATION_FIELDS = ['cell', 'expect', 'reason', 'expires'] as const;

/**
 * `*` any text (`|` included), `?` one character, everything else literal; the whole id must match.
 * Matched by hand, going back only to the last `*`: at most (id length × pattern length) steps. As a
 * regular expression, `*` as `.*`, a pattern of ten stars and a last character that is not there
 * backtracked for 86 s on one cell id, and every further star multiplies that.
 */
export function globMatcher(pattern: string): (text: string) => boolean {
  const p = [...pattern];
  return (text) => {
    const t = [...text];
    let i = 0, j = 0, star = -1, resume = 0;
    while (i < t.length) {
      if (j < p.length && p[j] === '*') {
        star = j++;
        resume = i;
      } else if (j < p.length && (p[j] === '?' || p[j] === t[i])) {
        i++;
        j++;
      } else if (star >= 0) {
        // the last star takes one more character
        j = star + 1;
        i = ++resume;
      } else return false;
    }
    while (j < p.length && p[j] === '*') j++;
    return j === p.length;
  };
}

const isDate = (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s);

/** The expectations of a YAML or JSON file, every field checked. */
export function loadExpectations(file: string): Expectation[] {
  if (!fs.existsSync(file)) throw new UsageError(message.expectMissing(file));
  let parsed: unknown;
  try {
    // the core schema: `2027-03-31` stays the text it is, not a Date
    parsed = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(message.expectParse(file, (err as Error).message.split('\n')[0]));
  }
  const list = (parsed as { expectations?: unknown } | null)?.expectations;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || !Array.isArray(list) || Object.keys(parsed).some((k) => k !== 'expectations')) {
    throw new UsageError(message.expectShape(file));
  }
  const known = [...Object.keys(EXPECTED_VERDICTS), ...EXPECTABLE_KINDS];
  return list.map((entry: unknown, i): Expectation => {
    const at = `${file}: expectations[${i}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new UsageError(message.expectEntry(at));
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) if (!(EXPECTATION_FIELDS as readonly string[]).includes(key)) throw new UsageError(message.expectField(at, key, EXPECTATION_FIELDS));
    if (typeof e.cell !== 'string' || e.cell.trim() === '') throw new UsageError(message.expectValue(at, 'cell', 'a cell id or glob, e.g. "index-add|ort-webgpu|*"', e.cell));
    if (typeof e.expect !== 'string' || !known.includes(e.expect)) throw new UsageError(message.expectValue(at, 'expect', `one of ${known.join(', ')}`, e.expect));
    if (typeof e.reason !== 'string' || e.reason.trim() === '') throw new UsageError(message.expectValue(at, 'reason', 'why this is expected (an issue, a known limitation)', e.reason));
    if (e.expires !== undefined && (typeof e.expires !== 'string' || !isDate(e.expires))) throw new UsageError(message.expectValue(at, 'expires', 'a date, YYYY-MM-DD', e.expires));
    // a verdict first: `slower` and `results-changed` are kinds too, and the verdict covers them
    const kinds: readonly FindingKind[] = e.expect in EXPECTED_VERDICTS ? EXPECTED_VERDICTS[e.expect as ExpectedVerdict] : [e.expect as FindingKind];
    return { pattern: e.cell, expect: e.expect, reason: e.reason, expires: (e.expires as string | undefined) ?? null, kinds, match: globMatcher(e.cell) };
  });
}

const refOf = (x: Expectation): ExpectationRef => ({ pattern: x.pattern, expect: x.expect, reason: x.reason, expires: x.expires });

/**
 * Findings with expectations applied: each finding of a live expectation's kinds whose cell id
 * matches becomes an `expected` note (the first live expectation that matches it); an expired one
 * (`today` past its date) changes nothing and is reported, and so is a live one that matched nothing.
 * Notes are never matched: they change no exit code to begin with.
 */
export function applyExpectations(findings: readonly Finding[], expectations: readonly Expectation[], today = new Date()): Finding[] {
  const day = today.toISOString().slice(0, 10);
  const live = expectations.filter((x) => x.expires === null || x.expires >= day);
  const used = new Set<Expectation>();
  const out = findings.map((f): Finding => {
    if (f.severity === 'info' || !f.cell) return f;
    const x = live.find((e) => e.kinds.includes(f.kind) && e.match(f.cell!.id));
    if (!x) return f;
    used.add(x);
    return finding('expected', f.cell, { finding: f, expectation: refOf(x) });
  });
  for (const x of expectations) {
    if (!live.includes(x)) out.push(finding('expectation-expired', undefined, { expectation: refOf(x) }));
    else if (!used.has(x)) out.push(finding('expectation-unmatched', undefined, { expectation: refOf(x) }));
  }
  return out;
}
