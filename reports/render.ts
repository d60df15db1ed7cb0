/**
 * vega-lite spec → SVG with vega's headless view (renderer 'none'), SVG → PNG with resvg. Vega
 * escapes every text and attribute it writes into the SVG.
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** vega-lite's warnings about a spec, collected instead of printed (tests assert there are none). */
export const specWarnings: string[] = [];
const logger = {
  level(): number { return 0; },
  error(...args: readonly unknown[]) { specWarnings.push(args.join(' ')); return this; },
  warn(...args: readonly unknown[]) { specWarnings.push(args.join(' ')); return this; },
  info() { return this; },
  debug() { return this; },
} as unknown as NonNullable<Parameters<typeof compile>[1]>['logger'];

export async function toSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec, { logger }).spec), { renderer: 'none', logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** PNG at 2× for sharp text in READMEs and chat; system fonts (DejaVu Sans on Debian) for the labels. */
export function toPng(svg: string): Uint8Array {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: 2 },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}
