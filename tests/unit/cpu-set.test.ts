/**
 * The kernel CPU-list parser behind worker pinning: ranges, single CPUs,
 * sorting and de-duplication, and refusal of malformed lists; and that this
 * process's own allowed set is read (non-empty, within the host's CPUs).
 */
import t from 'tap';
import { availableParallelism } from 'node:os';
import { allowedCpus, parseCpuList } from '../../supervisor/cpu-set.js';

t.test('parseCpuList', async (t) => {
  t.same(parseCpuList('0-3'), [0, 1, 2, 3]);
  t.same(parseCpuList('1'), [1]);
  t.same(parseCpuList('8,0-1,10-11\n'), [0, 1, 8, 10, 11]);
  t.same(parseCpuList('2,2,1-2'), [1, 2]);
  for (const bad of ['', 'x', '3-1', '1,,2', '-1', '0-']) t.equal(parseCpuList(bad), undefined, `refuses ${JSON.stringify(bad)}`);
});

t.test('allowedCpus reads this process\'s affinity', async (t) => {
  const cpus = allowedCpus();
  t.ok(cpus.length >= 1 && cpus.length <= availableParallelism() * 4, `${cpus.join(',')}`);
  t.same([...cpus].sort((a, b) => a - b), cpus, 'ascending');
});
