/**
 * The mix of a run: case `index` of seed `seed` is always the same case. About 80 % are
 * correctly signed or keyed hostile bodies (so they reach the decoders and the validator),
 * the rest attack authentication, headers and the HTTP layer.
 */
import { agentAuthCase, apiKeyCase, mediaTypeCase } from './auth-cases.js';
import { corruptionCase, extremesCase, gzipCase, opaqueCase } from './body-cases.js';
import { binaryCase, structuredCase } from './events-case.js';
import type { FuzzCase } from './fuzz-case.js';
import { caseRng, type Prng } from './prng.js';
import { rawHttpCase } from './raw-http-cases.js';
import type { RunEnv } from './run-env.js';

type Maker = (rng: Prng, env: RunEnv, index: number) => FuzzCase;

export const CATEGORIES: readonly (readonly [number, string, Maker])[] = [
  [31, 'events-json-batch', (r, e, i) => structuredCase(r, e, i, 'json-batch', 'events-json-batch')],
  [17, 'events-msgpack', (r, e, i) => structuredCase(r, e, i, 'msgpack', 'events-msgpack')],
  [7, 'events-json-single', (r, e, i) => structuredCase(r, e, i, 'json-single', 'events-json-single')],
  [9, 'events-binary', (r, e, i) => binaryCase(r, e, i, 'events-binary')],
  [9, 'body-corruption', corruptionCase],
  [4, 'gzip', gzipCase],
  [1, 'structure-extremes', extremesCase],
  [1.5, 'opaque-flips', opaqueCase],
  [12, 'auth-agent', agentAuthCase],
  [4, 'auth-key', apiKeyCase],
  [4, 'headers-media', mediaTypeCase],
  [1, 'raw-http', rawHttpCase],
];

export function generateCase(env: RunEnv, index: number): FuzzCase {
  const rng = caseRng(env.seed, index);
  const maker = rng.weighted(CATEGORIES.map(([w, , m]) => [w, m] as const));
  return maker(rng, env, index);
}
