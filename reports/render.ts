/**
 * Charts: vega-lite spec → SVG, SVG → PNG, rendered in a worker thread of their own
 * (render-worker.mjs), started on first use and kept while this process renders. The thread runs
 * without tsx (`execArgv: []`: nor does it inherit a `--import tsx` given to this process), so its
 * libraries load at Node's own speed; requests are answered in order, one at a time.
 */
import { Worker } from 'node:worker_threads';
import type { TopLevelSpec } from 'vega-lite';

/** vega-lite's warnings about the specs rendered so far (tests assert there are none). */
export const specWarnings: string[] = [];

type Reply = { id: number; error?: string; svg?: string; warnings?: string[]; png?: Uint8Array };

let worker: Worker | null = null;
let nextId = 0;
const pending = new Map<number, { resolve: (reply: Reply) => void; reject: (err: Error) => void }>();

function renderer(): Worker {
  if (worker) return worker;
  const w = new Worker(new URL('./render-worker.mjs', import.meta.url), { execArgv: [] });
  w.on('message', (reply: Reply) => {
    const request = pending.get(reply.id)!;
    pending.delete(reply.id);
    // an idle renderer does not keep the process alive
    if (pending.size === 0) w.unref();
    if (reply.error !== undefined) request.reject(new Error(reply.error));
    else request.resolve(reply);
  });
  const fail = (err: Error) => {
    worker = null;
    for (const request of pending.values()) request.reject(err);
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`the chart renderer's thread exited (code ${code})`)));
  return (worker = w);
}

function render(kind: 'svg' | 'png', input: unknown): Promise<Reply> {
  const w = renderer();
  w.ref();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.postMessage({ id, kind, input });
  });
}

export async function toSvg(spec: TopLevelSpec): Promise<string> {
  const reply = await render('svg', spec);
  specWarnings.push(...reply.warnings!);
  return reply.svg!;
}

/** PNG at 2× for sharp text in READMEs and chat; system fonts (DejaVu Sans on Debian) for the labels. */
export async function toPng(svg: string): Promise<Uint8Array> {
  return (await render('png', svg)).png!;
}
