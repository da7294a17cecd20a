/**
 * Piscina worker entry point: builds one TaskProcessor from the settings the pool was
 * started with and runs each task through it. The logic lives in src/pipeline/worker.
 */
import { workerData } from 'piscina';
import { type TaskInput, type TaskOutput, TaskProcessor, type WorkerSettings } from '../src/pipeline/worker/index.js';

const processor = new TaskProcessor(workerData as WorkerSettings);

export default function run(task: TaskInput): TaskOutput {
  return processor.run(task);
}
