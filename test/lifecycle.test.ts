import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Lifecycle, type LifecycleStep } from '../src/lifecycle.js';

const log = pino({ level: 'silent' });

function steps(names: string[], journal: string[], failStart?: string, failStop?: string): LifecycleStep[] {
  return names.map((name) => ({
    name,
    start: async () => {
      await Promise.resolve();
      if (name === failStart) throw new Error(`${name} cannot start`);
      journal.push(`start ${name}`);
    },
    stop: () => {
      journal.push(`stop ${name}`);
      if (name === failStop) throw new Error(`${name} cannot stop`);
    },
  }));
}

describe('Lifecycle', () => {
  it('starts in list order and stops in reverse', async () => {
    const journal: string[] = [];
    const lifecycle = new Lifecycle(log);
    await lifecycle.start(steps(['database', 'pool', 'listener'], journal));
    await lifecycle.stop();
    expect(journal).toEqual(['start database', 'start pool', 'start listener', 'stop listener', 'stop pool', 'stop database']);
  });

  it('unwinds a failed start: what started stops in reverse, what did not start is not stopped, the failure is rethrown', async () => {
    const journal: string[] = [];
    const lifecycle = new Lifecycle(log);
    await expect(lifecycle.start(steps(['database', 'pool', 'workers', 'listener'], journal, 'workers'))).rejects.toThrow('workers cannot start');
    expect(journal).toEqual(['start database', 'start pool', 'stop pool', 'stop database']);
    await lifecycle.stop();
    expect(journal).toHaveLength(4);
  });

  it('keeps stopping the rest when one step fails to stop, and stops each step once', async () => {
    const journal: string[] = [];
    const lifecycle = new Lifecycle(log);
    await lifecycle.start(steps(['database', 'pool', 'listener'], journal, undefined, 'pool'));
    await lifecycle.stop();
    await lifecycle.stop();
    expect(journal.filter((e) => e.startsWith('stop'))).toEqual(['stop listener', 'stop pool', 'stop database']);
  });
});
