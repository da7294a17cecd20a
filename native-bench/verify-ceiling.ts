/**
 * The signature ceiling: Ed25519 verifications per second of a message the size of a signed
 * request, measured
 *   - with libsodium (sodium-native), the receiver workers' verify, in N worker threads at
 *     once (the receiver's worker count): the ceiling of per-packet-signed;
 *   - with node:crypto (OpenSSL) and a cached KeyObject, the same way: the peer's verify, and
 *     why the workers use libsodium;
 *   - node:crypto with the key imported for every verify (why OpenSSL would need a key cache);
 *   - with tweetnacl (pure JS): why it is not on the hot path;
 *   - with `openssl speed ed25519` (C, no Node in between), when the openssl CLI exists.
 *
 *   node dist/native-bench/verify-ceiling.js [--threads=1] [--ms=2000] [--message-bytes=700] [--json]
 *
 * Run it pinned to the CPUs the receiver gets (the bench does) so the figure is for the same cores.
 */
import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import sodium from 'sodium-native';
import nacl from 'tweetnacl';

export interface VerifyCeiling {
  messageBytes: number;
  threads: number;
  /** libsodium (the receiver's workers): all threads together, and per thread. */
  sodiumPerSec: number;
  sodiumPerThreadPerSec: number;
  /** node:crypto, cached KeyObject: all threads together, and per thread. */
  nodeCachedPerSec: number;
  nodeCachedPerThreadPerSec: number;
  /** node:crypto, key imported (SPKI DER) for every verify, one thread. */
  nodeImportEachPerSec: number;
  tweetnaclPerSec: number;
  /** openssl speed ed25519 verify/s (one core, 64-byte messages), null when the CLI is missing. */
  opensslPerSec: number | null;
}

interface WorkerJob {
  library: 'sodium' | 'node';
  spki: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
  ms: number;
}

/** Calls `once` (which must return true) for at least `ms` and `minCalls` calls, in rounds of
 *  `round` between clock reads; returns calls per second. */
function callsPerSecond(once: () => boolean, what: string, ms: number, round: number, minCalls = 0): number {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms || n < minCalls) {
    for (let i = 0; i < round; i++) if (!once()) throw new Error(`${what}: signature did not verify`);
    n += round;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

function verifyLoop(job: WorkerJob): number {
  const message = Buffer.from(job.message);
  const signature = Buffer.from(job.signature);
  if (job.library === 'sodium') {
    const raw = Buffer.from(job.spki).subarray(12);
    return callsPerSecond(() => sodium.crypto_sign_verify_detached(signature, message, raw), 'libsodium', job.ms, 20);
  }
  const key = createPublicKey({ key: Buffer.from(job.spki), format: 'der', type: 'spki' });
  return callsPerSecond(() => verify(null, message, key, signature), 'node:crypto', job.ms, 20);
}

function importEachLoop(job: WorkerJob): number {
  const spki = Buffer.from(job.spki);
  const message = Buffer.from(job.message);
  const signature = Buffer.from(job.signature);
  return callsPerSecond(() => verify(null, message, createPublicKey({ key: spki, format: 'der', type: 'spki' }), signature), 'node:crypto, key imported', job.ms, 1);
}

function tweetnaclLoop(job: WorkerJob, raw: Uint8Array, ms: number): number {
  // At ~6 ms per verify (measured ~170/s), at least a few are needed for a rate.
  return callsPerSecond(() => nacl.sign.detached.verify(job.message, job.signature, raw), 'tweetnacl', ms, 1, 5);
}

function opensslSpeed(seconds: number): Promise<number | null> {
  return new Promise((resolve) => {
    execFile('openssl', ['speed', '-seconds', String(seconds), 'ed25519'], { timeout: (seconds * 4 + 10) * 1000 }, (err, stdout) => {
      if (err !== null) return resolve(null);
      // "253 bits EdDSA (Ed25519)   0.0000s   0.0001s  27200.0   9869.6": the last column is verify/s.
      const line = String(stdout)
        .split('\n')
        .find((l) => /EdDSA \(Ed25519\)/.test(l));
      const v = line === undefined ? NaN : Number(line.trim().split(/\s+/).pop());
      resolve(Number.isFinite(v) ? v : null);
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      threads: { type: 'string', default: '1' },
      ms: { type: 'string', default: '2000' },
      'message-bytes': { type: 'string', default: '700' },
      json: { type: 'boolean', default: false },
    },
  });
  const threads = Math.max(1, Number(values.threads));
  const ms = Math.max(100, Number(values.ms));
  const messageBytes = Math.max(1, Number(values['message-bytes']));
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const message = randomBytes(messageBytes);
  const job: WorkerJob = { library: 'sodium', spki, message, signature: sign(null, message, privateKey), ms };

  // All worker threads verify at the same time, as the receiver's workers would.
  const inThreads = async (library: WorkerJob['library']): Promise<number> => {
    const rates = await Promise.all(
      Array.from(
        { length: threads },
        () =>
          new Promise<number>((resolve, reject) => {
            const w = new Worker(new URL(import.meta.url), { workerData: { ...job, library } });
            w.once('message', (r: number) => resolve(r));
            w.once('error', reject);
          }),
      ),
    );
    return rates.reduce((a, b) => a + b, 0);
  };
  const sodiumTotal = await inThreads('sodium');
  const total = await inThreads('node');
  const importEach = importEachLoop({ ...job, ms: Math.min(ms, 1000) });
  const tweetnacl = tweetnaclLoop(job, spki.subarray(12), Math.min(ms, 1000));
  const openssl = await opensslSpeed(Math.max(1, Math.round(ms / 1000)));

  const result: VerifyCeiling = {
    messageBytes,
    threads,
    sodiumPerSec: Math.round(sodiumTotal),
    sodiumPerThreadPerSec: Math.round(sodiumTotal / threads),
    nodeCachedPerSec: Math.round(total),
    nodeCachedPerThreadPerSec: Math.round(total / threads),
    nodeImportEachPerSec: Math.round(importEach),
    tweetnaclPerSec: Math.round(tweetnacl * 10) / 10,
    opensslPerSec: openssl === null ? null : Math.round(openssl),
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  console.log(`Ed25519 verify, ${messageBytes}-byte message`);
  console.log(`  libsodium (receiver), ${threads} thread(s):         ${result.sodiumPerSec.toLocaleString('en-US')}/s (${result.sodiumPerThreadPerSec.toLocaleString('en-US')}/s per thread)`);
  console.log(`  node:crypto, cached KeyObject, ${threads} thread(s): ${result.nodeCachedPerSec.toLocaleString('en-US')}/s (${result.nodeCachedPerThreadPerSec.toLocaleString('en-US')}/s per thread)`);
  console.log(`  node:crypto, key imported every time:     ${result.nodeImportEachPerSec.toLocaleString('en-US')}/s`);
  console.log(`  tweetnacl:                                ${result.tweetnaclPerSec}/s`);
  console.log(`  openssl speed (C):                        ${result.opensslPerSec === null ? 'n/a' : result.opensslPerSec.toLocaleString('en-US')}/s`);
}

if (isMainThread) {
  await main();
} else {
  parentPort?.postMessage(verifyLoop(workerData as WorkerJob));
}
