/**
 * Where the relay's time went: reads V8 CPU profiles (from `npm run bench -- --profile DIR`)
 * and prints the functions with the most self time, the most inclusive time, and self time
 * summed by component (a package under node_modules, a folder of relay365's src, Node's own
 * internals, the garbage collector, idle).
 *
 *   node dist/bench/profile-summary.js DIR/*.cpuprofile [--top N] [--callers NAME]
 *
 * --callers NAME also lists the call paths (three frames up) that lead to the functions
 * whose name contains NAME, by the time spent in them.
 *
 * Self time is time spent in a function's own code; inclusive time adds everything it
 * called (a function that appears twice on one stack is counted once).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, callers: { type: 'string' } } });
const top = Number(values.top);

function component(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native / V8 builtins)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  const own = /\/dist\/(src\/[^/]+|bench)\//.exec(url);
  if (own) return `relay365 ${own[1]}`;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return url;
}

const where = (node: ProfileNode) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^file:\/\/.*\/node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/');
  return `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
};

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const byComponent = new Map<string, number>();
const callers = new Map<string, number>();
let total = 0;

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const node = nodes.get(id);
    if (!node) return;
    total += us;
    const key = where(node);
    self.set(key, (self.get(key) ?? 0) + us);
    const comp = component(node.callFrame.url, node.callFrame.functionName);
    byComponent.set(comp, (byComponent.get(comp) ?? 0) + us);
    if (values.callers && key.includes(values.callers)) {
      const path: string[] = [];
      for (let at = parent.get(id); at !== undefined && path.length < 3; at = parent.get(at)) path.push(where(nodes.get(at) as ProfileNode));
      const k = `${key}  <-  ${path.join('  <-  ')}`;
      callers.set(k, (callers.get(k) ?? 0) + us);
    }
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const k = where(nodes.get(at) as ProfileNode);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  });
}

function print(title: string, table: Map<string, number>, limit: number): void {
  process.stdout.write(`\n${title}\n`);
  for (const [key, us] of [...table].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
    process.stdout.write(`  ${((us / total) * 100).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}\n`);
  }
}

if (!positionals.length) {
  process.stderr.write('usage: node dist/bench/profile-summary.js PROFILE.cpuprofile... [--top N]\n');
  process.exit(64);
}
process.stdout.write(`${positionals.length} profile(s), ${(total / 1e6).toFixed(2)} s sampled\n`);
print('self time by component', byComponent, top);
print('self time by function', self, top);
print('inclusive time by function', inclusive, top);
if (values.callers) print(`call paths into "${values.callers}" (self time)`, callers, top);
