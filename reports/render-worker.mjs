// The chart renderer's thread (render.ts starts it): vega-lite spec → SVG with vega's headless view
// (renderer 'none'), SVG → PNG with resvg. Plain JavaScript, in a thread started without tsx: vega
// and vega-lite are some 150 ES modules, and through tsx's loader hooks they took ≈ 0.6–0.9 s of CPU
// to load instead of ≈ 0.3 s. Vega escapes every text and attribute it writes into the SVG.
import { parentPort } from 'node:worker_threads';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile } from 'vega-lite';

/** vega-lite's warnings about a spec, collected and sent back with its SVG (tests assert there are none). */
const warnings = [];
const logger = {
  level() { return 0; },
  error(...args) { warnings.push(args.join(' ')); return this; },
  warn(...args) { warnings.push(args.join(' ')); return this; },
  info() { return this; },
  debug() { return this; },
};

async function toSvg(spec) {
  const view = new vega.View(vega.parse(compile(spec, { logger }).spec), { renderer: 'none', logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** PNG at 2× for sharp text in READMEs and chat; system fonts (DejaVu Sans on Debian) for the labels. */
function toPng(svg) {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: 2 },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

/** One request: its reply, or its error as a reply (the thread goes on). */
async function answer({ id, kind, input }) {
  try {
    if (kind === 'svg') {
      const svg = await toSvg(input);
      parentPort.postMessage({ id, svg, warnings: warnings.splice(0) });
    } else {
      const png = new Uint8Array(toPng(input));
      parentPort.postMessage({ id, png }, [png.buffer]);
    }
  } catch (err) {
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
}

// one request at a time, in order: a spec's warnings go back with its own SVG
let queue = Promise.resolve();
parentPort.on('message', (request) => {
  queue = queue.then(() => answer(request));
});
