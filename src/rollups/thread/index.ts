/**
 * The folder thread's side of the rollups (what workers/rollup-folder.ts runs), and the
 * messages both sides exchange. The main thread's side is TallyFolderThread, exported by
 * src/rollups/index.ts.
 */
export { runFolderThread } from './run-folder-thread.js';
export type { FolderThreadData, FromFolderThread, ToFolderThread } from './messages.js';
