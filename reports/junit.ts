/**
 * JUnit XML for CI test reporters (`--junit FILE` on run and compare): one testcase per cell, each
 * failing finding a <failure>, each incomplete or inconclusive one an <error>, notes in <system-out>;
 * the finding's kind is the `type`, its words (the catalogue's) the `message`, its evidence the text.
 * A cell that could not run here is <skipped>. Findings about no cell, or a group no cell of the list
 * belongs to, get a testcase of their own.
 *
 * The format is the Ant/Jenkins one, as Jenkins' xUnit plugin defines it in junit-10.xsd (the schema
 * test/system/junit.test.ts validates against with xmllint). A pure function of findings and cells.
 */
import type { CellVerdict, Finding, FindingSubject } from '../harness/analysis/summary.js';
import { CELL_KEY_FIELDS } from '../harness/protocol.js';
import { findingText } from './findings.js';

export interface JUnitCell extends FindingSubject {
  /** Unsupported or unavailable here: the testcase is skipped (unless a finding fails it). */
  verdict?: CellVerdict;
  /** Seconds of compute the cell took, when known. */
  seconds?: number;
  message?: string | null;
}

/** Characters XML 1.0 does not allow anywhere (control characters, lone surrogates, U+FFFE/FFFF) become U+FFFD. */
const NOT_XML = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function escapeXml(value: unknown): string {
  return String(value ?? '')
    .replace(NOT_XML, '\uFFFD')
    .replace(/[&<>"'\t\n\r]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' })[c]!);
}

/** Text content keeps its line breaks; only markup and characters XML refuses are escaped. */
const escapeText = (value: unknown) => String(value ?? '').replace(NOT_XML, '\uFFFD').replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);

/** A subject belongs to a cell when every key field the subject has is the cell's. */
const belongsTo = (s: FindingSubject, c: FindingSubject) => s.id === c.id || CELL_KEY_FIELDS.every((f) => s[f] === undefined || s[f] === c[f]);

function testcase(name: string, classname: string, findings: Finding[], cell: JUnitCell | null): string {
  const body: string[] = [];
  for (const f of findings) {
    if (f.severity === 'info') continue;
    const tag = f.severity === 'fail' ? 'failure' : 'error';
    body.push(`<${tag} type="${escapeXml(f.kind)}" message="${escapeXml(findingText(f))}">${escapeText(JSON.stringify(f.evidence, null, 2))}</${tag}>`);
  }
  const skipped = body.length === 0 && (cell?.verdict === 'unsupported' || cell?.verdict === 'unavailable');
  if (skipped) body.push(`<skipped message="${escapeXml(`${cell!.verdict}${cell!.message ? `: ${cell!.message}` : ''}`)}"/>`);
  const notes = findings.filter((f) => f.severity === 'info');
  if (notes.length) body.push(`<system-out>${escapeText(notes.map((f) => `[${f.kind}] ${findingText(f)}`).join('\n'))}</system-out>`);
  const time = cell?.seconds !== undefined ? ` time="${cell.seconds.toFixed(3)}"` : '';
  return `    <testcase name="${escapeXml(name)}" classname="${escapeXml(classname)}"${time}>${body.length ? `\n      ${body.join('\n      ')}\n    ` : ''}</testcase>`;
}

/**
 * One <testsuite> named `suite` in a <testsuites>: a testcase per cell (classname detbench.<workload>),
 * then one per group of findings that no cell took.
 */
export function junitXml(suite: string, cells: readonly JUnitCell[], findings: readonly Finding[], meta: { timestamp: string; hostname: string }): string {
  const taken = new Map<JUnitCell | string, Finding[]>();
  const others = new Map<string, Finding[]>();
  for (const f of findings) {
    const subject = f.cell;
    const cell = subject ? cells.find((c) => c.id === subject.id) ?? cells.find((c) => belongsTo(subject, c) && c.mode !== 'nondet') ?? cells.find((c) => belongsTo(subject, c)) : undefined;
    if (cell) taken.set(cell, [...(taken.get(cell) ?? []), f]);
    else others.set(subject?.id ?? 'detbench', [...(others.get(subject?.id ?? 'detbench') ?? []), f]);
  }
  const cases = [
    ...cells.map((c) => ({ xml: testcase(c.id, `detbench.${c.workload ?? 'cells'}`, taken.get(c) ?? [], c), findings: taken.get(c) ?? [], skipped: !(taken.get(c) ?? []).some((f) => f.severity !== 'info') && (c.verdict === 'unsupported' || c.verdict === 'unavailable') })),
    ...[...others].map(([id, fs]) => ({ xml: testcase(id, 'detbench', fs, null), findings: fs, skipped: false })),
  ];
  const failures = cases.filter((c) => c.findings.some((f) => f.severity === 'fail')).length;
  const errors = cases.filter((c) => !c.findings.some((f) => f.severity === 'fail') && c.findings.some((f) => f.severity === 'incomplete' || f.severity === 'inconclusive')).length;
  const skipped = cases.filter((c) => c.skipped).length;
  const seconds = cells.reduce((s, c) => s + (c.seconds ?? 0), 0).toFixed(3);
  const attrs = `name="${escapeXml(suite)}" tests="${cases.length}" failures="${failures}" errors="${errors}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites ${attrs} time="${seconds}">`,
    `  <testsuite ${attrs} skipped="${skipped}" time="${seconds}" timestamp="${escapeXml(meta.timestamp)}" hostname="${escapeXml(meta.hostname)}">`,
    ...cases.map((c) => c.xml),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
