/**
 * What every case of a run shares: the seed, the agents (derived from the seed, so a case
 * is rebuilt from (seed, index)), and the fixed event time. Agents come in three roles:
 * 'pool' and 'edge' (see CaseIdentity.role) and 'opaque', which sends only the cases whose
 * content the fuzzer cannot predict (random byte flips): its rows are not checked one by one.
 */
import { createHash } from 'node:crypto';
import type { CaseIdentity } from './event-model.js';
import type { EndpointName } from './fuzz-case.js';
import type { Prng } from './prng.js';
import { agentFromSeed } from './agent-book.js';

export interface AgentRef {
  seed: string;
  agentId: string;
}

export interface RunEnv {
  seed: number;
  /** Short text unique to the seed, in ids and sources. */
  runTag: string;
  pool: AgentRef[];
  edge: AgentRef[];
  opaque: AgentRef[];
}

export const POOL_AGENTS = 48;
export const EDGE_AGENTS = 8;
export const OPAQUE_AGENTS = 2;

export function agentSeed(seed: number, role: string, i: number): string {
  return createHash('sha256').update(`machpay-fuzz/${seed}/${role}/${i}`).digest('hex').slice(0, 64);
}

export function makeRunEnv(seed: number): RunEnv {
  const make = (role: string, n: number): AgentRef[] =>
    Array.from({ length: n }, (_, i) => {
      const s = agentSeed(seed, role, i);
      return { seed: s, agentId: agentFromSeed(s).agentId };
    });
  return {
    seed,
    runTag: (seed >>> 0).toString(36),
    pool: make('pool', POOL_AGENTS),
    edge: make('edge', EDGE_AGENTS),
    opaque: make('opaque', OPAQUE_AGENTS),
  };
}

export interface Sender {
  ident: CaseIdentity;
  /** Seed of the signing agent ('' on /v1/ingest). */
  seed: string;
}

/** Picks who sends case `caseIndex` on `endpoint`. */
export function pickSender(rng: Prng, env: RunEnv, endpoint: EndpointName, caseIndex: number, opaque = false): Sender {
  const role = opaque ? 'pool' : rng.chance(0.12) ? 'edge' : 'pool';
  const list = opaque ? env.opaque : role === 'edge' ? env.edge : env.pool;
  const agent = rng.pick(list);
  let other = rng.pick(env.pool);
  if (other.agentId === agent.agentId) other = env.edge[0] as AgentRef;
  return {
    seed: endpoint === 'agent' ? agent.seed : '',
    ident: {
      endpoint,
      agentId: endpoint === 'agent' ? agent.agentId : '',
      otherAgentId: other.agentId,
      role,
      caseIndex,
      runTag: env.runTag,
    },
  };
}
