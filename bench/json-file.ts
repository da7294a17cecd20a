import { readFileSync } from 'node:fs';

/** A JSON file written by another run or script; null when missing or unreadable. */
export function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}
