// `npm run bench`: every benchmark of issue 10 in one command, then the README's generated section.
//
//   npm run bench                      (from the repo root: builds the packages first)
//   node bench/run.mjs [--quick] [--no-readme] [--only http,codec,...]
//
// Suites, in this order (each is also a script of its own, `node bench/<name>.mjs`):
//   http        autocannon over loopback: bare Koa, koa-session (cookie, memory store, Redis store),
//               Reprise (memory, Redis, and at a cap where every new visitor evicts)   goals 1, 2, 3
//   evict-micro the cost of one eviction in process (core only), next to the same creates without one
//   codec       encode/decode of a cart next to JSON, devalue and v8.serialize           goal 2
//   structures  heap per live session and per-operation cost at 1k/100k/1M, next to lru-cache and a Map   goals 4, 5
//   restore     restores from returning cookies on Redis next to a raw GETDEL + decode   goal 6
// The HTTP suite reads its settings from the environment (see http.mjs). Results go to
// bench/results/ (git-ignored); the README's section between its bench markers is rewritten from
// this run unless --no-readme (or --only, or --quick) is given.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printSuite, renderSection, saveResult, updateReadme } from './report.mjs';

const SUITES = ['http', 'evict-micro', 'codec', 'structures', 'restore'];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? new Set(args[onlyAt + 1]?.split(',')) : undefined;
const writeReadme = !args.includes('--no-readme') && !quick && only === undefined;

const startedAt = new Date().toISOString();
const started = Date.now();
const suites = [];
for (const name of SUITES) {
  if (only !== undefined && !only.has(name)) continue;
  const file = fileURLToPath(new URL(`./${name}.mjs`, import.meta.url));
  if (!existsSync(file)) {
    console.warn(`(no bench/${name}.mjs: skipped)`);
    continue;
  }
  console.log(`\n=== ${name} ===`);
  const suite = await (await import(file)).run({ quick });
  printSuite(suite);
  suites.push(suite);
}
const elapsedSeconds = (Date.now() - started) / 1000;
const file = saveResult('bench', { startedAt, elapsedSeconds, quick, suites });
console.log(`\nresults: ${file}`);
const section = renderSection(suites, { startedAt, elapsedSeconds, command: 'npm run bench' });
if (writeReadme) console.log(`README section rewritten: ${updateReadme(section)}`);
const missed = suites.flatMap((s) => s.goals).filter((g) => !g.met);
console.log(`${suites.flatMap((s) => s.goals).length - missed.length} goals met, ${missed.length} not met`);
