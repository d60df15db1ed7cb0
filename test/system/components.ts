/**
 * What the system tests need besides Node and the npm packages, how to tell whether this machine has
 * it, and how to install it. A test that needs a missing component is skipped with the reason and the
 * install line — or fails, with DETBENCH_TEST_STRICT=1 (CI installs everything and sets it).
 *
 * A system test file registers its tests with `systemTest` only — never `test`, `before` or `after`
 * from node:test, which would run (and fail) without the component — and does its work inside the
 * tests, not at the top level: `npm test` imports every file here to count the tests (list.ts).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { test, type TestContext } from 'node:test';

export interface Component {
  /** Its short name, for the one line `npm test` ends with. */
  name: string;
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
/** The Python the torch backend starts when none is named (DETBENCH_PYTHON, else python3 on PATH). */
export const PLAIN_PYTHON = process.env.DETBENCH_PYTHON || 'python3';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const COMPONENTS = {
  chromium: {
    name: 'Chromium',
    what: 'Chromium (the browser test of the HTML report)',
    install: 'apt-get install chromium, or set CHROMIUM_PATH',
    missing: () => (fs.existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM}`),
  },
  xmllint: {
    name: 'xmllint',
    what: "xmllint (libxml2), which validates the JUnit output against Jenkins' schema",
    install: 'apt-get install libxml2-utils',
    missing: () => (onPath('xmllint') ? null : 'xmllint is not on PATH'),
  },
  slurm: {
    name: 'Slurm',
    what: 'Slurm and munge, as root (the fleet test starts its own single-node Slurm)',
    install: 'apt-get install slurm-wlm munge, and run as root',
    missing: () => {
      const absent = ['munged', 'slurmctld', 'slurmd', 'sbatch'].filter((b) => !onPath(b));
      if (absent.length) return `not on PATH: ${absent.join(', ')}`;
      return process.getuid?.() === 0 ? null : 'the fleet test starts slurmctld and slurmd, which needs root';
    },
  },
  python: {
    name: 'Python',
    what: 'Python 3 (the torch worker answers without torch too)',
    install: 'apt-get install python3, or set DETBENCH_PYTHON',
    missing: () => {
      const r = spawnSync(PLAIN_PYTHON, ['-S', '-c', 'import sys; assert sys.version_info[0] == 3'], { encoding: 'utf8', timeout: 60_000 });
      return r.status === 0 ? null : `${PLAIN_PYTHON} is not a working Python 3 (${(r.error?.message || r.stderr || '').trim().split('\n').at(-1)})`;
    },
  },
  torch: {
    name: 'torch',
    what: 'PyTorch for the torch backend, on the CPU',
    install: 'apt-get install python3-torch, or set DETBENCH_PYTHON to a Python that has torch',
    missing: () => {
      const r = spawnSync(TORCH_PYTHON, ['-c', 'import torch'], { encoding: 'utf8', timeout: 60_000 });
      return r.status === 0 ? null : `${TORCH_PYTHON} cannot import torch (${(r.error?.message || r.stderr || '').trim().split('\n').at(-1)})`;
    },
  },
  lavapipe: {
    name: 'lavapipe',
    what: "Mesa ≥ 24's lavapipe, a software Vulkan driver on which WebGPU computes for real",
    install: 'apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1 (see .ci/run)',
    missing: () => {
      // the Vulkan loader reads only the drivers these name, when set (the CLI tests hide GPUs this way)
      const variable = ['VK_DRIVER_FILES', 'VK_ICD_FILENAMES'].find((v) => process.env[v]);
      const named = variable ? process.env[variable]!.split(':').filter(Boolean) : null;
      if (named && !named.some((f) => fs.existsSync(f) && fs.readFileSync(f, 'utf8').includes('lvp'))) return `${variable}=${process.env[variable!]} leaves lavapipe out`;
      const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'mesa-vulkan-drivers'], { encoding: 'utf8' });
      const version = r.status === 0 ? r.stdout.trim() : '';
      if (!version) return 'mesa-vulkan-drivers is not installed';
      return Number(version.split('.')[0]) >= 24 ? null : `mesa-vulkan-drivers ${version} is older than 24 (Dawn refuses it)`;
    },
  },
  bundle: {
    name: 'bundle',
    what: 'xz, tar, git and timeout (the offline bundle is built, unpacked and run, and records its commit)',
    install: 'apt-get install xz-utils tar git coreutils',
    missing: () => {
      const absent = ['xz', 'tar', 'git', 'timeout'].filter((b) => !onPath(b));
      return absent.length ? `not on PATH: ${absent.join(', ')}` : null;
    },
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

/** Every system test registered in this process, with what it needs. */
export const registered: Array<{ name: string; needs: ComponentName[] }> = [];
let listing = false;

/** From now on systemTest only records its tests: no component is checked and nothing runs (list.ts). */
export function listOnly(): void {
  listing = true;
}

/**
 * `test()` for a test that needs system components: run when they are all here; otherwise skipped
 * with the reason and the install line, or failed under DETBENCH_TEST_STRICT=1.
 */
export function systemTest(name: string, needs: ComponentName | ComponentName[], fn: (t: TestContext) => void | Promise<void>, options: { timeout?: number } = {}): void {
  registered.push({ name, needs: ([] as ComponentName[]).concat(needs) });
  if (listing) return;
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
