/**
 * A group join that fails is tried again on its own
 * (supervisor/net/join-retry.ts), on real sockets: with
 * net.ipv4.igmp_max_memberships at 0 in the relay namespace every join is
 * refused (ENOBUFS), mcrd logs it and starts anyway; once the limit is
 * raised, the group is joined on in0 at the next retry (they come 1, 2,
 * 4 s ... apart) with no change of rules or interfaces; the refused join
 * is an error line once, not at every retry.
 * Before the retries it stayed unjoined until the next change.
 * Needs root (network namespaces).
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { mcrdLab, startMcrd } from './mcrd-harness.js';

t.test('a join refused at start is made once the host allows it, without any change', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'joinretry');
  const socket = join(dir, 'mcrd.sock');
  const config = join(dir, 'rules.json5');
  writeFileSync(config, `{ rules: [
    { inputInterface: "in0", inputGroup: "239.1.7.7", inputPort: 5000, outputs: [{ group: "239.2.2.1", port: 6000, interface: "out0" }] },
  ] }`);
  await rl.lab.sysctl(rl.relay.ns, 'net.ipv4.igmp_max_memberships', 0);
  const joined = async (): Promise<boolean> => /239\.1\.7\.7/.test((await rl.lab.exec(rl.relay.ns, 'ip', ['maddr', 'show', 'dev', 'in0'])).stdout);
  const mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1']);
  t.teardown(() => mcrd.stop('SIGTERM', 20_000).then(() => undefined));
  t.ok(await pollUntil(async () => mcrd.stdoutLines.some((l) => l.includes('group joins failed (see above): trying again')), 5000, 50),
    'the refused join is logged with a retry');
  t.notOk(await joined(), 'not joined while the host refuses');
  const retries = (): number => mcrd.stdoutLines.filter((l) => l.includes('group joins failed (see above): trying again')).length;
  t.ok(await pollUntil(async () => retries() >= 3, 20_000, 100), 'tried again on its own (1 s, then 2 s later)');
  const errors = mcrd.stdoutLines.filter((l) => l.includes('"level":50') && l.includes('239.1.7.7'));
  t.equal(errors.length, 1, `the refused join logged at error once, not at every retry (${errors.length})`);
  await rl.lab.sysctl(rl.relay.ns, 'net.ipv4.igmp_max_memberships', 20);
  t.ok(await pollUntil(joined, 70_000, 100), 'joined once the host allows it, with no change of rules or interfaces');
  t.ok(await pollUntil(async () => mcrd.stdoutLines.some((l) => l.includes('no group join fails any more (joined, or no longer wanted)')), 5000, 50), 'and said so');
});
