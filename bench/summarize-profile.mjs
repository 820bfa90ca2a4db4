// Summary of a V8 .cpuprofile in µs per request: self time by package, top frames by self time,
// and inclusive time of the session-related frames.
//   node bench/summarize-profile.mjs FILE.cpuprofile REQUESTS
// (profile.mjs uses it on the measured window of a server's profile.)
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const shortUrl = (url) =>
  url
    .replace(/^file:\/\/.*?\/node_modules\//, '')
    .replace(/^file:\/\/.*?\/packages\//, '@reprise/')
    .replace(/^file:\/\/.*?\/bench\//, 'bench/');

const keyOf = (node) => {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || '(anonymous)'}  ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ''}`.trim();
};

const category = (node) => {
  const { url, functionName } = node.callFrame;
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (functionName === '(program)') return '(program): V8/native, unattributed';
  if (url.includes('/packages/koa/')) return '@reprise/koa';
  if (url.includes('/packages/core/')) return '@reprise/core';
  if (url.includes('/packages/memory/')) return '@reprise/memory';
  if (url.includes('/packages/redis/')) return '@reprise/redis';
  if (url.includes('/bench/')) return 'bench code';
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return `node core (${url.replace(/^node:(internal\/)?/, '').split('/')[0]})`;
  return url === '' ? 'native/builtin (syscalls such as writev, crypto in C++)' : url;
};

/**
 * @param profile a parsed .cpuprofile
 * @param options.requests requests served in the window (per-request figures)
 * @param options.window [from, to] in µs of the monotonic clock (process.hrtime); default: all samples
 * @returns {{ text: string, busyUs: number, samples: number }}
 */
export function summarize(profile, { requests, window = [-Infinity, Infinity], title = '' }) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // Self time per node from the samples and their time deltas, inside the window only (V8's
  // profile clock and process.hrtime are both the monotonic clock, in µs).
  const self = new Map();
  const [from, to] = window;
  let clock = profile.startTime;
  let samples = 0;
  for (let i = 0; i < profile.samples.length; i += 1) {
    clock += profile.timeDeltas[i];
    if (clock < from || clock > to) continue;
    samples += 1;
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + profile.timeDeltas[i]);
  }
  if (samples === 0) throw new Error(`no sample in the window (profile ${profile.startTime}..${clock}, window ${from}..${to})`);

  const selfByKey = new Map();
  const selfByCategory = new Map();
  const inclusive = new Map();
  const pathKeys = new Map();
  const keysOnPath = (id) => {
    let keys = pathKeys.get(id);
    if (keys) return keys;
    const up = parent.get(id);
    keys = new Set(up === undefined ? [] : keysOnPath(up));
    keys.add(keyOf(byId.get(id)));
    pathKeys.set(id, keys);
    return keys;
  };
  let busyUs = 0;
  for (const [id, t] of self) {
    const node = byId.get(id);
    const key = keyOf(node);
    const cat = category(node);
    selfByKey.set(key, (selfByKey.get(key) ?? 0) + t);
    selfByCategory.set(cat, (selfByCategory.get(cat) ?? 0) + t);
    if (cat === 'idle') continue;
    busyUs += t;
    for (const k of keysOnPath(id)) inclusive.set(k, (inclusive.get(k) ?? 0) + t);
  }
  const perReq = (t) => (t / requests).toFixed(2).padStart(7);
  const pct = (t) => `${((100 * t) / busyUs).toFixed(1).padStart(5)}%`;
  const top = (map, n, filter = () => true) =>
    [...map.entries()]
      .filter(([k]) => filter(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, t]) => `${perReq(t)} µs/req ${pct(t)}  ${k}`)
      .join('\n');
  const text = [
    title,
    `${requests} requests, ${samples} samples: ${(busyUs / 1e3).toFixed(0)} ms busy on the main thread, ${(busyUs / requests).toFixed(1)} µs per request ` +
      '(wall time of the samples: on a loaded machine it includes time the thread waited for a CPU; the profiler itself slows the process).',
    '',
    'Self time by package:',
    top(selfByCategory, 25, (k) => k !== 'idle'),
    '',
    'Top frames by self time:',
    top(selfByKey, 35, (k) => !k.startsWith('(idle)')),
    '',
    'Inclusive time of the session-related frames:',
    top(inclusive, 45, (k) => /@reprise\/|koa-compose|koa-session|application\.js|cookies|keygrip|tsscmp|bench\//.test(k)),
  ]
    .filter((line, i) => i > 0 || line !== '')
    .join('\n');
  return { text, busyUs, samples };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, requests] = process.argv.slice(2);
  if (!file || !Number(requests)) {
    console.error('usage: node bench/summarize-profile.mjs FILE.cpuprofile REQUESTS');
    process.exit(2);
  }
  console.log(summarize(JSON.parse(readFileSync(file, 'utf8')), { requests: Number(requests) }).text);
}
