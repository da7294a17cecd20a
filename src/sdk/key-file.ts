/**
 * Reads a key file on runtimes with a file system. The import is dynamic so that merely
 * loading the SDK never needs node:fs; the package's `browser` field swaps this file for
 * key-file.browser.ts, so browser bundlers never see a node: import at all.
 * Resolves to null when the file does not exist.
 */
export async function readKeyFile(path: string): Promise<string | null> {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return null;
    throw err;
  }
}
