#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { loadConfig, type Config } from '../config.js';
import { ConfigError } from '../config-error.js';
import { createLogger } from '../logger.js';
import { agentsCommand } from './agents-command.js';
import { parseCommandLine, UsageError, type CommandLine } from './command-line.js';
import { withDatabase } from './database-session.js';
import { keysCommand } from './keys-command.js';
import { serveCommand } from './serve-command.js';
import { spoolCommand } from './spool-command.js';
import { HELP, USAGE } from './usage.js';

/** The package's version, from package.json at the package root (two levels up from src/cli, three from dist/src/cli). */
function version(): string {
  const file = [new URL('../../package.json', import.meta.url), new URL('../../../package.json', import.meta.url)].find((u) => existsSync(u));
  return file === undefined ? 'unknown' : (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  let line: CommandLine;
  try {
    line = parseCommandLine(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`machpay-receiver: ${err.message} (see --help)\n`);
    return 2;
  }
  if (line.version) {
    process.stdout.write(`machpay-receiver ${version()}\n`);
    return 0;
  }
  if (line.help || line.command === 'help') {
    process.stdout.write((line.help && line.named ? HELP[line.command] : undefined) ?? USAGE);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig(process.env, line.configFlags);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`machpay-receiver: invalid configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(line.command === 'serve' ? config.logLevel : 'warn');
  switch (line.command) {
    case 'serve':
      return serveCommand(config, log);
    case 'migrate':
      return withDatabase(config, log, async () => {
        process.stdout.write('schema is up to date\n');
        return 0;
      });
    case 'keys':
      return keysCommand(line, config, log);
    case 'agents':
      return agentsCommand(line, config, log);
    case 'spool':
      return spoolCommand(line, config, log);
    default:
      process.stderr.write(`machpay-receiver: unknown command '${line.command}'\n\n${USAGE}`);
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
