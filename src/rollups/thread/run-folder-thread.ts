import type { MessagePort } from 'node:worker_threads';
import { pino } from 'pino';
import { createPool, dropConnections, endPool } from '../../database/index.js';
import type { FolderThreadData, FromFolderThread, ToFolderThread } from './messages.js';
import { TallyFolder } from '../tally-folder.js';

/** One round at a time plus stop()'s last round, which waits for the current one. */
const POOL_SIZE = 2;
/** Past this, connections still busy at stop (a server that stopped answering) are cut off. */
const END_POOL_TIMEOUT_MS = 2_000;

/**
 * The folder thread's side: its own connections and its own TallyFolder, driven by messages
 * from TallyFolderThread (../tally-folder-thread.ts). Folding parses thousands of claimed rows,
 * decodes and encodes histograms and builds kilobytes of JSON per round; here it takes CPU
 * from the other threads only as the scheduler allows, and never holds the event loop
 * that answers HTTP.
 */
export function runFolderThread(port: MessagePort, data: FolderThreadData): void {
  const post = (msg: FromFolderThread): void => port.postMessage(msg);
  // Lines go to the main thread's logger, so they carry its fields and land in one stream.
  const log = pino({ level: data.logLevel, base: null }, { write: (line: string) => post({ type: 'log', line }) });
  const pool = createPool(data.url, POOL_SIZE, log);
  const folder = new TallyFolder(pool, { ...data.folder, onRound: (stats) => post({ type: 'stats', stats }) }, log);
  let stopping = false;

  port.on('message', (msg: ToFolderThread) => {
    if (msg.type === 'fold') {
      void folder.foldNow().finally(() => post({ type: 'folded', id: msg.id }));
      return;
    }
    if (msg.type === 'drop') {
      dropConnections(pool, msg.busyForMs);
      return;
    }
    if (stopping) return;
    stopping = true;
    void (async () => {
      await folder.stop(msg.finalRound);
      post({ type: 'stats', stats: folder.stats() });
      if (!(await endPool(pool, END_POOL_TIMEOUT_MS))) log.warn('rollup folder: connections still busy at stop were cut off');
      post({ type: 'stopped' });
      // Nothing else holds the thread: closing the port lets it exit.
      port.close();
    })();
  });
  folder.start();
  post({ type: 'ready' });
}
