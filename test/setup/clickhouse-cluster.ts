import { join } from 'node:path';
import { freePorts } from '../../src/net/index.js';
import { startClickhouseServer } from './clickhouse-server.js';
import { mentionsAddressInUse, withPortRetries, type RunningService } from './service.js';

/**
 * The run's ClickHouse as a two-server cluster: the server every test uses, and a second one,
 * both knowing two clusters (remote_servers) over the same two processes:
 *
 * - `machpay_shards`: two shards of one replica each, for Distributed tables sharded by entity;
 * - `machpay_replicas`: one shard of two replicas (internal_replication), for Replicated tables.
 *
 * Both servers have the macro shard=01 (the replicated cluster's one shard) and replica r1 / r2,
 * and use one ZooKeeper for ON CLUSTER DDL and replication. The interserver HTTP port, which
 * replicas fetch parts through, is open on 127.0.0.1 only.
 */

export const SHARDED_CLUSTER = 'machpay_shards';
export const REPLICATED_CLUSTER = 'machpay_replicas';

export interface ClickhouseClusterInfo {
  sharded: string;
  replicated: string;
  /** HTTP URL of each server; the first is the run's shared server. */
  serverUrls: string[];
}

interface Member {
  http: number;
  tcp: number;
  interserver: number;
}

function clusterConfig(members: readonly Member[], self: number, zookeeperPort: number): string {
  const replica = (m: Member): string => `<replica><host>127.0.0.1</host><port>${m.tcp}</port></replica>`;
  const me = members[self] as Member;
  return `  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_port>${me.interserver}</interserver_http_port>
  <remote_servers>
    <${SHARDED_CLUSTER}>
${members.map((m) => `      <shard>${replica(m)}</shard>`).join('\n')}
    </${SHARDED_CLUSTER}>
    <${REPLICATED_CLUSTER}>
      <shard><internal_replication>true</internal_replication>${members.map(replica).join('')}</shard>
    </${REPLICATED_CLUSTER}>
  </remote_servers>
  <zookeeper>
    <node><host>127.0.0.1</host><port>${zookeeperPort}</port></node>
    <session_timeout_ms>30000</session_timeout_ms>
  </zookeeper>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
  <macros><shard>01</shard><replica>r${self + 1}</replica></macros>
`;
}

type Server = RunningService & { kill(): Promise<void> };

async function startOnce(runDir: string, attempt: number, zookeeperPort: number): Promise<{ servers: Server[]; info: ClickhouseClusterInfo }> {
  const ports = await freePorts(6);
  const members: Member[] = [0, 1].map((i) => ({ http: ports[i * 3] as number, tcp: ports[i * 3 + 1] as number, interserver: ports[i * 3 + 2] as number }));
  const started = await Promise.allSettled(
    members.map((m, i) => startClickhouseServer(join(runDir, `clickhouse-${i + 1}-${attempt}`), m.http, m.tcp, clusterConfig(members, i, zookeeperPort))),
  );
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.allSettled(servers.map((s) => s.stop()));
    throw failed.reason;
  }
  return { servers, info: { sharded: SHARDED_CLUSTER, replicated: REPLICATED_CLUSTER, serverUrls: servers.map((s) => s.url) } };
}

/** Two ClickHouse servers forming the clusters above, started together (about as fast as one). */
export function startClickhouseCluster(runDir: string, zookeeperPort: number): Promise<{ servers: Server[]; info: ClickhouseClusterInfo }> {
  return withPortRetries(3, (attempt) => startOnce(runDir, attempt, zookeeperPort), mentionsAddressInUse);
}
