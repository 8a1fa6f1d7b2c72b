/**
 * The kernel CPU-list parser behind worker pinning: ranges, single CPUs,
 * sorting and de-duplication, and refusal of malformed lists; and that this
 * process's own allowed set is read (non-empty, within the host's CPUs);
 * and the plan --worker-cpus makes: workers on the CPUs asked, mcrd on the
 * allowed ones left, refusal of a CPU mcrd may not run on.
 */
import t from 'tap';
import { availableParallelism } from 'node:os';
import { allowedCpus, checkCpuList, CpuPlanError, formatCpuList, parseCpuList, planCpus } from '../../supervisor/cpu-set.js';

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

t.test('formatCpuList writes ranges back', async (t) => {
  t.equal(formatCpuList([0, 1, 2, 5]), '0-2,5');
  t.equal(formatCpuList([3]), '3');
  t.equal(formatCpuList([1, 3, 4, 6, 7, 8]), '1,3-4,6-8');
  for (const text of ['0-3', '1,8,10-11', '7']) t.equal(formatCpuList(parseCpuList(text) ?? []), text, `round trip ${text}`);
});

t.test('checkCpuList', async (t) => {
  t.equal(checkCpuList('1-3'), undefined);
  for (const bad of [2, '', 'one', '3-1', ['1']]) t.match(checkCpuList(bad), /expected a CPU list such as "1-3"/, `refuses ${JSON.stringify(bad)}`);
});

t.test('planCpus: workers where asked, mcrd on what is left', async (t) => {
  t.same(planCpus([0, 1, 2, 3], undefined), { workerCpus: [0, 1, 2, 3], supervisorCpus: [] }, 'default: every CPU, mcrd shares them');
  t.same(planCpus([0, 1, 2, 3], '1-3'), { workerCpus: [1, 2, 3], supervisorCpus: [0] });
  t.same(planCpus([0, 1], '0-1'), { workerCpus: [0, 1], supervisorCpus: [] }, 'none left: mcrd shares');
  t.same(planCpus([2, 3, 6], '6'), { workerCpus: [6], supervisorCpus: [2, 3] });
  const outside = (() => {
    try {
      planCpus([0, 1], '1-2');
    } catch (err) {
      return err;
    }
    return undefined;
  })();
  t.ok(outside instanceof CpuPlanError, 'a CPU outside the affinity is refused');
  t.equal((outside as CpuPlanError).code, 'ERR_MCR_CPUS');
  t.match((outside as Error).message, /worker CPUs 2 are not among the CPUs mcrd may run on \(0-1\): .*taskset/);
  t.throws(() => planCpus([0, 1], 'x'), { code: 'ERR_MCR_CPUS' }, 'a malformed list is refused');
});
