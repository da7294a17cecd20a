import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, openSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/net/index.js';
import { tailFile } from '../helpers/log-tail.js';
import { hasExited, keepServiceData, mentionsAddressInUse, stopChild, stopOnProcessExit, withPortRetries, type RunningService } from './service.js';

/**
 * One standalone ZooKeeper for the ClickHouse cluster of the test setup (ON CLUSTER DDL and
 * replicated tables need one). Debian's `zookeeper` package (installed by
 * scripts/ensure-test-services.mjs) provides the jar; it runs in the foreground under the
 * system Java with a small heap, on a free port of 127.0.0.1, with its data under the run
 * directory.
 */

const JAR = '/usr/share/java/zookeeper.jar';
const READY_TIMEOUT_MS = 30_000;

/** Why ZooKeeper cannot run here, or null when it can. */
export function zookeeperMissing(): string | null {
  for (const [path, what] of [
    [JAR, 'the zookeeper package'],
    ['/usr/bin/java', 'a Java runtime'],
  ] as const) {
    try {
      accessSync(path, constants.R_OK);
    } catch {
      return `${path} not found (${what}; \`apt-get install -y --no-install-recommends zookeeper\`)`;
    }
  }
  return null;
}

/** ZooKeeper's four-letter "ruok" → "imok" once it serves. */
function ruok(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.end('ruok'));
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('close', () => done(answer === 'imok'));
  });
}

async function startOnce(runDir: string, attempt: number): Promise<RunningService & { port: number }> {
  const port = await freePort();
  const dir = join(runDir, `zookeeper-${attempt}`);
  await mkdir(join(dir, 'data'), { recursive: true });
  const cfg = join(dir, 'zoo.cfg');
  await writeFile(
    cfg,
    [
      'tickTime=2000',
      `dataDir=${join(dir, 'data')}`,
      `clientPort=${port}`,
      'clientPortAddress=127.0.0.1',
      'admin.enableServer=false',
      '4lw.commands.whitelist=ruok',
      'maxClientCnxns=200',
      // The tests' data is thrown away: no fsync per transaction.
      'forceSync=no',
      '',
    ].join('\n'),
  );
  const logFile = join(dir, 'stdout.log');
  const out = openSync(logFile, 'a');
  // A small heap and the client compiler: the server holds a few hundred znodes, and start-up
  // time counts more than peak speed.
  const child = spawn('/usr/bin/java', ['-Xms16m', '-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', JAR, 'org.apache.zookeeper.server.ZooKeeperServerMain', cfg], {
    cwd: dir,
    stdio: ['ignore', out, out],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
  });
  closeSync(out);
  const forgetExitHook = stopOnProcessExit(() => {
    if (!hasExited(child)) child.kill('SIGTERM');
  });
  child.once('exit', () => forgetExitHook());
  const failure = async (why: string): Promise<Error> => new Error(`ZooKeeper did not start on 127.0.0.1:${port}: ${why}\n--- ${logFile} ---\n${await tailFile(logFile, 20)}`);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (hasExited(child)) throw await failure(`java exited (code ${child.exitCode}, signal ${child.signalCode})`);
    if (await ruok(port)) break;
    if (Date.now() > deadline) {
      await stopChild(child, 'SIGKILL', 1_000);
      throw await failure(`no "imok" within ${READY_TIMEOUT_MS} ms`);
    }
    await sleep(50);
  }
  return {
    name: 'ZooKeeper',
    url: `127.0.0.1:${port}`,
    version: 'Debian zookeeper',
    port,
    async stop() {
      await stopChild(child, 'SIGTERM', 10_000);
      if (!keepServiceData()) await rm(dir, { recursive: true, force: true });
    },
  };
}

export function startZookeeper(runDir: string): Promise<RunningService & { port: number }> {
  return withPortRetries(3, (attempt) => startOnce(runDir, attempt), mentionsAddressInUse);
}
