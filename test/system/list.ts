/**
 * The last line of `npm test`: how many system tests `npm run test:system` holds and what they need.
 * Counted, not written down: every test/system/*.test.ts is imported with systemTest in listing mode
 * (it records each test and runs nothing), so tests registered in a loop count too. A file that
 * uses node:test directly is refused, since its tests would run here and would not skip without
 * their component.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { COMPONENTS, listOnly, registered, type ComponentName } from './components.ts';

const dir = path.dirname(fileURLToPath(import.meta.url));
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort();

// any value imported from node:test (a `type` import is fine): `import { test }`, `import test`, `import * as t`
const direct = files.filter((f) => {
  const source = fs.readFileSync(path.join(dir, f), 'utf8');
  return [...source.matchAll(/^import\s+(?!type\s)([^'";]*?)\s+from\s+['"]node:test['"]/gm)].some(([, what]) =>
    !/^\{[^}]*\}$/s.test(what.trim()) || what.replace(/[{}]/g, '').split(',').map((x) => x.trim()).filter(Boolean).some((x) => !x.startsWith('type ')),
  );
});
if (direct.length > 0) {
  process.stderr.write(`test/system/${direct.join(', test/system/')} ${direct.length === 1 ? 'uses' : 'use'} node:test directly: register system tests with systemTest() from test/system/components.ts (a missing component must be a skip)\n`);
  process.exit(1);
}

listOnly();
for (const f of files) await import(pathToFileURL(path.join(dir, f)).href);
const needed = new Set(registered.flatMap((t) => t.needs));
const names = (Object.keys(COMPONENTS) as ComponentName[]).filter((c) => needed.has(c)).map((c) => COMPONENTS[c].name);
process.stdout.write(`${registered.length} system tests (${names.join(', ')}) run with npm run test:system\n`);
