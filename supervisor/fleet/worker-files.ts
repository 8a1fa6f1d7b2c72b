/**
 * Can a worker load its code? A worker process (worker/fleet-worker.js)
 * loads every module it needs, and the addon, at its start, with mcrd's own
 * user and capabilities: it switches to --user only after its loop runs,
 * and imports nothing after that. So a tree the worker user cannot read (a
 * clone under /root, a `mktemp -d` directory) works; what fails is a tree
 * mcrd's own credentials cannot read in the parts only the worker loads (a
 * root mcrd whose capability bounding set has no CAP_DAC_OVERRIDE, as a
 * hardened unit has, over files owned by another user; a dist/worker whose
 * mode was changed). Such a worker would exit at each start. mcrd checks
 * the whole set once before it starts any (checkWorkerFiles) and stops
 * with one line instead.
 *
 * The set: the entry, every module reached from it by static relative
 * imports (the compiled files name them all: no dynamic import in
 * worker/, common/, proto/, native/), the package.json beside them (Node
 * reads it for the module type), the packages they import and those
 * packages' dependencies (every file in their directories, since which of
 * them a package loads is its own business), and the addon.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const IMPORT = /(?:^|[\s;])(?:import|export)\s(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/g;

export interface UnreadableFile {
  code: string;
  path: string;
}

/** The package name of a bare specifier: "pino", "@scope/name" (from "@scope/name/sub"). */
function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0] ?? spec;
}

/** The directory of package `name` as Node finds it from `fromDir` (node_modules of each ancestor). */
function findPackage(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Every file the worker loads or may load, starting at `entry` in the package at `root`. */
export function workerLoadSet(entry: string, root: string): string[] {
  const files = new Set<string>([entry, join(root, 'package.json')]);
  const packages = new Map<string, string>();
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // Reported by the check, which opens every file of the set.
    }
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? '';
      if (spec.startsWith('node:')) continue;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (!files.has(target)) {
          files.add(target);
          queue.push(target);
        }
      } else {
        const dir = findPackage(packageName(spec), dirname(file));
        if (dir !== undefined) packages.set(packageName(spec), dir);
      }
    }
  }
  // The imported packages and, transitively, their dependencies.
  const pending = [...packages.values()];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    let deps: Record<string, string> = {};
    try {
      deps = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
    } catch {
      // Unreadable: its files are reported below.
    }
    for (const name of Object.keys(deps)) {
      const found = findPackage(name, dir);
      if (found !== undefined && ![...packages.values()].includes(found)) {
        packages.set(`${name}@${found}`, found);
        pending.push(found);
      }
    }
  }
  for (const dir of packages.values()) for (const f of walk(dir)) files.add(f);
  const addon = join(root, 'build', 'Release', 'mcr_native.node');
  if (existsSync(addon)) files.add(addon);
  return [...files];
}

/** Every file under dir (a package's own node_modules left out: its dependencies are walked on their own). */
function walk(dir: string): string[] {
  const out: string[] = [dir];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out; // The open of `dir` reports it.
  }
  for (const name of entries) {
    if (name === 'node_modules') continue;
    const path = join(dir, name);
    let isDir = false;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      // Unsearchable parent or dangling link: the open below reports it.
    }
    if (isDir) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

/**
 * Opens every file of the worker's load set for reading with this
 * process's credentials (those the worker loads with); the first that
 * fails, or undefined when all open.
 */
export function checkWorkerFiles(entry: string, root: string): UnreadableFile | undefined {
  for (const path of workerLoadSet(entry, root)) {
    try {
      closeSync(openSync(path, 'r'));
    } catch (err) {
      return { code: (err as { code?: string }).code ?? 'EACCES', path };
    }
  }
  return undefined;
}

/** The one line mcrd stops with. */
export function unreadableMessage(u: UnreadableFile, root: string): string {
  return `${u.code}: a worker could not load ${u.path}: workers load their code with mcrd's own user and capabilities ` +
    `(uid ${process.getuid?.() ?? '?'}) before they switch to --user; install MCR under a path mcrd can read, such as /opt/mcr ` +
    `(root-owned, directories 755, files 644), or make this tree readable (chmod -R a+rX ${root})`;
}
