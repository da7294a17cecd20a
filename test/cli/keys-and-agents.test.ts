/**
 * The command line's key and agent commands, run as the built CLI against a real PostgreSQL:
 * keys with scopes (docs/read-api.md §1) that the read API then honours, and the linking of
 * docs/read-api.md §2 from a code an agent obtained over HTTP.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAgent } from '../helpers/agent.js';
import { RECEIVER_ENTRY } from '../helpers/receiver.js';
import { errorCode, signed, startReadServer, withKey, type ReadServer } from '../read/support.js';

const execFileP = promisify(execFile);
/** Each command is a process of its own (about a second on a loaded machine); a test runs up to a dozen. */
const CLI_TIMEOUT = { timeout: 120_000 };
let s: ReadServer;

beforeAll(async () => {
  s = await startReadServer('cli_keys_agents');
});
afterAll(async () => {
  await s?.close();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [RECEIVER_ENTRY, ...args], { env: { ...process.env, DATABASE_URL: s.db.url } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The key printed alone on the last line of `keys create`. */
function keyOf(run: Run): string {
  return run.stdout.trim().split('\n').pop() as string;
}

async function linkCode(agent = newAgent()): Promise<{ agent: ReturnType<typeof newAgent>; code: string }> {
  const r = await signed(s.baseUrl, 'POST', '/v1/link/init', agent, { body: { name: 'asked name' } });
  expect(r.status).toBe(201);
  return { agent, code: (r.json as { code: string }).code };
}

describe('keys', CLI_TIMEOUT, () => {
  it('creates ingest keys by default and keys with the scopes asked for, which the read API honours', async () => {
    const plain = await cli('keys', 'create', '--tenant', 'cli-t1', '--name', 'gateway');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('scopes ingest');
    const reader = await cli('keys', 'create', '--tenant=cli-t1', '--name=dashboard', '--scopes=read,admin', '--test');
    expect(reader.code).toBe(0);
    expect(reader.stdout).toContain('scopes read,admin');
    expect(keyOf(reader)).toMatch(/^mpk_test_/);

    expect((await withKey(s.baseUrl, 'GET', '/v1/agents', keyOf(reader))).status).toBe(200);
    const ingestOnly = await withKey(s.baseUrl, 'GET', '/v1/agents', keyOf(plain));
    expect([ingestOnly.status, errorCode(ingestOnly)]).toEqual([403, 'forbidden']);

    const list = await cli('keys', 'list', '--tenant', 'cli-t1');
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]?.split('\t')).toContain('scopes');
    expect(lines.some((l) => l.includes('\tgateway\t') && l.split('\t')[4] === 'ingest')).toBe(true);
    expect(lines.some((l) => l.includes('\tdashboard\t') && l.split('\t')[4] === 'read,admin')).toBe(true);
    expect(list.stdout).not.toContain(keyOf(reader));
  });

  it('refuses an unknown scope, naming it, and stores nothing', async () => {
    const bad = await cli('keys', 'create', '--tenant', 'cli-t2', '--name', 'x', '--scopes', 'read,owner');
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toContain("'owner'");
    expect((await cli('keys', 'create', '--tenant', 'cli-t2', '--name', 'x', '--scopes', '')).code).toBe(2);
    expect((await cli('keys', 'list', '--tenant', 'cli-t2')).stdout.trim().split('\n')).toHaveLength(1);
  });
});

describe('agents', CLI_TIMEOUT, () => {
  it('links an agent by its code, lists it, and unlinks it', async () => {
    const { agent, code } = await linkCode();
    const linked = await cli('agents', 'link', code.toLowerCase(), '--tenant', 'cli-owner', '--name', 'weather bot');
    expect(linked.code).toBe(0);
    expect(linked.stdout).toContain(`linked agent ${agent.agentId} to tenant cli-owner as 'weather bot'`);

    const list = await cli('agents', 'list', '--tenant=cli-owner');
    expect(list.code).toBe(0);
    const rows = list.stdout.trim().split('\n').slice(1).map((l) => l.split('\t'));
    expect(rows.map((r) => r.slice(0, 2))).toEqual([[agent.agentId, 'weather bot']]);
    expect((await cli('agents', 'list', '--tenant', 'cli-nobody')).stdout.trim().split('\n')).toHaveLength(1);

    // A used code: the same tenant gets the same answer again (a retried confirm), another tenant a refusal.
    expect((await cli('agents', 'link', code, '--tenant', 'cli-owner')).code).toBe(0);
    expect((await cli('agents', 'link', code, '--tenant', 'cli-other')).stderr).toContain('invalid_link_code');
    // Another tenant cannot take the agent with a new code either.
    const other = await cli('agents', 'link', (await linkCode(agent)).code, '--tenant', 'cli-other');
    expect([other.code, other.stderr.split(':')[0]]).toEqual([1, 'already_linked']);

    expect((await cli('agents', 'unlink', agent.agentId, '--tenant', 'cli-other')).code).toBe(1);
    const unlinked = await cli('agents', 'unlink', agent.agentId);
    expect(unlinked.code).toBe(0);
    expect(unlinked.stdout).toContain('from tenant cli-owner');
    expect((await cli('agents', 'unlink', agent.agentId)).code).toBe(1);
    expect((await cli('agents', 'list', '--tenant', 'cli-owner')).stdout.trim().split('\n')).toHaveLength(1);
  });

  it('refuses malformed arguments before touching the database', async () => {
    expect((await cli('agents', 'link', 'not-a-code!', '--tenant', 't')).code).toBe(2);
    expect((await cli('agents', 'link', 'ABCD-EFGH')).code).toBe(2);
    expect((await cli('agents', 'list')).code).toBe(2);
    expect((await cli('agents', 'unlink', 'zzz')).code).toBe(2);
    expect((await cli('agents', 'frobnicate')).code).toBe(2);
  });
});

describe('help and options', CLI_TIMEOUT, () => {
  it('--help lists the commands, and each command has its own', async () => {
    const top = await cli('--help');
    for (const c of ['serve', 'migrate', 'keys create', 'keys list', 'keys revoke', 'agents link', 'agents list', 'agents unlink']) expect(top.stdout).toContain(c);
    expect((await cli('keys', '--help')).stdout).toContain('--scopes');
    expect((await cli('keys', 'create', '--help')).stdout).toContain('admin');
    expect((await cli('agents', '--help')).stdout).toContain('agents link CODE --tenant T [--name N]');
    expect((await cli('agents', 'unlink', '-h')).stdout).toContain('agents unlink AGENT_ID');
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect((await cli('--version')).stdout.trim()).toBe(`machpay-receiver ${pkg.version}`);
  });

  it('refuses an unknown option with its name', async () => {
    const r = await cli('keys', 'list', '--tenantt', 'x');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--tenantt');
  });
});
