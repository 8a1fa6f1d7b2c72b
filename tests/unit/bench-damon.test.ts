/**
 * The bench says whether the host runs the kernel's DAMON memory monitoring
 * (bench/host-counters.ts damonState, which reads it as `mcrd --check-host`
 * does: supervisor/host-check/damon.ts), since its samples stall MCR's loop
 * on this project's VM (docs/performance.md, "The host's DAMON"): read from
 * a sysfs tree of the test's own making, every case; and the report
 * header carries it, with the pointer to the docs when it is on.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { damonState } from '../../bench/host-counters.js';
import { renderMarkdown } from '../../bench/report-md.js';
import type { BenchResults } from '../../bench/results.js';
import { preset } from '../../bench/config.js';

function sysTree(t: { teardown: (fn: () => void) => void }, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'mcr-damon-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const KD = 'kernel/mm/damon/admin/kdamonds';

t.test('damonState reads the admin interface and the reclaim module', async (t) => {
  t.equal(damonState(sysTree(t, {})), 'not in this kernel', 'neither interface');
  t.equal(damonState(sysTree(t, { [`${KD}/nr_kdamonds`]: '0\n' })), 'not in this kernel', 'the interface with no kdamond and no reclaim module');
  t.equal(damonState(sysTree(t, { [`${KD}/0/state`]: 'off\n' })), 'off', 'a kdamond set up but off');
  t.equal(damonState(sysTree(t, { [`${KD}/0/state`]: 'on\n', [`${KD}/1/state`]: 'off\n' })), 'on (1 kdamond running)');
  t.equal(damonState(sysTree(t, { [`${KD}/0/state`]: 'on\n', [`${KD}/1/state`]: 'on\n' })), 'on (2 kdamonds running)');
  t.equal(damonState(sysTree(t, { 'module/damon_reclaim/parameters/enabled': 'N\n' })), 'off', 'the reclaim module, disabled');
  t.equal(damonState(sysTree(t, { 'module/damon_reclaim/parameters/enabled': 'Y\n', [`${KD}/0/state`]: 'on\n' })),
    'on (1 kdamond running, DAMON_RECLAIM enabled)');
  t.match(damonState(), /^(on \(.+\)|off|not in this kernel)$/, 'this host reads as one of the three');
});

t.test('the report header says it', async (t) => {
  const base = (damon?: string): BenchResults => ({
    schema: 'mcr-bench/1', startedAt: '2026-12-05T00:00:00.000Z', config: { ...preset('quick', '/nonexistent'), payloads: [64], fanouts: [1], experiments: undefined }, lossThreshold: 0.001,
    host: { cpuModel: 'cpu', kernel: '6.18', cores: 2, loadavgAtStart: '0.1 0.1 0.1', backgroundUtil: [0, 0], ...(damon !== undefined ? { damon } : {}) },
    versions: { node: 'v20', mcrCommit: 'abc' }, generatorMax: [], cells: [], errors: [],
  });
  t.match(renderMarkdown(base('on (1 kdamond running)')), /; DAMON on \(1 kdamond running\) \(its samples stall MCR's loop on this kind of VM: docs\/performance\.md, "The host's DAMON"\)/);
  t.match(renderMarkdown(base('off')), /; DAMON off\n/);
  t.notMatch(renderMarkdown(base()), /DAMON/, 'files from before the field say nothing');
});
