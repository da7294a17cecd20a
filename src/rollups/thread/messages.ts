import type { PgSessionSettings } from '../../database/index.js';
import type { TallyFolderOptions, TallyFolderStats } from '../tally-folder.js';

/**
 * What crosses the boundary between the main thread and the folder thread: the start-up
 * data once, then plain messages both ways (structured clone: no functions, no classes).
 */
export interface FolderThreadData {
  url: string;
  pgSettings: PgSessionSettings;
  /** The folder's options, without its callbacks (the thread supplies onRound). */
  folder: Omit<TallyFolderOptions, 'onRound'>;
  /** The receiver's log level: lines below it are not even sent across. */
  logLevel: string;
}

export type ToFolderThread =
  /** Fold until the backlog is short, then answer `folded` with the same id. */
  | { type: 'fold'; id: number }
  /** Close the thread's connections as the receiver's health check closes its own (database/pool.ts dropConnections). */
  | { type: 'drop'; busyForMs: number }
  /** Stop the loop, fold once more if `finalRound` (bounded by stopTimeoutMs), close the connections, exit. */
  | { type: 'stop'; finalRound: boolean };

export type FromFolderThread =
  | { type: 'ready' }
  | { type: 'stats'; stats: TallyFolderStats }
  | { type: 'folded'; id: number }
  /** One pino line, already serialized (errors included), to be logged by the main thread's logger. */
  | { type: 'log'; line: string }
  | { type: 'stopped' };
