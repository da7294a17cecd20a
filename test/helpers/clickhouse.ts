import { randomBytes } from 'node:crypto';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { inject } from 'vitest';

/**
 * Per-file ClickHouse databases on the run's server (test/setup/global-services.ts).
 *
 * The server the tests start is Debian's ClickHouse 18.16: keep test SQL to what it knows
 * (MergeTree family, `ENGINE = MergeTree() ORDER BY …`, DateTime not DateTime64, no TTL).
 */

/** The server's HTTP URL, http://127.0.0.1:port. */
export function clickhouseServerUrl(): string {
  const url = inject('clickhouseUrl');
  if (typeof url !== 'string' || url === '') {
    throw new Error('clickhouseUrl was not provided: run the integration tests with vitest.config.ts (its globalSetup starts ClickHouse), not vitest.unit.config.ts');
  }
  return url;
}

export interface TestClickhouseDatabase {
  /** URL whose path names the database (`http://127.0.0.1:port/<database>`), as @clickhouse/client's `url` option reads it. */
  readonly url: string;
  /** The bare server URL, without a database. */
  readonly serverUrl: string;
  readonly database: string;
  /** A client whose default database is `database`. Closed by drop(). */
  readonly client: ClickHouseClient;
  drop(): Promise<void>;
}

function databaseName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40) || 'test';
  return `t_${clean}_${randomBytes(5).toString('hex')}`;
}

/** A fresh database for one test file, with a client bound to it. */
export async function createTestClickhouseDatabase(prefix: string): Promise<TestClickhouseDatabase> {
  const serverUrl = clickhouseServerUrl();
  const database = databaseName(prefix);
  const admin = createClient({ url: serverUrl });
  try {
    // Names come from databaseName (only [a-z0-9_]), so backquoting is enough.
    await admin.command({ query: `CREATE DATABASE \`${database}\`` });
  } finally {
    await admin.close();
  }
  const client = createClient({ url: serverUrl, database });
  let dropped = false;
  return {
    url: `${serverUrl}/${database}`,
    serverUrl,
    database,
    client,
    async drop() {
      if (dropped) return;
      dropped = true;
      await client.close();
      const dropper = createClient({ url: serverUrl });
      try {
        await dropper.command({ query: `DROP DATABASE IF EXISTS \`${database}\`` });
      } finally {
        await dropper.close();
      }
    },
  };
}
