import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** Sends `data` through one `COPY … FROM STDIN` statement on `client`; resolves when PostgreSQL has taken it all. */
export function copyIn(client: pg.PoolClient, sql: string, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = client.query(copyFrom(sql));
    stream.on('error', reject);
    stream.on('finish', resolve);
    stream.end(data);
  });
}
