import { readFile } from 'node:fs/promises';

/** The last `lines` lines of `text`, for error messages that must show what a server said. */
export function tailLines(text: string, lines = 40): string {
  const all = text.replace(/\s+$/, '').split('\n');
  return all.slice(-lines).join('\n');
}

/** The last `lines` lines of a log file, or a note saying why there are none. */
export async function tailFile(path: string, lines = 40): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text.trim() === '' ? `(${path} is empty)` : tailLines(text, lines);
  } catch (err) {
    return `(${path} unreadable: ${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
}
