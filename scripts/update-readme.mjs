// Rewrites the configuration table of README.md from src/config.ts (run after `npm run build`).
import { readFile, writeFile } from 'node:fs/promises';
import { configMarkdown } from '../dist/src/config.js';

const file = new URL('../README.md', import.meta.url);
const text = await readFile(file, 'utf8');
const next = text.replace(/<!-- config:start -->[\s\S]*<!-- config:end -->/, `<!-- config:start -->\n${configMarkdown()}\n<!-- config:end -->`);
await writeFile(file, next);
console.log(next === text ? 'README.md already up to date' : 'README.md configuration table updated');
