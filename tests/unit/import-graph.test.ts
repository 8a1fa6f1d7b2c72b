/**
 * The dependency rule of the layout (docs/internals.md), checked on the
 * sources: every import between top-level folders points down
 *
 *   tools → supervisor | worker → common → proto | native
 *
 * (bench, the development-only lab, demo and benchmark, may import any
 * shipped folder; nothing shipped imports bench or tests), the folder graph
 * has no cycle, and no shipped file imports a devDependency. Imports are
 * read from the .ts sources with regular expressions: `import`/`export
 * ... from '...'`, `import '...'` and `import('...')`, which are every form
 * this code base uses.
 */
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { packageRoot } from '../../native/package-root.js';

const ROOT = packageRoot();
const SHIPPED = ['proto', 'native', 'common', 'supervisor', 'worker', 'tools'] as const;
const ALLOWED: Record<string, readonly string[]> = {
  proto: [],
  native: [],
  common: ['proto', 'native'],
  supervisor: ['common', 'proto', 'native'],
  worker: ['common', 'proto', 'native'],
  tools: ['supervisor', 'worker', 'common', 'proto', 'native'],
  bench: [...SHIPPED],
};

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      // native/'s C++ folders hold no TypeScript; generated code is the schema's.
      if (name === 'node_modules') continue;
      out.push(...sources(path));
    } else if (/\.(ts|mts|cts)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** `import ... from '...'` and `export ... from '...'` at the start of a line (multi-line ones too), `import '...'`, and `import('...')`. */
const IMPORTS = [
  /^(?:import|export)\s[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm,
  /^import\s*['"]([^'"]+)['"]/gm,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
];

interface Edge { file: string; spec: string; from: string; to: string }

function edges(): { internal: Edge[]; external: Edge[] } {
  const internal: Edge[] = [];
  const external: Edge[] = [];
  for (const folder of Object.keys(ALLOWED)) {
    for (const file of sources(join(ROOT, folder))) {
      const text = readFileSync(file, 'utf8');
      for (const m of IMPORTS.flatMap((re) => [...text.matchAll(re)])) {
        const spec = m[1] ?? '';
        const rel = relative(ROOT, file);
        if (spec.startsWith('.')) {
          const target = relative(ROOT, join(dirname(file), spec));
          internal.push({ file: rel, spec, from: folder, to: target.split(sep)[0] ?? '' });
        } else {
          external.push({ file: rel, spec, from: folder, to: spec.startsWith('node:') ? 'node:' : spec.split('/')[0] ?? spec });
        }
      }
    }
  }
  return { internal, external };
}

const { internal, external } = edges();

t.test('imports between folders point down the layout', async (t) => {
  t.ok(internal.length > 100, `${internal.length} relative imports read`);
  const wrong = internal.filter((e) => e.to !== e.from && !(ALLOWED[e.from] ?? []).includes(e.to));
  t.same(wrong.map((e) => `${e.file}: ${e.spec} (${e.from} → ${e.to})`), [], 'no import against the direction');
});

t.test('the folder graph has no cycle', async (t) => {
  const graph = new Map<string, Set<string>>();
  for (const e of internal) if (e.from !== e.to) (graph.get(e.from) ?? graph.set(e.from, new Set()).get(e.from))?.add(e.to);
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (node: string, path: string[]): void => {
    if (state.get(node) === 'done') return;
    if (state.get(node) === 'open') {
      cycles.push([...path.slice(path.indexOf(node)), node].join(' → '));
      return;
    }
    state.set(node, 'open');
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    state.set(node, 'done');
  };
  for (const node of graph.keys()) visit(node, []);
  t.same(cycles, []);
});

t.test('shipped code imports no devDependency, and nothing from bench or tests', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string>; dependencies?: Record<string, string> };
  const dev = new Set(Object.keys(pkg.devDependencies ?? {}).map((name) => name.split('/')[0] ?? name));
  const deps = new Set(Object.keys(pkg.dependencies ?? {}));
  const shipped = external.filter((e) => (SHIPPED as readonly string[]).includes(e.from));
  t.same(shipped.filter((e) => dev.has(e.to)).map((e) => `${e.file}: ${e.spec}`), [], 'no devDependency');
  t.same(shipped.filter((e) => e.to !== 'node:' && !deps.has(e.to) && !deps.has(e.spec)).map((e) => `${e.file}: ${e.spec}`), [],
    'every package a shipped file imports is a dependency');
  t.ok(shipped.some((e) => e.spec === 'protobufjs'), 'the check sees package imports');
});
