/**
 * Module loader hooks (node:module register(), run on Node's loader thread)
 * that instrument the code under test as it is imported: every ES module
 * whose path starts with one of the `include` prefixes is rewritten by
 * instrument.ts before it runs. Its counters come from a virtual module,
 * `mcr-fuzz:counters/<n>`, that asks the fuzz worker for them
 * (globalThis.__mcrFuzzAlloc) with what they are: the import is linked and
 * the virtual module (which imports nothing) evaluated before any code of
 * the rewritten module runs, even in an import cycle. Places are mapped back
 * to the TypeScript source through the compiled file's source map, so
 * coverage is reported in lines of the .ts files. CommonJS files are
 * instrumented by loop.ts's require hook with the same describe().
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, relative, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COUNTERS_NAME, instrument, type CounterKind, type ModuleMap } from './instrument.js';

export interface HookData {
  /** Absolute path prefixes of the files to instrument. */
  include: string[];
  /** Paths in the registrations are relative to this. */
  root: string;
}

/** What a rewritten module registers: its counters and their places in the .ts source (1-based lines). */
export interface Registration {
  /** The .ts source, relative to the root (the .js when there is no source map). */
  file: string;
  kinds: CounterKind[];
  /** TypeScript line of each counter. */
  lines: number[];
  /** [TypeScript line, counter id] of every statement. */
  statements: Array<[number, number]>;
  literals: string[];
}

let include: string[] = [];
let root = '/';
const COUNTERS_PREFIX = 'mcr-fuzz:counters/';
/** The virtual counters modules' sources, by URL. */
const virtual = new Map<string, string>();

export function initialize(data: HookData): void {
  include = data.include;
  root = data.root;
}

type NextResolve = (specifier: string, context: unknown) => Promise<{ url: string }>;
type LoadResult = { format?: string | null; source?: string | ArrayBuffer | Uint8Array | null; shortCircuit?: boolean };
type NextLoad = (url: string, context: unknown) => Promise<LoadResult>;

export async function resolve(specifier: string, context: unknown, next: NextResolve): Promise<{ url: string; shortCircuit?: boolean }> {
  if (specifier.startsWith(COUNTERS_PREFIX)) return { url: specifier, shortCircuit: true };
  return next(specifier, context);
}

export async function load(url: string, context: unknown, next: NextLoad): Promise<LoadResult> {
  const counters = virtual.get(url);
  if (counters !== undefined) return { format: 'module', source: counters, shortCircuit: true };
  const loaded = await next(url, context);
  if (!url.startsWith('file:') || loaded.format !== 'module' || loaded.source == null) return loaded;
  const path = fileURLToPath(url);
  if (!include.some((prefix) => path.startsWith(prefix))) return loaded;
  const source = typeof loaded.source === 'string' ? loaded.source : Buffer.from(loaded.source as Uint8Array).toString('utf8');
  const countersUrl = `${COUNTERS_PREFIX}${virtual.size}`;
  const { code, map } = instrument(source, path, `import { counters as ${COUNTERS_NAME} } from ${JSON.stringify(countersUrl)};`);
  virtual.set(countersUrl, `export const counters = globalThis.__mcrFuzzAlloc(${JSON.stringify(describe(path, root, map))});\n`);
  return { format: 'module', source: code, shortCircuit: true };
}

/** What a module's counters are, in lines of its .ts source. */
export function describe(path: string, root: string, map: ModuleMap): Registration {
  const toSource = sourceMapper(path, root);
  return {
    file: toSource.file,
    kinds: map.kinds,
    lines: map.places.map(([line, column]) => toSource.line(line, column)),
    statements: map.statements.map(([line, column, id]) => [toSource.line(line, column), id]),
    literals: map.literals,
  };
}

/** Maps 0-based places of the compiled file to 1-based lines of its .ts source (identity when there is no map). */
function sourceMapper(path: string, root: string): { file: string; line: (line: number, column: number) => number } {
  const mapPath = `${path}.map`;
  if (existsSync(mapPath)) {
    try {
      const payload = JSON.parse(readFileSync(mapPath, 'utf8')) as { sources?: string[]; sourceRoot?: string };
      const original = payload.sources?.[0];
      if (original !== undefined) {
        const map = new SourceMap(payload as ConstructorParameters<typeof SourceMap>[0]);
        return {
          file: relative(root, resolvePath(dirname(path), payload.sourceRoot ?? '', original)),
          line: (line, column) => {
            const entry = map.findEntry(line, column) as { originalLine?: number };
            return entry.originalLine === undefined ? line + 1 : entry.originalLine + 1;
          },
        };
      }
    } catch {
      // An unreadable map: report lines of the .js instead.
    }
  }
  return { file: relative(root, path), line: (line) => line + 1 };
}
