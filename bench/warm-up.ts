/**
 * Before anything is measured, each server gets a few seconds of the same kinds of requests
 * (batches, then single events) from agents of their own: connections to PostgreSQL opened,
 * staging tables and prepared statements created, code optimised. Without it the first
 * second of the first scenario measures start-up (it was 10% of a 10 s `target` run).
 * The warm-up agents' rows are not part of any scenario's row audit.
 */
import { AgentSet } from './agents.js';
import { runLoad } from './load.js';
import type { Progress } from './progress.js';
import { batchSource, singleSource } from './request-bodies.js';
import type { Target } from './targets.js';

export async function warmUp(targets: readonly Target[], seconds: number, progress: Progress): Promise<string[]> {
  const agents = new AgentSet(64);
  const lines: string[] = [];
  for (const t of targets) {
    const batches = await runLoad({ label: `warm-up ${t.name} batches`, url: t.url, connections: 8, durationS: seconds, source: batchSource(agents, 100), trustResponses: false, progress });
    const singles = await runLoad({ label: `warm-up ${t.name} singles`, url: t.url, connections: 32, durationS: seconds, source: singleSource(agents), trustResponses: false, progress });
    lines.push(`  warm-up ${t.name}: ${batches.requests.sent + singles.requests.sent} requests, ${batches.errors + singles.errors} errors`);
  }
  return lines;
}
