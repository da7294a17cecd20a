/**
 * Piscina worker entry point: builds one TaskProcessor from the settings the pool was
 * started with and runs each task through it. The logic lives in src/pipeline/worker.
 */
import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import { outputTransferList, type TaskInput, type TaskOutput, TaskProcessor, type WorkerSettings } from '../src/pipeline/worker/index.js';

const processor = new TaskProcessor(workerData as WorkerSettings);

/** The output's row buffers move to the main thread with it (outputTransferList); Piscina unwraps the value. */
export default function run(task: TaskInput): TaskOutput {
  const out = processor.run(task);
  return move({ [transferableSymbol]: outputTransferList(out), [valueSymbol]: out }) as unknown as TaskOutput;
}
