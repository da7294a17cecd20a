import { parseArgs } from 'node:util';
import { flagName, SPEC } from '../config.js';

/** A command line taken apart: the command words, its own options, and configuration flags. */
export interface CommandLine {
  /** `serve` when no command word is given. */
  command: string;
  /** Whether the command word was given (`--help` alone is the overview, not serve's help). */
  named: boolean;
  /** The second word of commands that have sub-commands (`keys create`). */
  sub: string | null;
  positional: string[];
  /** The command's own options (`--tenant`, `--name`, `--scopes`, `--test`). */
  options: CommandOptions;
  /** Configuration flags as `--name=value`, for loadConfig. */
  configFlags: string[];
  help: boolean;
  version: boolean;
}

export interface CommandOptions {
  tenant?: string;
  name?: string;
  scopes?: string;
  test?: boolean;
}

/** A command line that cannot be understood: the message names what is wrong. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const COMMANDS_WITH_SUBS = new Set(['keys', 'agents', 'spool']);
const COMMAND_OPTIONS = ['tenant', 'name', 'scopes'] as const;

const CONFIG_OPTIONS = Object.keys(SPEC).map((key) => flagName(key).slice(2));

/**
 * Parses with node:util.parseArgs: `--key value` and `--key=value` alike, `-h`/`--help` and
 * `--version` anywhere, and an unknown option refused with its name.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
    test: { type: 'boolean' },
  };
  for (const name of COMMAND_OPTIONS) options[name] = { type: 'string' };
  for (const name of CONFIG_OPTIONS) options[name] = { type: 'string' };

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0] ?? 'invalid command line');
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const words = [...parsed.positionals];
  const line: CommandLine = {
    command: words[0] ?? 'serve',
    named: words.shift() !== undefined,
    sub: null,
    positional: [],
    options: {},
    configFlags: [],
    help: values.help === true,
    version: values.version === true,
  };
  if (COMMANDS_WITH_SUBS.has(line.command)) line.sub = words.shift() ?? null;
  line.positional = words;
  for (const name of COMMAND_OPTIONS) {
    const v = values[name];
    if (typeof v === 'string') line.options[name] = v;
  }
  if (values.test === true) line.options.test = true;
  for (const name of CONFIG_OPTIONS) {
    const v = values[name];
    if (typeof v === 'string') line.configFlags.push(`--${name}=${v}`);
  }
  return line;
}
