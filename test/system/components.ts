/**
 * What the system tests need besides Node and the npm packages, how to tell whether this machine has
 * it, and how to install it. A test that needs a missing component is skipped with the reason and the
 * install line — or fails, with DETBENCH_TEST_STRICT=1 (CI installs everything and sets it).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { test, type TestContext } from 'node:test';

export interface Component {
  /** What the component is, in words. */
  what: string;
  /** How to get it (Debian). */
  install: string;
  /** Null when present; otherwise why not. */
  missing(): string | null;
}

const onPath = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).status === 0;

/** The Python the torch tests use (DETBENCH_PYTHON, else Debian's python3, which has python3-torch). */
export const TORCH_PYTHON = process.env.DETBENCH_PYTHON ?? '/usr/bin/python3';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const COMPONENTS = {
  chromium: {
    what: 'Chromium (the browser test of the HTML report)',
    install: 'apt-get install chromium, or set CHROMIUM_PATH',
    missing: () => (fs.existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM}`),
  },
  xmllint: {
    what: "xmllint (libxml2), which validates the JUnit output against Jenkins' schema",
    install: 'apt-get install libxml2-utils',
    missing: () => (onPath('xmllint') ? null : 'xmllint is not on PATH'),
  },
  slurm: {
    what: 'Slurm and munge, as root (the fleet test starts its own single-node Slurm)',
    install: 'apt-get install slurm-wlm munge, and run as root',
    missing: () => {
      const absent = ['munged', 'slurmctld', 'slurmd', 'sbatch'].filter((b) => !onPath(b));
      if (absent.length) return `not on PATH: ${absent.join(', ')}`;
      return process.getuid?.() === 0 ? null : 'the fleet test starts slurmctld and slurmd, which needs root';
    },
  },
  torch: {
    what: 'PyTorch for the torch backend, on the CPU',
    install: 'apt-get install python3-torch, or set DETBENCH_PYTHON to a Python that has torch',
    missing: () => {
      const r = spawnSync(TORCH_PYTHON, ['-c', 'import torch'], { encoding: 'utf8', timeout: 60_000 });
      return r.status === 0 ? null : `${TORCH_PYTHON} cannot import torch (${(r.stderr ?? r.error?.message ?? '').trim().split('\n').at(-1)})`;
    },
  },
  lavapipe: {
    what: "Mesa ≥ 24's lavapipe, a software Vulkan driver on which WebGPU computes for real",
    install: 'apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1 (see .ci/run)',
    missing: () => {
      const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'mesa-vulkan-drivers'], { encoding: 'utf8' });
      const version = r.status === 0 ? r.stdout.trim() : '';
      if (!version) return 'mesa-vulkan-drivers is not installed';
      return Number(version.split('.')[0]) >= 24 ? null : `mesa-vulkan-drivers ${version} is older than 24 (Dawn refuses it)`;
    },
  },
  bundle: {
    what: 'xz and tar (the offline bundle is built, unpacked and run)',
    install: 'apt-get install xz-utils tar',
    missing: () => (['xz', 'tar'].every(onPath) ? null : 'xz or tar is not on PATH'),
  },
} satisfies Record<string, Component>;

export type ComponentName = keyof typeof COMPONENTS;

export const strict = () => process.env.DETBENCH_TEST_STRICT === '1';

const checked = new Map<ComponentName, string | null>();
/** Why the component is missing (checked once per process), or null. */
export function missing(name: ComponentName): string | null {
  if (!checked.has(name)) checked.set(name, COMPONENTS[name].missing());
  return checked.get(name)!;
}

/**
 * `test()` for a test that needs system components: run when they are all here; otherwise skipped
 * with the reason and the install line, or failed under DETBENCH_TEST_STRICT=1.
 */
export function systemTest(name: string, needs: ComponentName | ComponentName[], fn: (t: TestContext) => void | Promise<void>, options: { timeout?: number } = {}): void {
  const absent = ([] as ComponentName[]).concat(needs).flatMap((c) => {
    const why = missing(c);
    return why ? [`${COMPONENTS[c].what}: ${why} (${COMPONENTS[c].install})`] : [];
  });
  if (absent.length === 0) test(name, options, fn);
  else if (strict()) test(name, () => assert(false, `DETBENCH_TEST_STRICT=1 and a component is missing: ${absent.join('; ')}`));
  else test(name, { skip: absent.join('; ') }, () => {});
}

function assert(ok: boolean, why: string): asserts ok {
  if (!ok) throw new Error(why);
}
