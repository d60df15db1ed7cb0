/**
 * The compiled mirror (harness/run/compiled.mjs), on a small project of its own in a temporary folder:
 * compile() writes .js files that run; the mirror is used only while every source is as stamped; an
 * edited, added or removed file, DETBENCH_COMPILED=0 or DETBENCH_DEBUG=1 send a process to the sources.
 * Each question is asked in a new process: a process decides once.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const project = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-compiled-'));
const write = (rel: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(project, rel)), { recursive: true });
  fs.writeFileSync(path.join(project, rel), text);
};
for (const file of ['compiled.mjs', 'compiled-hooks.mjs', 'register-compiled.mjs', 'tsx.mjs']) fs.cpSync(new URL(`../../harness/run/${file}`, import.meta.url), path.join(project, 'harness/run', file));
fs.cpSync(new URL('../../tsconfig.json', import.meta.url), path.join(project, 'tsconfig.json'));
write('package.json', '{ "type": "module" }\n');
write('harness/a.ts', "import { b } from './b.js';\nexport const a = (x: number): number => b + x;\n");
write('harness/b.ts', 'export const b: number = 1;\n');
// the tests' fixtures import with .ts specifiers, and TypeScript's class fields follow the project's options
write('test/fixtures/p.ts', "import { a } from '../../harness/a.ts';\nclass K { readonly v: number = a(1); }\nexport const p = new K().v;\nexport const text = \"import { a } from '../../harness/a.ts';\";\n");
fs.mkdirSync(path.join(project, 'node_modules'));
for (const name of ['esbuild', 'tsx']) fs.symlinkSync(path.dirname(createRequire(import.meta.url).resolve(`${name}/package.json`)), path.join(project, 'node_modules', name));

const mirror = path.join(project, 'node_modules/.cache/detbench/js');
const source = (rel: string) => pathToFileURL(path.join(project, rel)).href;

/** Runs `body` (an async function's statements, `c` being compiled.mjs) in a new Node.js process and returns what it returns. */
function ask(body: string, env: NodeJS.ProcessEnv = {}): unknown {
  const script = `const c = await import(${JSON.stringify(source('harness/run/compiled.mjs'))});\nconst answer = await (async () => { ${body} })();\nconsole.log(JSON.stringify(answer ?? null));`;
  const environment = { ...process.env, DETBENCH_COMPILED: '', DETBENCH_DEBUG: '', ...env };
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: environment }).trim().split('\n').at(-1)!);
}
const fresh = (env?: NodeJS.ProcessEnv) => ask('return c.mirrorFresh();', env);
/** In one process: whether the mirror was fresh, compile()'s words, and whether it is fresh after. */
const recompile = () => ask('const before = c.mirrorFresh(); const done = await c.compile(); return [before, done, c.mirrorFresh()];') as [boolean, string, boolean];
const p = JSON.stringify(source('test/fixtures/p.ts'));

test('compile() writes a mirror that runs, and the mirror is used only while every source is as stamped', () => {
  const [before, done, after] = recompile();
  assert.equal(before, false, 'no mirror yet');
  assert.match(done, /^compiled 3 TypeScript files to node_modules\/\.cache\/detbench\/js$/);
  assert.equal(after, true);
  // what runs, and where things are, from either tree (one process: none of it changes the decision)
  assert.deepEqual(ask(`const fixture = await import(c.compiledUrl(new URL(${p})).href);
    return [fixture.p, fixture.text, await c.compile(),
      c.compiledUrl(new URL(${JSON.stringify(source('harness/a.ts'))})).href,
      (await import(${JSON.stringify(pathToFileURL(path.join(mirror, 'harness/run/compiled.mjs')).href)})).PROJECT_ROOT,
      c.compiledUrl(new URL(${JSON.stringify(source('elsewhere.ts'))}))];`), [
    2,
    // a string that looks like an import is the source's, not rewritten
    "import { a } from '../../harness/a.ts';",
    'up to date',
    pathToFileURL(path.join(mirror, 'harness/a.js')).href,
    project,
    null, // a file outside the compiled folders
  ]);

  // asked not to, or for TypeScript stacks: the sources
  assert.deepEqual(ask(`return [c.mirrorFresh(), c.compiledUrl(new URL(${JSON.stringify(source('harness/a.ts'))}))];`, { DETBENCH_COMPILED: '0' }), [false, null]);
  assert.equal(fresh({ DETBENCH_DEBUG: '1' }), false);

  // an edit, an added file, a removed file: stale until compiled again, and then the new code runs
  write('harness/b.ts', 'export const b: number = 10;\n');
  assert.deepEqual(ask(`const before = c.mirrorFresh(); await c.compile(); return [before, c.mirrorFresh(), (await import(c.compiledUrl(new URL(${p})).href)).p];`), [false, true, 11], 'an edited source');
  write('harness/c.ts', 'export const c = 3;\n');
  assert.deepEqual(recompile().filter((x) => typeof x === 'boolean'), [false, true], 'an added source');
  fs.rmSync(path.join(project, 'harness/c.ts'));
  assert.deepEqual(recompile().filter((x) => typeof x === 'boolean'), [false, true], 'a removed source');
  assert.ok(!fs.existsSync(path.join(mirror, 'harness/c.js')), 'the mirror holds no file the sources lost');
  // Python's bytecode folder beside a worker script is not a source
  fs.mkdirSync(path.join(project, 'harness/__pycache__'));
  assert.equal(fresh(), true);

  // a file added to a folder that held none
  fs.mkdirSync(path.join(project, 'test/empty'));
  recompile();
  write('test/empty/d.ts', 'export const d = 4;\n');
  assert.deepEqual(recompile().filter((x) => typeof x === 'boolean'), [false, true], 'a source added to an empty folder');
  // the compiler options change the JavaScript (class fields): tsconfig.json is a source too
  const tsconfig = fs.readFileSync(path.join(project, 'tsconfig.json'), 'utf8');
  fs.writeFileSync(path.join(project, 'tsconfig.json'), tsconfig.replace('"strict": true,', '"strict": true, "useDefineForClassFields": false,'));
  assert.deepEqual(recompile().filter((x) => typeof x === 'boolean'), [false, true], 'tsconfig.json edited');
  // another esbuild: compile() writes the mirror again (a run still uses the one there)
  const stampFile = path.join(mirror, 'stamp.json');
  fs.writeFileSync(stampFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(stampFile, 'utf8')), esbuild: '0.0.1' }));
  const [stillFresh, again] = recompile();
  assert.equal(stillFresh, true);
  assert.match(again, /^compiled /);
});

test('a compile that fails (a source that does not parse) leaves the mirror as it was and no half-written folder', () => {
  ask('return c.compile();');
  write('harness/broken.ts', 'export const = ;\n');
  assert.match(String(ask('try { await c.compile(); return "compiled"; } catch (err) { return err.message; }')), /broken\.ts/);
  assert.deepEqual(fs.readdirSync(path.dirname(mirror)).filter((name) => name.startsWith('js.')), [], 'no js.tmp-PID beside the mirror');
  assert.ok(fs.existsSync(path.join(mirror, 'harness/a.js')), 'the previous mirror is still there');
  assert.equal(fresh(), false, 'and stale: broken.ts is not in it');
  fs.rmSync(path.join(project, 'harness/broken.ts'));
});

test('the compiled hooks (npm test) load the mirror when their process decided so, even if a source changed right after', () => {
  ask('return c.compile();');
  // a preload that runs after register-compiled.mjs has decided, before the hooks load anything
  write('touch.mjs', `import fs from 'node:fs';\nconst now = new Date();\nfs.utimesSync(${JSON.stringify(path.join(project, 'harness/b.ts'))}, now, now);\n`);
  const script = `console.log((await import(${JSON.stringify(source('harness/a.ts'))})).a(1));`;
  const out = execFileSync(process.execPath, ['--import', source('harness/run/register-compiled.mjs'), '--import', source('touch.mjs'), '--input-type=module', '-e', script], {
    encoding: 'utf8', env: { ...process.env, DETBENCH_COMPILED: '', DETBENCH_DEBUG: '' },
  });
  assert.equal(out.trim(), '11');
  assert.equal(fresh(), false, 'the touch made the mirror stale');
});

const repoMirror = fileURLToPath(new URL('../../node_modules/.cache/detbench/js', import.meta.url));

test("a module running from the mirror loads a plugin of the compiled folders from the mirror, even once the mirror is stale (one tree, one copy of each module)", { skip: !fs.existsSync(path.join(repoMirror, 'harness/backends/index.js')) && 'no compiled mirror: npm run compile' }, () => {
  const plugin = fileURLToPath(new URL('../fixtures/fault-backends.ts', import.meta.url));
  const script = `const { loadPlugins, findBackend } = await import(${JSON.stringify(pathToFileURL(path.join(repoMirror, 'harness/backends/index.js')).href)});
await loadPlugins(${JSON.stringify(plugin)});
const mirrored = await import(${JSON.stringify(pathToFileURL(path.join(repoMirror, 'test/fixtures/fault-backends.js')).href)});
console.log(mirrored.backends[0] === findBackend(mirrored.backends[0].info.id));`;
  // DETBENCH_COMPILED=0 makes this process find the mirror stale, as an edit made since it started would
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, DETBENCH_COMPILED: '0', DETBENCH_DEBUG: '' } });
  assert.equal(out.trim(), 'true');
});
