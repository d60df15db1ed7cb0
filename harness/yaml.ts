/**
 * YAML.parse for suite and expectation files, with the yaml package loaded on first use: it costs
 * ≈ 0.1 s of CPU to load, and most commands never read a YAML file.
 */
import { createRequire } from 'node:module';
import type YAML from 'yaml';

let yaml: typeof YAML | null = null;

export const parseYaml = (text: string): unknown => (yaml ??= createRequire(import.meta.url)('yaml') as typeof YAML).parse(text, { prettyErrors: false });
