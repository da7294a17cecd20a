import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

const SECRET_FILE = 'stream-secret';
const SECRET_BYTES = 32;

/**
 * The secret that signs stream tokens and event ids. STREAM_TOKEN_SECRET when set (every
 * receiver of a deployment shares it, so a token or a Last-Event-ID from one works on all).
 * Unset, a random one is made once and kept in DATA_DIR/stream-secret (mode 0600), so a single
 * receiver works out of the box and its tokens survive a restart.
 */
export async function streamSecret(config: Config, log: Logger): Promise<Buffer> {
  if (config.streamTokenSecret !== null) return Buffer.from(config.streamTokenSecret, 'utf8');
  const path = join(config.dataDir, SECRET_FILE);
  try {
    const kept = Buffer.from((await readFile(path, 'utf8')).trim(), 'hex');
    if (kept.length >= SECRET_BYTES) return kept;
    log.warn({ path }, 'the kept stream secret is too short; making a new one');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(SECRET_BYTES);
  await mkdir(config.dataDir, { recursive: true });
  const file = await open(path, 'w', 0o600);
  try {
    await file.writeFile(secret.toString('hex') + '\n');
    await file.sync();
  } finally {
    await file.close();
  }
  log.info({ path }, 'made a stream secret for this receiver; set STREAM_TOKEN_SECRET to share one between receivers');
  return secret;
}
