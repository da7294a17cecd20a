import { cpuCount, placementFor, processTree, setAffinity, type PinMode, type Placement } from './affinity.js';
import type { BenchOptions } from './options.js';
import type { BenchPostgres } from './postgres.js';
import type { ProcessRegistry } from './processes.js';
import type { Progress } from './progress.js';
import type { Paths, Target } from './targets.js';

/** Everything a scenario needs: the running targets, the database, where to print. */
export class BenchContext {
  private current: PinMode | null = null;

  constructor(
    readonly opts: BenchOptions,
    readonly paths: Paths,
    readonly reg: ProcessRegistry,
    readonly pg: BenchPostgres,
    readonly progress: Progress,
    readonly receiver: Target,
    readonly peer: Target | null,
    readonly httpCeiling: Target,
    /** Worker threads of the receiver (its WORKERS setting). */
    readonly workers: number,
    readonly apiKey: string,
  ) {}

  get cores(): number {
    return cpuCount();
  }

  /**
   * Pins the load generator (this process), the servers and PostgreSQL (the postmaster and
   * every backend: new backends inherit from the postmaster) for a placement.
   */
  place(mode: PinMode): Placement {
    const p = placementFor(mode);
    if (this.current === p.mode) return p;
    setAffinity(process.pid, p.client);
    for (const t of [this.receiver, this.peer, this.httpCeiling]) if (t !== null) setAffinity(t.pid, p.server);
    for (const pid of processTree(this.pg.postmasterPid)) setAffinity(pid, p.postgres);
    this.current = p.mode;
    return p;
  }

  /** A result line: always printed. */
  say(line: string): void {
    this.progress.clear();
    console.log(line);
  }

  /** A detail line (ramp steps): on a terminal or with --verbose. */
  detail(line: string): void {
    if (this.opts.verbose || process.stderr.isTTY === true) this.say(line);
  }
}
