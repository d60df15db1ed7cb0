/**
 * The offline bundle as a user on an air-gapped host gets it: built by `npm run bundle`, unpacked in
 * an empty folder, run with a clean environment (no PATH to this machine's Node.js or npm).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { systemTest } from './components.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));

systemTest('npm run bundle: one tar.xz ≤ 60 MB that runs the quick suite on the CPU backends from a clean environment', 'bundle', () => {
  // coreutils timeout signals the whole process group (cp, npm, tar, xz), which spawnSync's own timeout
  // would leave running; 30 min is many times the build's ≈ 2 min on 2 idle cores
  const build = spawnSync('timeout', ['--kill-after=10', '1800', 'bash', 'scripts/bundle.sh'], { cwd: repo, encoding: 'utf8' });
  assert.equal(build.status, 0, build.status === 124 ? `the build took more than 30 min: ${build.stderr}` : build.stderr);
  const version = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')).version;
  const tarball = path.join(repo, 'dist', `detbench-${version}-linux-x64.tar.xz`);
  const sizeMB = fs.statSync(tarball).size / 1e6;
  assert.ok(sizeMB <= 60, `bundle is ${sizeMB.toFixed(1)} MB`);

  const host = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-host-'));
  execFileSync('tar', ['-xJf', tarball, '-C', host]);
  const launcher = path.join(host, `detbench-${version}-linux-x64`, 'detbench');
  // its TypeScript compiled, and the mirror still fresh after tar (harness/run/compiled.mjs)
  const compiledModule = pathToFileURL(path.join(path.dirname(launcher), 'app', 'harness', 'run', 'compiled.mjs')).href;
  const fresh = execFileSync(path.join(path.dirname(launcher), 'runtime', 'node'), ['--input-type=module', '-e', `console.log((await import(${JSON.stringify(compiledModule)})).mirrorFresh())`], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  assert.equal(fresh.trim(), 'true', 'the bundle runs its compiled TypeScript');
  const r = spawnSync(launcher, ['run', '--suite', 'quick', '--out', path.join(host, 'results'), '--json'], {
    cwd: host,
    env: { HOME: host, PATH: '/usr/bin:/bin', TMPDIR: host },
    encoding: 'utf8',
    timeout: 900_000,
  });
  assert.equal(r.status, 0, r.stderr.slice(-3000));
  assert.deepEqual(fs.readdirSync(host).filter((f) => f.startsWith('tsx-')), [], 'nothing went through tsx (its cache is in TMPDIR)');
  const { summary, report } = JSON.parse(r.stdout);
  assert.equal(summary.complete, true);
  assert.ok(summary.verdict.reproducible);
  assert.ok(summary.negativeControls.length > 0 && summary.negativeControls.every((n: { seen: boolean }) => n.seen));
  assert.ok(fs.existsSync(report));
  const manifest = JSON.parse(fs.readFileSync(path.join(path.dirname(report), 'manifest.json'), 'utf8'));
  assert.match(manifest.environment.git.commit, /^[0-9a-f]{40}$/, 'the bundle records the commit it was built from');
});
