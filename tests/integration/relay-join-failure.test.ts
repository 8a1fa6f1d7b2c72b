/**
 * A rule whose group joins fail part-way holds no membership afterwards:
 * mcr-relay leaves the groups it joined before the one that failed, so a
 * refused rule keeps neither a group on the wire nor a descriptor. The
 * failure is a real one: prlimit leaves the running relay exactly one free
 * descriptor, so the rule's first join (one socket per group) takes it and
 * the second finds none (EMFILE). Once the limit is back, the same rule
 * joins both.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { createRelayLab, skipUnlessRoot } from '../../bench/lab/index.js';
import { relayCommand, startRelay, stopRelay } from './harness.js';

/** The open descriptors of `pid`, by number, ascending. */
function openFds(pid: number): number[] {
  return readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b);
}

/** `pid`'s soft and hard RLIMIT_NOFILE, from /proc/PID/limits. */
function nofile(pid: number): [string, string] {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files')) ?? '';
  const [soft = '', hard = ''] = line.replace('Max open files', '').trim().split(/\s+/);
  return [soft, hard];
}

const RULE = {
  name: 'two-joins',
  inputGroup: '239.1.5.0/24',
  inputPort: 5005,
  joinGroups: '239.1.5.5,239.1.5.6',
  outputs: [{ group: '239.2.5.5', port: 6005, interface: 'out0' }],
};

t.test('a rule whose second join fails leaves its first group again', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'joinf' });
  t.teardown(() => rl.lab.destroy());
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:out0'], { stdin: true });
  const igmp = async (): Promise<string> => (await rl.lab.exec(rl.relay.ns, 'cat', ['/proc/net/igmp'])).stdout;
  const [soft, hard] = nofile(relay.pid);
  t.ok(soft !== '' && hard !== '', `the relay's descriptor limit read (${soft}/${hard})`);

  // One free descriptor number below the limit: the lowest unused one.
  const before = openFds(relay.pid);
  let lowestFree = 0;
  while (before.includes(lowestFree)) lowestFree++;
  await execa('prlimit', ['--pid', String(relay.pid), `--nofile=${lowestFree + 1}:${hard}`]);
  let refused: Record<string, unknown>;
  try {
    refused = await relayCommand(relay, { op: 'add', rule: RULE });
  } finally {
    await execa('prlimit', ['--pid', String(relay.pid), `--nofile=${soft}:${hard}`]);
  }
  t.equal(refused.msg, 'command failed', 'the rule is refused');
  t.equal(refused.code, 'EMFILE', 'with the errno of the join that found no descriptor');
  const groups = await igmp();
  t.notMatch(groups, /050501EF/i, 'the first group, joined before the failure, was left again');
  t.notMatch(groups, /060501EF/i, 'the second group was never joined');
  t.same(openFds(relay.pid), before, 'the descriptor the first join took was closed again');

  const added = await relayCommand(relay, { op: 'add', rule: RULE });
  t.equal(added.msg, 'command done', 'with the limit back, the same rule is added');
  const joined = await igmp();
  t.match(joined, /050501EF/i, '239.1.5.5 joined');
  t.match(joined, /060501EF/i, '239.1.5.6 joined');
  const report = await stopRelay(relay);
  t.equal(report.rules.length, 2, 'both rules ran until the stop');
});
