// detbench's TypeScript, compiled once to JavaScript. Loading the sources through tsx costs each
// process and each worker thread ≈ 0.4–0.5 s of CPU (its hooks thread, then every module through the
// hooks); a run starts several threads, and the tests start hundreds. So `npm install` (postinstall)
// and `npm test` compile harness/, reports/, workloads/ and test/ (the tests and their plugins) to a
// mirror under node_modules/.cache/detbench/js: one .js per .ts, the other files copied, so every
// path a module builds from import.meta.url points into the same tree.
//
// The mirror is used only while it is fresh: its stamp lists every source file's size and mtime, and
// one changed, added or removed file sends the whole process back to the sources and tsx — slower,
// never different. DETBENCH_DEBUG=1 (stacks that name the TypeScript lines) and DETBENCH_COMPILED=0
// use the sources too. Plain JavaScript: it runs before tsx is registered.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The folders compiled, relative to the project: the code, and the tests (run compiled by npm test). */
const SOURCE_DIRS = ['harness', 'reports', 'workloads', 'test'];
/** Changes when what compile() writes changes, so an older mirror is stale. */
const FORMAT = 3;
const MIRROR_PARTS = ['node_modules', '.cache', 'detbench', 'js'];

const here = fileURLToPath(import.meta.url);
const marker = path.sep + path.join(...MIRROR_PARTS) + path.sep;
const inMirror = here.includes(marker);
/** The detbench checkout (or the bundle's app folder), whichever tree this file was loaded from. */
export const PROJECT_ROOT = inMirror ? here.slice(0, here.indexOf(marker)) : path.resolve(path.dirname(here), '..', '..');
/** Where compile() writes the mirror. */
export const MIRROR_ROOT = path.join(PROJECT_ROOT, ...MIRROR_PARTS);
const STAMP = path.join(MIRROR_ROOT, 'stamp.json');
const TSCONFIG = 'tsconfig.json';
/** Names in the compiled folders that are not sources: Python's bytecode, a nested install. */
const SKIPPED = new Set(['__pycache__', 'node_modules']);

/** Every file and every folder of the compiled folders, relative to the project, sorted. */
function sourceTree() {
  const files = [];
  const dirs = [];
  const walk = (rel) => {
    dirs.push(rel);
    for (const entry of fs.readdirSync(path.join(PROJECT_ROOT, rel), { withFileTypes: true })) {
      const child = path.join(rel, entry.name);
      if (SKIPPED.has(entry.name)) continue;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) files.push(child);
    }
  };
  for (const dir of SOURCE_DIRS) if (fs.existsSync(path.join(PROJECT_ROOT, dir))) walk(dir);
  return { files: files.sort(), dirs: dirs.sort() };
}

const signature = (rel) => {
  const s = fs.statSync(path.join(PROJECT_ROOT, rel));
  return [s.size, s.mtimeMs];
};

/** How many entries of a folder compile() sees. */
const entries = (dir) => fs.readdirSync(path.join(PROJECT_ROOT, dir)).filter((name) => !SKIPPED.has(name)).length;

/**
 * Whether the mirror's stamp matches the sources: a stat of each listed file (tsconfig.json's
 * compiler options among them), a count of each folder; for compile(), also the esbuild version.
 */
function stampMatches(esbuildVersion) {
  try {
    const stamp = JSON.parse(fs.readFileSync(STAMP, 'utf8'));
    if (stamp.format !== FORMAT) return false;
    if (esbuildVersion !== undefined && stamp.esbuild !== esbuildVersion) return false;
    for (const [rel, [size, mtimeMs]] of Object.entries(stamp.files)) {
      const [s, m] = signature(rel);
      if (s !== size || m !== mtimeMs) return false;
    }
    // a file added beside the listed ones (a new module, a plugin) changes its folder's count
    for (const [dir, count] of Object.entries(stamp.dirs)) if (entries(dir) !== count) return false;
    return true;
  } catch {
    return false; // no mirror, or a source gone
  }
}

let freshMemo;

/** Whether this thread loads the mirror: it matches the sources (checked once) and no variable asks for the sources. */
export function mirrorFresh() {
  freshMemo ??= process.env.DETBENCH_DEBUG !== '1' && process.env.DETBENCH_COMPILED !== '0' && stampMatches();
  return freshMemo;
}

/**
 * Makes this thread's decision the one of another thread: module hooks (compiled-hooks.mjs) run in a
 * thread of their own, and must load what the thread that registered them decided, even if a
 * source changed in between (else a .ts it expects compiled goes to Node as it is).
 */
export function decideMirror(fresh) {
  freshMemo = fresh;
}

/** Whether `url` is a module of the mirror. */
export const isCompiled = (url) => fileURLToPath(url).startsWith(MIRROR_ROOT + path.sep);

/**
 * The module to load for source file `url` (a .ts, .mjs or .cjs under the project): its copy in the
 * mirror while the mirror is fresh, or null (load the source). A URL already in the mirror is kept.
 */
export function compiledUrl(url) {
  if (isCompiled(url)) return new URL(String(url).replace(/\.ts$/, '.js'));
  return mirrorFresh() ? mirrorCopy(url) : null;
}

/**
 * The mirror's copy of source file `url`, fresh or not, or null: what a module running from the
 * mirror loads, so that it stays in its own tree after a source changed (backends/index.ts's plugins).
 */
export function mirrorCopy(url) {
  const rel = path.relative(PROJECT_ROOT, fileURLToPath(url));
  if (rel.startsWith('..') || !SOURCE_DIRS.some((dir) => rel.startsWith(dir + path.sep))) return null;
  const target = path.join(MIRROR_ROOT, rel.replace(/\.ts$/, '.js'));
  return fs.existsSync(target) ? pathToFileURL(target) : null;
}

/**
 * Writes the mirror when it is not fresh: each .ts transpiled by esbuild (what tsx does in memory,
 * with the project's compiler options), the other files copied. Written beside and swapped in, so a
 * process never sees half a mirror. Returns what it did, in words.
 */
export async function compile() {
  // the version from its package.json: loading esbuild costs ≈ 0.1 s of CPU, needed only to compile
  if (stampMatches(createRequire(import.meta.url)('esbuild/package.json').version)) return 'up to date';
  const esbuild = await import('esbuild');
  const { files, dirs } = sourceTree();
  const next = `${MIRROR_ROOT}.tmp-${process.pid}`;
  fs.rmSync(next, { recursive: true, force: true });
  try {
    await writeMirror(next, files, dirs, esbuild);
  } catch (err) {
    // a source that does not parse, a full disk: no half-written folder left in node_modules/.cache
    fs.rmSync(next, { recursive: true, force: true });
    throw err;
  }
  const old = `${MIRROR_ROOT}.old-${process.pid}`;
  try {
    if (fs.existsSync(MIRROR_ROOT)) fs.renameSync(MIRROR_ROOT, old);
    fs.renameSync(next, MIRROR_ROOT);
  } finally {
    fs.rmSync(old, { recursive: true, force: true });
    fs.rmSync(next, { recursive: true, force: true });
  }
  freshMemo = undefined;
  return `compiled ${files.filter((f) => f.endsWith('.ts')).length} TypeScript files to ${path.relative(PROJECT_ROOT, MIRROR_ROOT)}`;
}

/** The mirror of `files`, with its stamp, in the folder `next`. */
async function writeMirror(next, files, dirs, { transform, version }) {
  const stamp = { format: FORMAT, esbuild: version, files: {}, dirs: {} };
  // the signatures are taken before reading, so an edit made during the compile makes the mirror stale
  for (const rel of [...files, TSCONFIG]) stamp.files[rel] = signature(rel);
  // every folder, an empty one too: a file added to it changes its count
  for (const dir of dirs) stamp.dirs[dir] = entries(dir);
  // its compiler options change the JavaScript (class fields, for one), as they do tsx's
  const tsconfig = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, TSCONFIG), 'utf8'));
  // every file settles before this returns (or throws), so none is written after the caller removes the folder
  const written = await Promise.allSettled(files.map(async (rel) => {
    const from = path.join(PROJECT_ROOT, rel);
    const to = path.join(next, rel.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(to), { recursive: true });
    if (!rel.endsWith('.ts')) return fs.copyFileSync(from, to);
    const { code } = await transform(fs.readFileSync(from, 'utf8'), {
      loader: 'ts', format: 'esm', target: 'node20',
      // a map for stacks where they are asked for (the tests: register-compiled.mjs); its source is the
      // .ts beside the module's URL, which is the source's own under the compiled hooks
      sourcemap: 'inline', sourcesContent: false, sourcefile: path.basename(from),
      tsconfigRaw: { compilerOptions: tsconfig.compilerOptions },
    });
    fs.writeFileSync(to, code);
    // The tests' fixtures import with .ts specifiers (harness/ uses .js ones). Rewriting them in the
    // code would rewrite strings that look like imports too; instead the mirror's x.ts is a link to
    // x.js, and Node's resolver follows links (to the real path, unless --preserve-symlinks): one
    // module, at x.js, whichever name imports it.
    fs.symlinkSync(path.basename(to), path.join(next, rel));
  }));
  const failed = written.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  fs.writeFileSync(path.join(next, 'stamp.json'), JSON.stringify(stamp));
  // under node_modules no package.json above says "type": "module"; this one does, for the .js files
  fs.writeFileSync(path.join(next, 'package.json'), '{ "type": "module" }\n');
}
