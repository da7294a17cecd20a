import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { openEmbeddedPostgres, type EmbeddedDatabase } from './embedded.js';
import { migrate } from './migrations.js';
import { ensureMonthlyPartitions } from './partitions.js';
import { withClient } from './pool.js';

export interface OpenDatabase {
  url: string;
  /** The embedded server when DATABASE_URL is unset; whoever opened it stops it. */
  embedded: EmbeddedDatabase | null;
}

/** Opens the configured PostgreSQL (or the embedded default) and brings its schema up to date. */
export async function openDatabase(config: Config, log: Logger, mode: 'serve' | 'command'): Promise<OpenDatabase> {
  let embedded: EmbeddedDatabase | null = null;
  let url = config.databaseUrl;
  if (url === null) {
    embedded = await openEmbeddedPostgres(config.dataDir, log, mode);
    url = embedded.url;
  }
  try {
    await withClient(url, async (client) => {
      const { applied } = await migrate(client);
      if (applied.length > 0) log.info({ applied }, 'schema migrations applied');
      await ensureMonthlyPartitions(client).catch((err: unknown) => {
        // Other receivers' traffic held the table longer than the DDL's lock_timeout: rows of
        // a month without its partition wait in the default one, and upkeep tries again.
        if ((err as { code?: unknown }).code !== '55P03') throw err;
        log.warn({ err: (err as Error).message }, 'monthly partitions not created at start (lock timeout); partition upkeep retries');
      });
    });
  } catch (err) {
    await embedded?.stop().catch(() => undefined);
    throw err;
  }
  return { url, embedded };
}
