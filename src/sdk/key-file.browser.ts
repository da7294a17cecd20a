/**
 * The browser build's stand-in for key-file.ts (swapped in by the package's `browser`
 * field and by the bundled browser build): a page has no file system to read a key from.
 */
export async function readKeyFile(path: string): Promise<string | null> {
  throw new Error(`cannot read ${path}: key files are read only where there is a file system (Node.js, Deno, Bun); pass the secret key instead`);
}
