/**
 * The GPUs in a run's fingerprint (harness/env.ts): what nvidia-smi lists joins the hardware key, so
 * baselines of different GPUs behind the same CPU are kept apart, and a driver upgrade is one of the
 * fingerprint changes a comparison reports. A fake nvidia-smi on PATH stands in for the real one.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { compare } from '../harness/analysis/compare.ts';
import { hardwareKey } from '../harness/baselines.ts';
import { fingerprint, parseNvidiaSmi, PROJECT_DIR, type Gpu } from '../harness/env.ts';
import { UsageError } from '../harness/errors.ts';
import { makeResults } from './fixtures/results.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-gpus-'));

/** fingerprint() with `script` as the nvidia-smi found first on PATH. */
function fingerprintWith(script: string) {
  const bin = fs.mkdtempSync(path.join(root, 'bin-'));
  fs.writeFileSync(path.join(bin, 'nvidia-smi'), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  const saved = process.env.PATH;
  process.env.PATH = `${bin}${path.delimiter}${saved}`;
  try {
    return fingerprint(PROJECT_DIR);
  } finally {
    process.env.PATH = saved;
  }
}

test('nvidia-smi\'s GPUs are in the fingerprint; a failing or silent one adds nothing', () => {
  const f = fingerprintWith('[ "$1" = "--query-gpu=name,driver_version" ] && [ "$2" = "--format=csv,noheader" ] || exit 3\necho "NVIDIA H100 80GB HBM3, 580.159.04"\necho "NVIDIA H100 80GB HBM3, 580.159.04"');
  assert.deepEqual(f.gpus, [{ name: 'NVIDIA H100 80GB HBM3', driver: '580.159.04' }, { name: 'NVIDIA H100 80GB HBM3', driver: '580.159.04' }]);
  assert.equal('gpus' in fingerprintWith('echo "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver" >&2; exit 9'), false);
  assert.equal('gpus' in fingerprintWith('exit 0'), false);
  assert.equal(parseNvidiaSmi('garbage\n'), undefined);
});

test('the hardware key: unchanged without GPUs, and GPUs of another model make another key', () => {
  const cpu = { cpu: { model: 'Intel(R) Xeon(R) Processor', cores: 2 }, os: { platform: 'linux', arch: 'x64', release: '6.1', type: 'Linux' } };
  // the key baselines saved before GPUs joined it were filed under
  assert.equal(hardwareKey(cpu), 'intel-r-xeon-r-processor-x2-linux-x64-301ddb6d');
  const h100 = hardwareKey({ ...cpu, gpus: [{ name: 'NVIDIA H100 80GB HBM3', driver: '580.159.04' }] });
  assert.notEqual(h100, hardwareKey(cpu));
  assert.equal(hardwareKey({ ...cpu, gpus: [{ name: 'NVIDIA H100 80GB HBM3', driver: '570.1' }] }), h100, 'a driver is no hardware');
  assert.notEqual(hardwareKey({ ...cpu, gpus: [{ name: 'NVIDIA H200', driver: '580.159.04' }] }), h100);
});

test('compare: a driver upgrade is a fingerprint change; another GPU model is another machine, refused unless allowed', () => {
  const withGpus = (gpus: Gpu[]) => {
    const dir = makeResults(root, { workloads: ['mlp-train'], backends: ['tfjs-cpu'], repeats: 3 });
    const file = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
    manifest.environment.gpus = gpus;
    fs.writeFileSync(file, JSON.stringify(manifest));
    return dir;
  };
  const before = withGpus([{ name: 'NVIDIA H100 80GB HBM3', driver: '570.86.15' }]);
  const upgraded = compare(before, withGpus([{ name: 'NVIDIA H100 80GB HBM3', driver: '580.159.04' }]));
  assert.deepEqual(upgraded.fingerprintChanges.filter((c) => c.field.startsWith('environment.gpus')), [
    { field: 'environment.gpus', baseline: [{ name: 'NVIDIA H100 80GB HBM3', driver: '570.86.15' }], current: [{ name: 'NVIDIA H100 80GB HBM3', driver: '580.159.04' }] },
  ]);
  const other = withGpus([{ name: 'NVIDIA H200', driver: '580.159.04' }]);
  assert.throws(() => compare(before, other), (err: Error) => err instanceof UsageError && err.message.includes('gpus ["NVIDIA H100 80GB HBM3"] → ["NVIDIA H200"]'));
  assert.equal(compare(before, other, undefined, { allowHardwareChange: true }).exitCode, 0);
});
