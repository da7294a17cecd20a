/**
 * Worker-thread entry point of the rollup folder (started by TallyFolderThread). The logic
 * lives in src/rollups.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runFolderThread, type FolderThreadData } from '../src/rollups/thread/index.js';

if (parentPort === null) throw new Error('workers/rollup-folder.js runs only as a worker thread');
runFolderThread(parentPort, workerData as FolderThreadData);
