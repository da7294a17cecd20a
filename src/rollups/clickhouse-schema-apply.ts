import type { ClickHouseClient } from '@clickhouse/client';
import { addColumnsSql, type SchemaStatement } from './clickhouse-ddl.js';

/**
 * Runs the statements of clickhouse-ddl.ts schemaStatements() in order through `client`, for
 * the tables of `database`. A statement that adds columns runs only while its table lacks one,
 * and an ALTER only for the missing ones: 18.16 refuses IF NOT EXISTS there, and a cluster is
 * spared ON CLUSTER rounds at every start. On a cluster this asks the server `client` talks to;
 * ON CLUSTER DDL reaches the others (a server down at the time runs it from the DDL queue when
 * it is back).
 */
export async function applySchemaStatements(client: ClickHouseClient, database: string, statements: readonly SchemaStatement[]): Promise<void> {
  for (const statement of statements) {
    const lacking = statement.lacking;
    if (lacking === null) {
      await client.command({ query: statement.sql });
      continue;
    }
    const missing = async (): Promise<Set<string>> => {
      const rs = await client.query({
        query: `SELECT name FROM system.columns WHERE database = '${quoted(database)}' AND table = '${quoted(lacking.table)}'`,
        format: 'JSONEachRow',
      });
      const present = new Set((await rs.json<{ name: string }>()).map((r) => r.name));
      return new Set(lacking.columns.map((c) => c.name).filter((n) => !present.has(n)));
    };
    const todo = await missing();
    if (todo.size === 0) continue;
    try {
      await client.command({ query: addColumnsSql(statement, todo) });
    } catch (err) {
      // Another receiver starting at the same time may have added them first.
      if (lacking.alter === null || (await missing()).size > 0) throw err;
    }
  }
}

/** The body of a single-quoted SQL string (names are plain identifiers already; this keeps it so). */
function quoted(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}
