import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/**
 * YAML files read through Python's PyYAML (Debian: python3-yaml), as JSON. The project has
 * no YAML parser among its npm dependencies; PyYAML is a full YAML parser, stricter than a
 * structural check written here would be. `safe_load` builds plain data only.
 */

const SCRIPT = 'import json, sys, yaml\njson.dump(yaml.safe_load(sys.stdin), sys.stdout)\n';
const INSTALL_HINT = 'apt-get install -y --no-install-recommends python3-yaml';

function python3(): string {
  for (const dir of ['/usr/bin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)]) {
    try {
      accessSync(join(dir, 'python3'), constants.X_OK);
      return join(dir, 'python3');
    } catch {
      // not here
    }
  }
  throw new Error(`python3 not found: the YAML checks need python3 with PyYAML (${INSTALL_HINT})`);
}

/** Parses YAML text; rejects with the parser's message (line and column) when it is not valid YAML. */
export function parseYaml(text: string, name: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = execFile(python3(), ['-c', SCRIPT], { timeout: 10_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) {
        const hint = /No module named '?yaml/.test(stderr) ? ` (PyYAML is missing: ${INSTALL_HINT})` : '';
        reject(new Error(`${name} is not valid YAML${hint}:\n${stderr.trim() || err.message}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as unknown);
      } catch (parseErr) {
        reject(new Error(`PyYAML's JSON for ${name} did not parse: ${String(parseErr)}`));
      }
    });
    child.stdin?.end(text);
  });
}

export async function parseYamlFile(path: string): Promise<unknown> {
  return parseYaml(await readFile(path, 'utf8'), path);
}
