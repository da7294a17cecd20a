import { TENANT_PATTERN } from '../api-keys/index.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { confirmLink, isAgentId, listAgents, MAX_LIMIT, normalizeLinkCode, ReadError, unlinkAgentAsOperator } from '../read/index.js';
import type { CommandLine } from './command-line.js';
import { row, withDatabase } from './database-session.js';
import { HELP } from './usage.js';

function refuse(message: string): number {
  process.stderr.write(`${message}\n\n${HELP.agents}`);
  return 2;
}

function failed(err: ReadError): number {
  process.stderr.write(`${err.code}: ${err.message ?? 'refused'}\n`);
  return 1;
}

/** The linking of docs/read-api.md §2, for an operator: the same functions as the endpoints. */
export async function agentsCommand(line: CommandLine, config: Config, log: Logger): Promise<number> {
  const { tenant, name } = line.options;
  if (tenant !== undefined && !TENANT_PATTERN.test(tenant)) return refuse(`--tenant: '${tenant}' is not a tenant id`);
  switch (line.sub) {
    case 'link': {
      const code = line.positional[0];
      if (code === undefined || tenant === undefined) return refuse('agents link needs CODE and --tenant T');
      if (normalizeLinkCode(code) === null) return refuse(`'${code}' is not a link code (8 characters of Crockford base32, e.g. ABCD-EFGH)`);
      if (name !== undefined && (name === '' || name.length > 128)) return refuse('--name: 1 to 128 characters');
      return withDatabase(config, log, async (pool) => {
        const linked = await confirmLink(pool, tenant, code, name);
        if (linked instanceof ReadError) return failed(linked);
        process.stdout.write(`linked agent ${linked.agent_id} to tenant ${linked.tenant_id}${linked.name === null ? '' : ` as '${linked.name}'`}\n`);
        return 0;
      });
    }
    case 'list': {
      if (tenant === undefined) return refuse('agents list needs --tenant T');
      return withDatabase(config, log, async (pool) => {
        process.stdout.write(row(['agent', 'name', 'status', 'linked', 'last seen', 'usdc (atomic)', 'sol (lamports)', 'balance at']));
        let cursor: string | undefined;
        do {
          const page = await listAgents(pool, tenant, cursor, MAX_LIMIT);
          if (page instanceof ReadError) return failed(page);
          for (const a of page.data) {
            const b = a.balance;
            process.stdout.write(row([a.agent_id, a.name, a.status, a.linked_at, a.last_seen_at, b?.usdc_balance_atomic, b?.sol_balance_lamports, b?.at]));
          }
          cursor = page.next_cursor ?? undefined;
        } while (cursor !== undefined);
        return 0;
      });
    }
    case 'unlink': {
      const agentId = line.positional[0];
      if (agentId === undefined) return refuse('agents unlink needs AGENT_ID');
      if (!isAgentId(agentId)) return refuse(`'${agentId}' is not an agent id (base58 public key)`);
      return withDatabase(config, log, async (pool) => {
        const from = await unlinkAgentAsOperator(pool, agentId, tenant);
        if (from === null) {
          process.stderr.write(`agent ${agentId} is not linked${tenant === undefined ? '' : ` to tenant ${tenant}`}\n`);
          return 1;
        }
        process.stdout.write(`unlinked agent ${agentId} from tenant ${from}\n`);
        return 0;
      });
    }
    default:
      return refuse(line.sub === null ? 'agents needs a sub-command' : `unknown sub-command 'agents ${line.sub}'`);
  }
}
