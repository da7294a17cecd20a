import { API_KEY_SCOPES, createApiKey, listApiKeys, revokeApiKey, type ApiKeyScope } from '../api-keys/index.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { CommandLine } from './command-line.js';
import { onClient, row, withDatabase } from './database-session.js';
import { HELP } from './usage.js';

/** `ingest,read` → the scopes, or a message naming what is wrong. */
export function parseScopes(text: string | undefined): ApiKeyScope[] | string {
  if (text === undefined) return ['ingest'];
  const scopes = text.split(',').map((s) => s.trim());
  const unknown = scopes.filter((s) => !(API_KEY_SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0 || scopes.length === 0) {
    return `--scopes: unknown scope ${unknown.map((s) => `'${s}'`).join(', ')} (use one or more of ${API_KEY_SCOPES.join(', ')}, comma-separated)`;
  }
  return [...new Set(scopes as ApiKeyScope[])];
}

function refuse(message: string): number {
  process.stderr.write(`${message}\n\n${HELP.keys}`);
  return 2;
}

export async function keysCommand(line: CommandLine, config: Config, log: Logger): Promise<number> {
  const { tenant, name } = line.options;
  switch (line.sub) {
    case 'create': {
      if (tenant === undefined || tenant === '' || name === undefined || name === '') return refuse('keys create needs --tenant T and --name N');
      const scopes = parseScopes(line.options.scopes);
      if (typeof scopes === 'string') return refuse(scopes);
      return withDatabase(config, log, async (pool) => {
        const { record, key } = await onClient(pool, (c) => createApiKey(c, { tenantId: tenant, name, test: line.options.test === true, scopes }));
        process.stdout.write(
          `created API key ${record.id} for tenant ${record.tenantId} (${record.environment}; scopes ${record.scopes.join(',')}); it is shown only now:\n${key}\n`,
        );
        return 0;
      });
    }
    case 'list':
      return withDatabase(config, log, async (pool) => {
        const rows = await onClient(pool, (c) => listApiKeys(c, tenant));
        process.stdout.write(row(['id', 'tenant', 'name', 'env', 'scopes', 'prefix', 'created', 'last used', 'revoked']));
        const when = (d: Date | null) => (d === null ? null : d.toISOString());
        for (const r of rows) {
          process.stdout.write(
            row([r.id, r.tenantId, r.name, r.environment, r.scopes.join(','), r.keyPrefix + '…', when(r.createdAt), when(r.lastUsedAt), when(r.revokedAt)]),
          );
        }
        return 0;
      });
    case 'revoke': {
      const id = line.positional[0];
      if (id === undefined) return refuse('keys revoke needs an ID');
      return withDatabase(config, log, async (pool) => {
        const record = await onClient(pool, (c) => revokeApiKey(c, id));
        if (record === null) {
          process.stderr.write(`no single API key matches '${id}'\n`);
          return 1;
        }
        process.stdout.write(`revoked ${record.id} (tenant ${record.tenantId}, ${record.name})\n`);
        return 0;
      });
    }
    default:
      return refuse(line.sub === null ? 'keys needs a sub-command' : `unknown sub-command 'keys ${line.sub}'`);
  }
}
