/**
 * Fleet runs through a real single-node Slurm (Debian's slurm-wlm): the test starts munged,
 * slurmctld and slurmd on localhost with a private configuration, submits the shipped array-job
 * script as a 2-shard array, merges the two results folders and checks the merged analysis gives the
 * same digests as the unsharded run. `.ci/run` installs slurm-wlm; it needs root (as CI runs).
 * Its ports are free ones picked at the start, so it runs beside another Slurm.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { systemTest } from './components.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Ports nobody listens on now: each bound to port 0 (the kernel picks a free one) and held until all
 * are picked, so they differ; released for slurmctld and slurmd to bind a moment later.
 */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** A private single-node Slurm (munged shared), stopped when the test ends: its work folder and environment. */
async function startSlurm(t: TestContext): Promise<{ work: string; env: NodeJS.ProcessEnv }> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-slurm-'));
  const conf = path.join(work, 'slurm.conf');
  const env = { ...process.env, SLURM_CONF: conf };
  const [ctldPort, slurmdPort] = await freePorts(2);
  for (const d of ['state', 'spool', 'log']) fs.mkdirSync(path.join(work, d));
  fs.writeFileSync(conf, [
    'ClusterName=detbench-test', 'SlurmctldHost=localhost', 'SlurmUser=root', 'SlurmdUser=root',
    `SlurmctldPort=${ctldPort}`, `SlurmdPort=${slurmdPort}`, 'AuthType=auth/munge', 'ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none',
    'ReturnToService=2', `SlurmctldPidFile=${work}/slurmctld.pid`, `SlurmdPidFile=${work}/slurmd.pid`, `SlurmdSpoolDir=${work}/spool`,
    `StateSaveLocation=${work}/state`, `SlurmctldLogFile=${work}/log/slurmctld.log`, `SlurmdLogFile=${work}/log/slurmd.log`,
    'SchedulerType=sched/backfill', 'SelectType=select/cons_tres', 'SelectTypeParameters=CR_CPU', 'JobCompType=jobcomp/none',
    'AccountingStorageType=accounting_storage/none', 'JobAcctGatherType=jobacct_gather/none', 'MpiDefault=none',
    `NodeName=localhost CPUs=${Math.max(1, os.cpus().length)} RealMemory=1000 State=UNKNOWN`,
    'PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP', '',
  ].join('\n'));
  if (spawnSync('pgrep', ['-x', 'munged']).status !== 0) {
    fs.mkdirSync('/run/munge', { recursive: true });
    execFileSync('chown', ['munge:munge', '/run/munge']);
    execFileSync('runuser', ['-u', 'munge', '--', '/usr/sbin/munged']);
  }
  t.after(() => {
    for (const pidFile of ['slurmctld.pid', 'slurmd.pid'].map((f) => path.join(work, f))) {
      if (fs.existsSync(pidFile)) spawnSync('kill', [fs.readFileSync(pidFile, 'utf8').trim()]);
    }
  });
  execFileSync('slurmctld', ['-f', conf], { env });
  execFileSync('slurmd', ['-f', conf, '-N', 'localhost'], { env });
  // wait until the node is idle
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const state = spawnSync('sinfo', ['-h', '-o', '%t'], { env, encoding: 'utf8' }).stdout.trim();
    if (state === 'idle') return { work, env };
    execFileSync('sleep', ['0.5']);
  }
  assert.fail(`slurm node never became idle: ${fs.readFileSync(path.join(work, 'log/slurmctld.log'), 'utf8').slice(-2000)}`);
}

const detbench = (...args: string[]) => spawnSync(process.execPath, [path.join(repo, 'bin/detbench.mjs'), ...args], { encoding: 'utf8', cwd: repo, timeout: 300_000 });
const digests = (summaryFile: string) =>
  Object.fromEntries((JSON.parse(fs.readFileSync(summaryFile, 'utf8')).cells as Array<{ cell: string; modalDigest: string | null }>).map((c) => [c.cell, c.modalDigest]));

systemTest('a 2-shard Slurm array job merges into the unsharded run’s digests', 'slurm', async (t) => {
  const { work, env } = await startSlurm(t);
  const flags = ['--backends', 'tfjs-cpu,ort-cpu', '--workloads', 'matmul,mlp-train,reduce-sum', '--repeats', '2', '--threads', '1', '--no-report'];
  const full = detbench('run', ...flags, '--out', path.join(work, 'full'), '--json');
  assert.equal(full.status, 0, full.stderr);
  const fullDir = JSON.parse(full.stdout).resultsDir as string;

  const fleet = path.join(work, 'fleet');
  const submit = spawnSync('sbatch', ['--wait', '--array=1-2', `--output=${work}/job-%a.log`, 'scripts/slurm/detbench-array.sbatch', fleet, ...flags], { cwd: repo, env, encoding: 'utf8', timeout: 600_000 });
  const logs = () => ['1', '2'].map((i) => path.join(work, `job-${i}.log`)).filter(fs.existsSync).map((f) => fs.readFileSync(f, 'utf8').slice(-1500)).join('\n');
  assert.equal(submit.status, 0, `sbatch: ${submit.stderr}\n${logs()}`);
  const shards = ['1', '2'].map((i) => {
    const [run] = fs.readdirSync(path.join(fleet, `shard-${i}`));
    return path.join(fleet, `shard-${i}`, run);
  });
  const manifests = shards.map((d) => JSON.parse(fs.readFileSync(path.join(d, 'manifest.json'), 'utf8')));
  assert.deepEqual(manifests.map((m) => m.shard), [{ index: 1, count: 2 }, { index: 2, count: 2 }]);

  const merged = detbench('merge', ...shards, '--out', fleet, '--json');
  assert.equal(merged.status, 0, merged.stderr);
  const { resultsDir } = JSON.parse(merged.stdout);
  assert.deepEqual(digests(path.join(resultsDir, 'summary.json')), digests(path.join(fullDir, 'summary.json')));
  const mergedManifest = JSON.parse(fs.readFileSync(path.join(resultsDir, 'manifest.json'), 'utf8'));
  assert.equal(mergedManifest.machines.length, 2);
});

systemTest('scancel of an array shard leaves that shard finished as interrupted, and merge says incomplete', 'slurm', async (t) => {
  const { work, env } = await startSlurm(t);
  const fleet = path.join(work, 'fleet');
  // a plan long enough to be cancelled part-way: fake-slow runs take 300 ms each
  const plugin = path.join(repo, 'test/fixtures/fake-backends.ts');
  const jobEnv = { ...env, DETBENCH_PLUGINS: plugin, DETBENCH_FAKE_SLOW_MS: '300' };
  const flags = ['--backends', 'fake-slow', '--workloads', 'matmul,reduce-sum', '--repeats', '60', '--no-report'];
  const submit = spawnSync('sbatch', ['--parsable', '--array=1-2', `--output=${work}/job-%a.log`, 'scripts/slurm/detbench-array.sbatch', fleet, ...flags], { cwd: repo, env: jobEnv, encoding: 'utf8' });
  assert.equal(submit.status, 0, submit.stderr);
  const job = submit.stdout.trim().split(';')[0];
  const runsOf = (shard: string) => {
    const dir = path.join(fleet, `shard-${shard}`);
    const [run] = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    const file = run && path.join(dir, run, 'runs.jsonl');
    return file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
  };
  const deadline = Date.now() + 120_000;
  while (runsOf('1') < 3) {
    assert.ok(Date.now() < deadline, `shard 1 never recorded 3 runs: ${fs.existsSync(`${work}/job-1.log`) ? fs.readFileSync(`${work}/job-1.log`, 'utf8').slice(-1500) : ''}`);
    execFileSync('sleep', ['0.2']);
  }
  execFileSync('scancel', [`${job}_1`], { env });
  // wait for the whole array to be over (shard 2 runs to its end)
  while (spawnSync('squeue', ['-h', '-j', job], { env, encoding: 'utf8' }).stdout.trim() !== '') {
    assert.ok(Date.now() < deadline + 240_000, 'the array job never ended');
    execFileSync('sleep', ['0.5']);
  }
  const shards = ['1', '2'].map((i) => path.join(fleet, `shard-${i}`, fs.readdirSync(path.join(fleet, `shard-${i}`))[0]));
  const completion = JSON.parse(fs.readFileSync(path.join(shards[0], 'complete.json'), 'utf8'));
  assert.equal(completion.interrupted, true, 'the cancelled shard finished its folder as interrupted');
  assert.ok(fs.existsSync(path.join(shards[0], 'summary.json')), 'and analysed it');
  assert.equal(JSON.parse(fs.readFileSync(path.join(shards[1], 'complete.json'), 'utf8')).interrupted, false);

  const merged = spawnSync(process.execPath, [path.join(repo, 'bin/detbench.mjs'), 'merge', ...shards, '--out', fleet, '--json'], { encoding: 'utf8', cwd: repo, env: jobEnv });
  assert.equal(merged.status, 3, `merge of an interrupted shard is incomplete: ${merged.stderr}`);
  const { summary } = JSON.parse(merged.stdout);
  assert.equal(summary.complete, false);
  assert.ok(summary.findings.some((f: { kind: string }) => f.kind === 'incomplete-results'));
});
