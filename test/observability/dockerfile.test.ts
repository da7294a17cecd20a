import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isObject, REPO_ROOT, type Json } from './dashboard-files.js';
import { copyOf, parseDockerfile, type DockerStage } from './dockerfile-stages.js';
import { parseYamlFile } from './yaml-file.js';

/**
 * The Dockerfile, checked by reading (Docker does not run here): a pinned Node 20 image, tini
 * as PID 1, production dependencies only, and in the runtime image exactly the compiled
 * receiver and the files it opens, no benchmark, example or test code.
 */

let text: string;
let args: Map<string, string>;
let stages: DockerStage[];
let runtime: DockerStage;
let receiver: Json;
let lock: { packages: Record<string, { optionalDependencies?: Record<string, string> }> };

beforeAll(async () => {
  text = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  ({ args, stages } = parseDockerfile(text));
  runtime = stages.at(-1) as DockerStage;
  const compose = await parseYamlFile(join(REPO_ROOT, 'docker-compose.yml'));
  const services = isObject(compose) && isObject(compose.services) ? compose.services : {};
  receiver = isObject(services.receiver) ? services.receiver : {};
  lock = JSON.parse(await readFile(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as typeof lock;
});

const runs = (s: DockerStage) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
const copies = (s: DockerStage) => s.instructions.filter((i) => i.keyword === 'COPY').map((i) => copyOf(i.args));

/** Files the built receiver opens relative to its own modules (src/receiver.ts, src/rollups, src/console, src/database, src/server, src/cli). */
const OPENED_AT_RUNTIME = [
  'package.json',
  'dist/src/cli/main.js',
  'dist/workers/ingest-worker.js',
  'dist/workers/rollup-folder.js',
  'dist/console/index.html',
  'schema/postgres',
  'schema/clickhouse',
  'docs/openapi.json',
];

describe('Dockerfile', () => {
  it('builds every stage from one pinned Node 20 image', () => {
    expect(args.get('NODE_IMAGE')).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$/);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.from, s.name).toBe('${NODE_IMAGE}');
  });

  it('runs the receiver under tini as PID 1, and compose adds no second init', () => {
    expect(runs(runtime).some((r) => /apt-get install .*\btini\b/.test(r))).toBe(true);
    const entry = runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT');
    expect(JSON.parse(entry?.args ?? 'null')).toEqual(['/usr/bin/tini', '--', 'node', 'dist/src/cli/main.js']);
    expect(receiver.init ?? false).toBe(false);
  });

  it('ships production dependencies only, installed in a stage of their own', () => {
    const modules = copies(runtime).filter((c) => c.sources.some((src) => src.includes('node_modules')));
    expect(modules).toHaveLength(1);
    const deps = stages.find((s) => s.name === modules[0]?.from);
    if (deps === undefined) throw new Error('node_modules comes from no named stage');
    expect(runs(deps).join('\n')).toMatch(/npm (ci|install) .*--omit=dev/);
  });

  it('puts no benchmark, example or test code into the runtime image, only the compiled receiver, workers and console', () => {
    for (const c of copies(runtime)) {
      for (const src of c.sources) {
        expect(src, `runtime COPY ${src}`).not.toMatch(/(^|\/)(bench|native-bench|examples|test)(\/|$)/);
        if (c.from === 'build') expect(['/app/dist/src', '/app/dist/workers', '/app/dist/console'], `runtime COPY --from=build ${src}`).toContain(src);
        if (c.from === null) expect(src, 'sources are built in the build stage, not copied raw').not.toMatch(/^(src|workers|dist)(\/|$)/);
      }
    }
  });

  it('leaves benchmarks, examples, tests and local builds out of the build context', async () => {
    const ignored = (await readFile(join(REPO_ROOT, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim());
    for (const dir of ['bench', 'native-bench', 'examples', 'test', 'node_modules', 'dist', '.git']) expect(ignored, dir).toContain(dir);
    for (const c of copies(stages[0] as DockerStage)) for (const src of c.sources) expect(ignored, `the build stage copies ${src}, which .dockerignore drops`).not.toContain(src.replace(/^\.\//, ''));
  });

  it('has in the runtime image every file the receiver opens', () => {
    const dests = copies(runtime).map((c) => c.dest.replace(/^\.\//, '/app/').replace(/\/$/, ''));
    for (const file of OPENED_AT_RUNTIME) {
      const inImage = `/app/${file}`;
      expect(dests.some((d) => inImage === d || inImage.startsWith(`${d}/`) || (d === '/app' && file === 'package.json')), `${file} is not copied into the runtime image`).toBe(true);
      // The path is where the built tree has it (npm run build ran before the tests).
      expect(existsSync(join(REPO_ROOT, file)), `${file} does not exist in the built tree`).toBe(true);
    }
  });

  it('uses npm ci exactly when the lockfile allows it', () => {
    // npm ci refuses a lockfile that lacks any optional (platform) package a locked package names.
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
        const nested = `${path === '' ? '' : `${path}/`}node_modules/${dep}`;
        if (!(nested in lock.packages) && !(`node_modules/${dep}` in lock.packages)) missing.push(dep);
      }
    }
    const installs = stages.flatMap(runs).filter((r) => /\bnpm (ci|install)\b/.test(r));
    expect(installs.length).toBeGreaterThan(0);
    if (missing.length === 0) {
      for (const r of installs) expect(r, 'the lockfile is complete: use npm ci').toMatch(/\bnpm ci\b/);
    } else {
      // The Dockerfile says why it cannot, naming the packages.
      for (const dep of missing) expect(text, `the Dockerfile's note names ${dep}`).toContain(dep);
    }
  });
});

describe('docker-compose.yml receiver', () => {
  it('tags the image it builds with the package version, and passes the commit for machpay_build_info', async () => {
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(receiver.image).toBe(`machpay-receiver:${version}`);
    const build = isObject(receiver.build) ? receiver.build : {};
    expect(isObject(build.args) ? Object.keys(build.args) : []).toContain('BUILD_COMMIT');
    expect(text).toMatch(/^ARG BUILD_COMMIT/m);
  });
});
