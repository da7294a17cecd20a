import type pg from 'pg';
import { deleteInBatches, type BatchedDeletion } from './batched-delete.js';
import type { RetentionLimits } from './retention-limits.js';

/**
 * Deletes the agent_alerts (schema/postgres/007) resolved before `cutoff`: the alert history
 * of GET /v1/agent/alerts (docs/read-api.md §5) keeps the retention's days. An open alert
 * (state firing, acknowledged or not) has no resolved_at and stays whatever its age. The
 * partial index of migration 015 holds the resolved alerts by resolved_at, so a batch reads
 * only rows it deletes.
 */
export function purgeResolvedAlerts(client: pg.ClientBase, cutoffMs: number, limits: RetentionLimits): Promise<BatchedDeletion> {
  return deleteInBatches(client, 'agent_alerts', "state = 'resolved' AND resolved_at < $2::timestamptz", [new Date(cutoffMs).toISOString()], limits);
}
