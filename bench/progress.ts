/**
 * A one-line progress display on a terminal (stderr), rewritten in place; nothing at all
 * when stderr is not a TTY (CI logs get only the results).
 */
export class Progress {
  private readonly tty: boolean;
  private shown = false;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.tty = stream.isTTY === true;
    this.stream = stream;
  }

  private readonly stream: NodeJS.WriteStream;

  update(label: string, elapsedS: number, totalS: number, eventsLastSecond: number, errors: number): void {
    if (!this.tty) return;
    const width = 20;
    const filled = Math.min(width, Math.round((elapsedS / Math.max(totalS, 1e-9)) * width));
    const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
    const line = `${label.padEnd(40).slice(0, 40)} [${bar}] ${elapsedS.toFixed(0).padStart(3)}/${totalS}s ${Math.round(eventsLastSecond).toLocaleString('en-US').padStart(9)} ev/s  errors ${errors}`;
    this.stream.write(`\r\x1b[2K${line}`);
    this.shown = true;
  }

  /** A phase with no load (setup, ceilings): just its name. */
  phase(text: string): void {
    if (!this.tty) return;
    this.stream.write(`\r\x1b[2K${text.slice(0, 120)}`);
    this.shown = true;
  }

  clear(): void {
    if (!this.tty || !this.shown) return;
    this.stream.write('\r\x1b[2K');
    this.shown = false;
  }
}
