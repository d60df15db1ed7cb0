// Module hooks that run detbench's TypeScript from the compiled mirror (compiled.mjs) under the
// sources' own URLs, for a process that loads .ts files by their paths — `npm test` registers them
// (register-compiled.mjs): import.meta.url, stacks (through the mirror's source maps) and test file
// names stay those of the sources, and no process or thread compiles anything.
import fs from 'node:fs';
import { compiledUrl, decideMirror } from './compiled.mjs';

/** `data` from register-compiled.mjs: whether its thread found the mirror fresh (it registers these hooks only then). */
export function initialize({ fresh }) {
  decideMirror(fresh);
}

const RELATIVE_JS = /^\.{1,2}\/.*\.js$/;

/** `./x.js` names x.ts (TypeScript's NodeNext imports), when x.ts is a compiled source. */
export async function resolve(specifier, context, next) {
  if (RELATIVE_JS.test(specifier) && context.parentURL?.startsWith('file:')) {
    const ts = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (compiledUrl(ts)) return { url: ts.href, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}

/** A compiled .ts source: the mirror's JavaScript, as an ES module at the source's URL. */
export async function load(url, context, next) {
  if (url.startsWith('file:') && url.endsWith('.ts')) {
    const compiled = compiledUrl(new URL(url));
    if (compiled) return { format: 'module', source: fs.readFileSync(compiled, 'utf8'), shortCircuit: true };
  }
  return next(url, context);
}
