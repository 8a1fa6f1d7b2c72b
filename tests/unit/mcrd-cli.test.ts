/**
 * mcrd's start-up errors: bad arguments, invalid configs and (as root) a
 * workers' user the host does not know, or whose primary group is the
 * control socket's, or a socket group it does not know, exit 2 with one line naming what is
 * wrong (file, line and field for configs) and start nothing; a host error
 * (here a log directory that cannot be made) exits 1, its code named once.
 */
import t from 'tap';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../integration/harness.js';

const MCRD = join(ROOT, 'dist', 'supervisor', 'mcrd.js');
const run = (args: string[]) => execa(process.execPath, [MCRD, ...args], { reject: false, timeout: 20_000 });

t.test('bad arguments and configs exit 2 with one line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcrd-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'mcrd.sock');
  const cases: Array<[string[], RegExp]> = [
    [['--workers', '0'], /--workers.*1\.\.256/],
    [['--bogus'], /unknown option '--bogus'/],
    [['--restart-backoff', '0'], /--restart-backoff.*minimum: expected an integer 1\.\.60000/],
    [['--restart-backoff', '500:100'], /--restart-backoff.*maximum: expected an integer 500\.\.3600000 .*got 100/],
    [['--restart-backoff', 'fast'], /--restart-backoff.*expected MIN_MS\[:MAX_MS\]/],
    [['--coalesce-us', '10001'], /--coalesce-us.*expected an integer 0\.\.10000 \(microseconds; 0 = off\)/],
    [['--coalesce-us', '-5'], /--coalesce-us.*expected an integer 0\.\.10000/],
    [['--busy-poll-us', '1000001'], /--busy-poll-us.*expected "auto" or an integer 0\.\.1000000 \(microseconds; 0 = off\)/],
    [['--busy-poll-us', '1e3'], /--busy-poll-us.*expected "auto" or an integer 0\.\.1000000/],
    [['--busy-poll-us', 'adaptive'], /--busy-poll-us.*expected "auto" or an integer 0\.\.1000000/],
    [['--hung-worker-ms', '100'], /--hung-worker-ms.*expected 0 \(no watchdog\) or an integer 500\.\.600000/],
    [['--hung-worker-ms', '1.5s'], /--hung-worker-ms.*expected 0 \(no watchdog\)/],
    [['--worker-cpus', '1-x'], /--worker-cpus.*expected a CPU list such as "1-3"/],
    [['--worker-cpus', '4000', '--control-socket', socket], /^mcrd: ERR_MCR_CPUS: worker CPUs 4000 are not among the CPUs mcrd may run on \(.*\): choose worker CPUs from those/],
    [['--config', join(ROOT, 'tests', 'fixtures', 'config', 'bad-ttl.json5'), '--control-socket', socket],
      /bad-ttl\.json5:\d+:\d+: rules\[0\]\.outputs\[\d\]\.ttl/],
    [['--config', join(dir, 'missing.json5'), '--control-socket', socket], /ERR_MCR_CONFIG_READ/],
    // Only root switches its workers to a user, so only root checks it.
    ...(process.getuid?.() === 0
      ? [[['--user', 'mcr-no-such-user', '--control-socket', socket], /^mcrd: ENOENT: no user mcr-no-such-user for the workers to run as \(--user, daemon\.user\): create it \(useradd .*\) or name another$/],
        // nobody's primary group is nogroup: as the socket's group, the workers could use the socket.
        [['--user', 'nobody', '--socket-group', 'nogroup', '--control-socket', socket],
          /^mcrd: ERR_MCR_WORKER_GROUP: the workers' user nobody .* has the control socket's group nogroup .* as its primary group, so a worker could use the control socket: name another socket group \(the package makes group mcr for it\)$/],
        [['--socket-group', 'mcr-no-such-group', '--control-socket', socket], /^mcrd: ENOENT: no group mcr-no-such-group for the control socket/]] as Array<[string[], RegExp]>
      : []),
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    t.equal(r.exitCode, 2, `exit 2 for ${args.join(' ')}`);
    const lines = r.stderr.trim().split('\n');
    t.equal(lines.length, 1, 'one line');
    t.match(lines[0], message);
  }
});

t.test('a host error at start-up exits 1 and names its code once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcrd-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'a-file');
  writeFileSync(file, '');
  const r = await run(['--log-dir', join(file, 'logs'), '--control-socket', join(dir, 'mcrd.sock')]);
  t.equal(r.exitCode, 1, 'exit 1: the host, not the arguments');
  const lines = r.stderr.trim().split('\n');
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], /^mcrd: ENOTDIR: cannot create the log directory .*a-file\/logs \(--log-dir, daemon\.logDir\): not a directory, mkdir .*; create it or name another$/);
  t.equal(lines[0]?.split('ENOTDIR').length, 2, 'the code appears once (a system error\'s message starts with it too)');
});
