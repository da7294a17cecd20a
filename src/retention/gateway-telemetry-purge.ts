import type pg from 'pg';
import { deleteInBatches, type BatchedDeletion } from './batched-delete.js';
import type { RetentionLimits } from './retention-limits.js';

/**
 * gateway_telemetry is not partitioned, and stays so: its natural key (tenant_id,
 * event_source, event_id) must hold whatever the time (docs/protocol.md §5), and a unique index
 * of a partitioned table must contain the partition key, so partitioning it would need a second
 * keys table written with every row, as agent_interactions has (008). Old rows go in bounded
 * batches instead, tenant by tenant through the (tenant_id, time) index that reads already use:
 * no index is added to the ingest path for the purge's sake.
 */
export async function purgeGatewayTelemetry(client: pg.ClientBase, cutoffMs: number, limits: RetentionLimits): Promise<BatchedDeletion> {
  // The tenants with rows, by a skip scan over the (tenant_id, time) index: one probe per tenant.
  const { rows } = await client.query<{ tenant_id: string }>(
    `WITH RECURSIVE t AS (
       SELECT min(tenant_id) AS tenant_id FROM gateway_telemetry
       UNION ALL
       SELECT (SELECT min(tenant_id) FROM gateway_telemetry WHERE tenant_id > t.tenant_id) FROM t WHERE t.tenant_id IS NOT NULL)
     SELECT tenant_id FROM t WHERE tenant_id IS NOT NULL`,
  );
  const cutoff = new Date(cutoffMs).toISOString();
  let deleted = 0;
  for (const { tenant_id } of rows) {
    const r = await deleteInBatches(client, 'gateway_telemetry', 'tenant_id = $2 AND time < $3::timestamptz', [tenant_id, cutoff], limits);
    deleted += r.deleted;
    if (!r.complete) return { deleted, complete: false };
  }
  return { deleted, complete: true };
}
