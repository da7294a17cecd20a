import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, openSync, closeSync } from 'node:fs';
import { chown, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '../../src/net/index.js';
import { getOnce } from '../helpers/http-get.js';
import { tailFile } from '../helpers/log-tail.js';
import { hasExited, keepServiceData, mentionsAddressInUse, stopChild, stopOnProcessExit, withPortRetries, type RunningService } from './service.js';

const READY_TIMEOUT_MS = 30_000;

/**
 * The server binary: Debian's /usr/sbin/clickhouse-server (installed by
 * scripts/ensure-test-services.mjs), or the single `clickhouse` binary of upstream packages,
 * which takes `server` as its first argument.
 */
export function findClickhouse(): { file: string; args: string[] } {
  const dirs = ['/usr/bin', '/usr/sbin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  for (const [name, args] of [
    ['clickhouse-server', []],
    ['clickhouse', ['server']],
  ] as const) {
    for (const dir of dirs) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return { file: join(dir, name), args: [...args] };
      } catch {
        // not here
      }
    }
  }
  throw new Error(
    'clickhouse-server not found. `npm test` installs it (scripts/ensure-test-services.mjs, as root); ' +
      'otherwise run `apt-get install -y --no-install-recommends clickhouse-server`, or set TEST_CLICKHOUSE_URL to a server of your own.',
  );
}

/**
 * ClickHouse 18.16 runs as root without complaint, but newer releases refuse when the data
 * directory belongs to another user, and a root-owned server is not what production runs.
 * As root, run it as the `clickhouse` system user the Debian package creates (if present).
 */
export function serverUser(): { uid: number; gid: number } | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  try {
    const uid = Number(execFileSync('id', ['-u', 'clickhouse'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'clickhouse'], { encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
  } catch {
    return null;
  }
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A minimal server config. Only the HTTP and native TCP ports are opened, both on free
 * ports of 127.0.0.1: interserver_http_port, https, MySQL and PostgreSQL protocol ports are
 * left out, and a port that is not configured is not opened (18.16 has no MySQL port; newer
 * releases only open it when configured).
 */
function serverConfig(dir: string, httpPort: number, tcpPort: number, extra: string): string {
  const p = (sub: string): string => xml(join(dir, sub)) + '/';
  return `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>${xml(join(dir, 'log', 'server.log'))}</log>
    <errorlog>${xml(join(dir, 'log', 'server.err.log'))}</errorlog>
    <size>100M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${p('data')}</path>
  <tmp_path>${p('tmp')}</tmp_path>
  <user_files_path>${p('user_files')}</user_files_path>
  <format_schema_path>${p('format_schemas')}</format_schema_path>
  <users_config>${xml(join(dir, 'users.xml'))}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <max_concurrent_queries>200</max_concurrent_queries>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mlock_executable>false</mlock_executable>
${extra}</yandex>
`;
}

/** One user, `default`, no password, reachable from 127.0.0.1 only; no limits beyond memory. */
const USERS_XML = `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <load_balancing>random</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`;

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await chownTree(child, uid, gid);
    else await chown(child, uid, gid);
  }
}

/** GET /ping → "Ok.". Without keep-alive: on SIGTERM ClickHouse waits for open HTTP connections, and pooled idle sockets of this process made teardown take seconds. */
export async function ping(url: string): Promise<boolean> {
  try {
    const res = await getOnce(`${url}/ping`, 1_000);
    return res.status === 200 && res.body.trim() === 'Ok.';
  } catch {
    return false;
  }
}

async function startOnce(runDir: string, attempt: number): Promise<RunningService> {
  const [httpPort, tcpPort] = await freePorts(2);
  if (httpPort === undefined || tcpPort === undefined) throw new Error('freePorts(2) returned too few ports');
  return startClickhouseServer(join(runDir, `clickhouse-${attempt}`), httpPort, tcpPort, '');
}

/**
 * Starts one server with its data in `dir`, on the given 127.0.0.1 ports; `extraConfig` is XML
 * added to the server config (a cluster's remote_servers, ZooKeeper, macros). One attempt: a
 * port taken in the meantime fails it (mentionsAddressInUse).
 */
export async function startClickhouseServer(dir: string, httpPort: number, tcpPort: number, extraConfig: string): Promise<RunningService & { kill(): Promise<void> }> {
  const binary = findClickhouse();
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) await mkdir(join(dir, sub), { recursive: true });
  const configFile = join(dir, 'config.xml');
  await writeFile(configFile, serverConfig(dir, httpPort, tcpPort, extraConfig));
  await writeFile(join(dir, 'users.xml'), USERS_XML);
  const user = serverUser();
  if (user !== null) await chownTree(dir, user.uid, user.gid);

  const stdoutFile = join(dir, 'log', 'stdout.log');
  const out = openSync(stdoutFile, 'a');
  const child = spawn(binary.file, [...binary.args, `--config-file=${configFile}`], {
    cwd: dir,
    stdio: ['ignore', out, out],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC', LANG: 'C.UTF-8' },
    ...(user ?? {}),
  });
  closeSync(out);
  const forgetExitHook = stopOnProcessExit(() => {
    if (!hasExited(child)) child.kill('SIGTERM');
  });
  child.once('exit', () => forgetExitHook());
  const spawned: { error: Error | null } = { error: null };
  child.once('error', (err) => {
    spawned.error = err;
  });

  const url = `http://127.0.0.1:${httpPort}`;
  const startFailure = async (why: string): Promise<Error> =>
    new Error(
      `ClickHouse (${binary.file}) did not start on ${url} (tcp ${tcpPort}): ${why}\n` +
        `--- ${join(dir, 'log', 'server.err.log')} ---\n${await tailFile(join(dir, 'log', 'server.err.log'), 20)}\n` +
        `--- ${stdoutFile} ---\n${await tailFile(stdoutFile, 20)}`,
    );

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (spawned.error !== null) throw await startFailure(`spawn failed: ${spawned.error.message}`);
    if (hasExited(child)) {
      const err = await startFailure(`the server exited (code ${child.exitCode}, signal ${child.signalCode})`);
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    if (await ping(url)) break;
    if (Date.now() > deadline) {
      await stopChild(child, 'SIGKILL', 1_000);
      throw await startFailure(`no "Ok." from GET /ping within ${READY_TIMEOUT_MS} ms`);
    }
    await sleep(50);
  }

  let version: string;
  try {
    version = await clickhouseVersion(url);
  } catch (err) {
    await stopChild(child, 'SIGTERM', 5_000);
    throw await startFailure(`answers /ping but not SELECT version(): ${err instanceof Error ? err.message : String(err)}`);
  }

  let stopping = false;
  child.once('exit', (code, sig) => {
    if (stopping) return;
    void tailFile(join(dir, 'log', 'server.err.log'), 20).then((tail) =>
      console.error(`[test-services] ClickHouse exited during the run (code ${code}, signal ${sig})\n${tail}`),
    );
  });

  return {
    name: 'ClickHouse',
    url,
    version,
    async stop() {
      stopping = true;
      await stopChild(child, 'SIGTERM', 15_000);
      if (!keepServiceData()) await rm(dir, { recursive: true, force: true });
    },
    /** SIGKILL: for a server whose data is thrown away and whose graceful stop would wait on a peer. */
    async kill() {
      stopping = true;
      await stopChild(child, 'SIGKILL', 5_000);
      if (!keepServiceData()) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `SELECT version()` over HTTP, without keep-alive. */
export async function clickhouseVersion(url: string): Promise<string> {
  const res = await getOnce(`${url}/?query=${encodeURIComponent('SELECT version()')}`, 5_000);
  if (res.status !== 200) throw new Error(`SELECT version() on ${url}: HTTP ${res.status}: ${res.body.slice(0, 300)}`);
  return res.body.trim();
}

/** Starts one ClickHouse server from the system binary on free 127.0.0.1 ports, everything under `runDir`. */
export function startClickhouse(runDir: string): Promise<RunningService> {
  return withPortRetries(3, (attempt) => startOnce(runDir, attempt), mentionsAddressInUse);
}
