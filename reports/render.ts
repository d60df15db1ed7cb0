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
type Request = { resolve: (reply: Reply) => void; reject: (err: Error) => void };

/** The renderer's thread and the requests it has not answered; a thread that dies fails only its own. */
interface Renderer {
  worker: Worker;
  pending: Map<number, Request>;
}

let current: Renderer | null = null;
let nextId = 0;

function renderer(): Renderer {
  if (current) return current;
  const worker = new Worker(new URL('./render-worker.mjs', import.meta.url), { execArgv: [] });
  const r: Renderer = { worker, pending: new Map() };
  worker.on('message', (reply: Reply) => {
    const request = r.pending.get(reply.id);
    if (!request) return;
    r.pending.delete(reply.id);
    // an idle renderer does not keep the process alive
    if (r.pending.size === 0) worker.unref();
    if (reply.error !== undefined) request.reject(new Error(reply.error));
    else request.resolve(reply);
  });
  const fail = (err: Error) => {
    if (current === r) current = null;
    for (const request of r.pending.values()) request.reject(err);
    r.pending.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the chart renderer's thread exited (code ${code})`)));
  return (current = r);
}

function render(kind: 'svg' | 'png', input: unknown): Promise<Reply> {
  const { worker, pending } = renderer();
  worker.ref();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, kind, input });
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
