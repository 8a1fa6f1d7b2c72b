/**
 * Loaded by tap into every test process, after its own hooks (package.json
 * "tap"."node-arg"): keeps tap's process-info hook out of the processes the
 * tests start.
 *
 * tap's @tapjs/processinfo registers a spawn hook (the `process-on-spawn`
 * package) that puts `--import=@tapjs/processinfo/import` into the
 * NODE_OPTIONS of every child. So every Node process a test starts (mcrd,
 * each of its workers, every mcrctl call, the fixtures) loaded it, and on
 * Node 20 it registers its loader on a thread of its own and writes a
 * record per process under .tap/processinfo: an mcrctl call took 0.5-0.6 s
 * of CPU against 0.25-0.3 s without it, and the integration tests' CPU about
 * doubled. Only coverage and `tap --changed` read those records, and this
 * project runs neither (coverage is off in package.json), so a spawn hook
 * of ours, run after tap's, takes it out again: the children run as they
 * do outside the tests. Where `process-on-spawn` cannot be found (a tap that
 * no longer uses it) this does nothing and the tests run as before, only
 * slower.
 */
import { createRequire } from 'node:module';
import { withoutProcessInfo } from './node-options-filter.js';

interface SpawnOptions { env: Record<string, string | undefined> }
interface ProcessOnSpawn { addListener(listener: (opts: SpawnOptions) => void): void }

function stripProcessInfo(opts: SpawnOptions): void {
  const env = { ...opts.env };
  const nodeOptions = withoutProcessInfo(env.NODE_OPTIONS);
  if (nodeOptions === undefined) delete env.NODE_OPTIONS;
  else env.NODE_OPTIONS = nodeOptions;
  for (const key of Object.keys(env)) if (key.startsWith('_TAPJS_PROCESSINFO_')) delete env[key];
  opts.env = env;
}

let onSpawn: ProcessOnSpawn | undefined;
try {
  onSpawn = createRequire(import.meta.url)('process-on-spawn') as ProcessOnSpawn;
} catch {
  onSpawn = undefined;
}
// Under tap only (its hook is what this undoes); imported elsewhere, nothing.
if (onSpawn !== undefined && process.env.TAP === '1') onSpawn.addListener(stripProcessInfo);
