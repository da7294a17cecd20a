#!/usr/bin/env node
import { describeConfig, loadConfig, type Config } from '../config.js';
import { ConfigError } from '../config-error.js';
import { createLogger, type Logger } from '../logger.js';
import { startReceiver } from '../receiver.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../api-keys/index.js';
import { openDatabase, withClient } from '../database/index.js';

const USAGE = `machpay-receiver: telemetry receiver for x402 agent payments (protocol: docs/protocol.md)

Usage:
  machpay-receiver [serve] [options]        run the receiver (the default command)
  machpay-receiver migrate [options]        apply schema migrations and exit
  machpay-receiver keys create --tenant T --name N [--test]
                                            create a gateway API key; the key is printed once,
                                            alone on the last line of stdout
  machpay-receiver keys list [--tenant T]   list API keys (never the keys themselves)
  machpay-receiver keys revoke ID           revoke a key by id (or a unique id prefix)
  machpay-receiver <command> --help         help for one command

Endpoints: POST /v1/agent (Ed25519-signed), POST /v1/ingest (API key), GET /metrics,
GET /healthz, GET /readyz. Expose only the two POST endpoints beyond your network;
/metrics is for the Prometheus scraper.

Options (flag, environment variable; flags win over the environment):
${describeConfig()}
`;

const HELP: Record<string, string> = {
  serve: `machpay-receiver serve [options]\n\nRuns the receiver until SIGTERM or SIGINT, then answers every request in flight\n(up to SHUTDOWN_TIMEOUT_MS) and exits 0. With DATABASE_URL unset it starts an embedded\nPostgreSQL under DATA_DIR/postgres.\n\nOptions:\n${describeConfig()}\n`,
  migrate: `machpay-receiver migrate [options]\n\nApplies the schema migrations in schema/postgres (idempotent) and creates the\npartitions of the current and next month, then exits. serve does the same at start.\nUses DATABASE_URL, or the embedded PostgreSQL under DATA_DIR.\n`,
  keys: `machpay-receiver keys create --tenant T --name N [--test]\nmachpay-receiver keys list [--tenant T]\nmachpay-receiver keys revoke ID\n\nGateway API keys (docs/protocol.md §4). Only a SHA-256 of each key is stored; the key itself\nis printed once, on the last line of stdout of 'keys create'. Uses DATABASE_URL, or the\nembedded PostgreSQL under DATA_DIR (a running receiver's, if there is one).\n`,
};

interface Parsed {
  command: string;
  sub: string | null;
  positional: string[];
  named: Map<string, string | true>;
  configFlags: string[];
  help: boolean;
}

const COMMAND_FLAGS = new Set(['--tenant', '--name']);
const COMMAND_SWITCHES = new Set(['--test']);

function parseArgs(argv: string[]): Parsed {
  const p: Parsed = { command: 'serve', sub: null, positional: [], named: new Map(), configFlags: [], help: false };
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') p.help = true;
    else if (COMMAND_SWITCHES.has(a)) p.named.set(a, true);
    else if (COMMAND_FLAGS.has(a)) p.named.set(a, argv[++i] ?? '');
    else if (a.startsWith('--')) {
      p.configFlags.push(a);
      if (!a.includes('=') && i + 1 < argv.length) p.configFlags.push(argv[++i] as string);
    } else words.push(a);
  }
  if (words.length > 0) p.command = words.shift() as string;
  if (p.command === 'keys') p.sub = words.shift() ?? null;
  p.positional = words;
  return p;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.help) {
    process.stdout.write(HELP[args.command] ?? USAGE);
    return 0;
  }
  if (args.command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig(process.env, args.configFlags);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`machpay-receiver: invalid configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(args.command === 'serve' ? config.logLevel : 'warn');
  switch (args.command) {
    case 'serve':
      return serve(config, log);
    case 'migrate':
      return withDatabase(config, log, async () => {
        process.stdout.write('schema is up to date\n');
        return 0;
      });
    case 'keys':
      return keys(args, config, log);
    default:
      process.stderr.write(`machpay-receiver: unknown command '${args.command}'\n\n${USAGE}`);
      return 2;
  }
}

async function serve(config: Config, log: Logger): Promise<number> {
  // Handlers go in before start-up: a SIGTERM that arrives while starting stops the receiver
  // as soon as it is up, instead of killing it half-started.
  let signalled: (signal: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => (signalled = resolve));
  let signals = 0;
  const onSignal = (signal: string) => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'signal received');
    signalled(signal);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  const receiver = await startReceiver(config, log);
  await stopRequested;
  try {
    await receiver.stop();
    return 0;
  } catch (err) {
    log.error({ err: (err as Error).message }, 'error while stopping');
    return 1;
  }
}

async function withDatabase(config: Config, log: Logger, fn: (url: string) => Promise<number>): Promise<number> {
  const { url, embedded } = await openDatabase(config, log, 'command');
  try {
    return await fn(url);
  } finally {
    await embedded?.stop();
  }
}

async function keys(args: Parsed, config: Config, log: Logger): Promise<number> {
  const tenant = args.named.get('--tenant');
  switch (args.sub) {
    case 'create': {
      const name = args.named.get('--name');
      if (typeof tenant !== 'string' || typeof name !== 'string' || tenant === '' || name === '') {
        process.stderr.write(`keys create needs --tenant T and --name N\n\n${HELP.keys}`);
        return 2;
      }
      return withDatabase(config, log, (url) =>
        withClient(url, async (client) => {
          const { record, key } = await createApiKey(client, { tenantId: tenant, name, test: args.named.has('--test') });
          process.stdout.write(`created API key ${record.id} for tenant ${record.tenantId} (${record.environment}); it is shown only now:\n${key}\n`);
          return 0;
        }),
      );
    }
    case 'list':
      return withDatabase(config, log, (url) =>
        withClient(url, async (client) => {
          const rows = await listApiKeys(client, typeof tenant === 'string' ? tenant : undefined);
          process.stdout.write(['id', 'tenant', 'name', 'env', 'prefix', 'created', 'last used', 'revoked'].join('\t') + '\n');
          for (const r of rows) {
            const when = (d: Date | null) => (d === null ? '-' : d.toISOString());
            process.stdout.write(
              [r.id, r.tenantId, r.name, r.environment, r.keyPrefix + '…', when(r.createdAt), when(r.lastUsedAt), when(r.revokedAt)].join('\t') + '\n',
            );
          }
          return 0;
        }),
      );
    case 'revoke': {
      const id = args.positional[0];
      if (id === undefined) {
        process.stderr.write(`keys revoke needs an ID\n\n${HELP.keys}`);
        return 2;
      }
      return withDatabase(config, log, (url) =>
        withClient(url, async (client) => {
          const record = await revokeApiKey(client, id);
          if (record === null) {
            process.stderr.write(`no single API key matches '${id}'\n`);
            return 1;
          }
          process.stdout.write(`revoked ${record.id} (tenant ${record.tenantId}, ${record.name})\n`);
          return 0;
        }),
      );
    }
    default:
      process.stderr.write(HELP.keys ?? '');
      return 2;
  }
}

// Pools and timers may hold the event loop open after a command: exit with its code.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`machpay-receiver: ${err.message}\n`);
    process.exit(1);
  },
);
