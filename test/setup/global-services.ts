/**
 * vitest globalSetup: one real PostgreSQL and one real ClickHouse for the whole run.
 *
 * Both start in parallel on free 127.0.0.1 ports with their data in a fresh temporary
 * directory, and stop (directory removed) in the teardown. Test files reach them through
 * `inject('pgUrl')` / `inject('clickhouseUrl')`, normally via test/helpers/postgres.ts and
 * test/helpers/clickhouse.ts, which give each file a database of its own.
 *
 * Developers with their own servers set TEST_PG_URL (a superuser URL) and/or
 * TEST_CLICKHOUSE_URL (http://host:port); those are used instead of starting one.
 */
import type { TestProject } from 'vitest/node';
import { startClickhouseCluster, type ClickhouseClusterInfo } from './clickhouse-cluster.js';
import { clickhouseVersion, startClickhouse } from './clickhouse-server.js';
import { postgresVersion, startPostgres } from './postgres-server.js';
import { createRunDir, removeRunDir, sweepStaleRunDirs } from './run-dir.js';
import { keepServiceData, type RunningService } from './service.js';
import { startZookeeper, zookeeperMissing } from './zookeeper-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the `postgres` database. */
    pgUrl: string;
    /** ClickHouse HTTP interface, http://127.0.0.1:port (user `default`, no password). */
    clickhouseUrl: string;
    /** This run's temporary directory, removed at teardown (and swept if the run is killed); helpers keep per-test state under it. */
    testRunDir: string;
    /**
     * The ClickHouse cluster (test/setup/clickhouse-cluster.ts): clickhouseUrl's server and a
     * second one, with ZooKeeper. Null, with the reason, when ClickHouse is the developer's own
     * (TEST_CLICKHOUSE_URL) or ZooKeeper is not installed.
     */
    clickhouseCluster: ClickhouseClusterInfo | { unavailable: string };
  }
}

const TAG = '[test-services]';

/** A server the developer runs (TEST_PG_URL / TEST_CLICKHOUSE_URL): checked to answer, never stopped. */
async function external(name: string, envName: string, url: string, version: (url: string) => Promise<string>): Promise<RunningService> {
  let v: string;
  try {
    v = await version(url);
  } catch (err) {
    throw new Error(`${envName}=${url.replace(/\/\/[^@/]*@/, '//…@')} does not answer: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { name, url, version: `${v} (external, ${envName})`, stop: async () => {} };
}

export default async function setup({ provide }: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  const log = (line: string): void => console.log(`${TAG} ${line}`);
  const swept = await sweepStaleRunDirs(log);
  if (swept.length > 0) log(`removed ${swept.length} directory(ies) left by killed runs: ${swept.join(', ')}`);

  const pgFromEnv = process.env.TEST_PG_URL;
  const chFromEnv = process.env.TEST_CLICKHOUSE_URL;
  const runDir = await createRunDir();

  const timed = async (start: () => Promise<RunningService>): Promise<RunningService & { ms: number }> => {
    const t0 = performance.now();
    const service = await start();
    return Object.assign(service, { ms: performance.now() - t0 });
  };
  // ClickHouse: two servers as a cluster, with the ZooKeeper they need, when it is installed.
  let cluster: ClickhouseClusterInfo | { unavailable: string } = { unavailable: 'TEST_CLICKHOUSE_URL is set: the cluster tests need the setup\'s own servers' };
  const startClickhouses = async (): Promise<RunningService> => {
    const missing = zookeeperMissing();
    if (missing !== null) {
      cluster = { unavailable: `ZooKeeper cannot run: ${missing}` };
      return startClickhouse(runDir);
    }
    const zookeeper = await startZookeeper(runDir);
    let started;
    try {
      started = await startClickhouseCluster(runDir, zookeeper.port);
    } catch (err) {
      await zookeeper.stop();
      throw err;
    }
    cluster = started.info;
    const [main, second] = started.servers as [RunningService, RunningService & { kill(): Promise<void> }];
    // One service to the teardown. Each server holds pooled connections to the other and waits
    // for them on SIGTERM (about 3 s when both stop together): the second one, whose data is
    // thrown away, is killed first, then the main one stops in its usual way, then ZooKeeper.
    return {
      ...main,
      async stop() {
        await second.kill();
        await main.stop();
        await zookeeper.stop();
      },
    };
  };
  const results = await Promise.allSettled([
    timed(() => (pgFromEnv ? external('PostgreSQL', 'TEST_PG_URL', pgFromEnv, postgresVersion) : startPostgres(runDir))),
    timed(() => {
      const url = chFromEnv?.replace(/\/+$/, '');
      return url ? external('ClickHouse', 'TEST_CLICKHOUSE_URL', url, clickhouseVersion) : startClickhouses();
    }),
  ]);
  const services = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));

  // If vitest exits without the teardown (SIGTERM, Ctrl-C, an uncaught error), each server
  // is still sent its stop signal (service.ts stopOnProcessExit). SIGKILL leaves them
  // running; the next run's sweepStaleRunDirs stops them and removes their directory.
  const teardown = async (): Promise<void> => {
    const t0 = performance.now();
    const stopped = await Promise.allSettled(
      services.map(async (s) => {
        const t = performance.now();
        await s.stop();
        return `${s.name} ${Math.round(performance.now() - t)} ms`;
      }),
    );
    if (keepServiceData()) log(`kept ${runDir} (TEST_KEEP_SERVICE_DATA=1; the next run removes it)`);
    else await removeRunDir(runDir);
    for (const r of stopped) if (r.status === 'rejected') console.error(`${TAG} stop failed:`, r.reason);
    const times = stopped.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    log(`stopped in ${Math.round(performance.now() - t0)} ms (${times.join(', ')})`);
  };

  if (failures.length > 0) {
    await teardown();
    throw new AggregateError(failures, failures.map((e) => (e instanceof Error ? e.message : String(e))).join('\n\n'));
  }
  const [pgService, chService] = services as [RunningService & { ms: number }, RunningService & { ms: number }];
  provide('pgUrl', pgService.url);
  provide('clickhouseUrl', chService.url);
  provide('testRunDir', runDir);
  provide('clickhouseCluster', cluster);
  log(
    `PostgreSQL ${pgService.version} (${Math.round(pgService.ms)} ms) and ClickHouse ${chService.version} at ${chService.url} ` +
      `(${Math.round(chService.ms)} ms${'serverUrls' in cluster ? `, with a second server and ZooKeeper as a cluster` : ''}) ready in ${Math.round(performance.now() - started)} ms` +
      `; data in ${runDir}`,
  );
  return teardown;
}
