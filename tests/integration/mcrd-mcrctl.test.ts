/**
 * mcrd end to end through the built `mcrctl` bin, as an operator uses it:
 * the control socket is created 0660 at a custom path (its directory made
 * on the way); `add` prints the new rule's id, `list`, `stats` (tables and
 * --json) show the rules and the traffic they forwarded, `remove` takes one
 * out; the workers run as the --user given with no capabilities; `save
 * --file` writes the rules, `check --file` validates that file (sent as
 * text, so also where mcrd cannot see it; a file over 56 KiB by path, with
 * mcrd's error saying where to put it when it cannot read it), and an mcrd
 * restarted with it as --config (under umask 000, the socket still 0660)
 * holds the same rules and forwards them.
 */
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import type { ListRulesResult, StatsResult, WorkersResult } from '../../proto/index.js';
import { runGen, sinkReport, startSink } from './harness.js';
import { MCRCTL, mcrctl, mcrctlJson, mcrdLab, procStatus, startMcrd, uidOf } from './mcrd-harness.js';

/** A rule as saved and loaded: everything but the id mcrd assigns. */
const content = (r: ListRulesResult['rules'][number]): unknown => {
  const { id: _id, ...rest } = r;
  return rest;
};

t.test('mcrctl against mcrd: socket mode, add/list/stats/remove, worker uid, save/check/load', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'mcrctl');
  // A directory that does not exist yet: mcrd creates it for the socket.
  const socket = join(dir, 'run', 'mcr', 'ctl.sock');
  // `daemon` (uid 1) rather than the default, so the uid seen is the option's.
  const mcrd = await startMcrd(rl, ['--control-socket', socket, '--workers', '1', '--user', 'daemon']);

  const st = statSync(socket);
  t.ok(st.isSocket(), 'the control socket exists at the --control-socket path');
  t.equal((st.mode & 0o777).toString(8), '660', 'and has mode 0660');

  const add1 = await mcrctl(socket, ['add', '--input-interface', 'in0', '--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0']);
  t.equal(add1.exitCode, 0, `add exits 0 (${add1.stderr})`);
  t.match(add1.stdout, /^\d+$/, 'add prints the rule id alone');
  const id1 = Number(add1.stdout);
  const add2 = await mcrctl(socket, ['add', '--name', 'feed-b', '--input-interface', 'in0', '--input-group', '239.1.1.2',
    '--input-port', '5002', '--source', '10.99.0.1', '--outputs', '239.2.2.3:6002:out0:4,10.99.1.2:7002:out0']);
  t.equal(add2.exitCode, 0, `second add exits 0 (${add2.stderr})`);
  const id2 = Number(add2.stdout);
  const add3 = await mcrctl(socket, ['add', '--input-interface', 'in0', '--input-group', '239.1.1.3', '--input-port', '5003',
    '--outputs', '239.2.2.4:6003:out0']);
  const id3 = Number(add3.stdout);
  t.ok(id1 > 0 && id2 > id1 && id3 > id2, `ids increase: ${id1}, ${id2}, ${id3}`);
  const dup = await mcrctl(socket, ['add', '--input-interface', 'in0', '--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.9.9.9:6000:out0']);
  t.equal(dup.exitCode, 1, 'a rule matching the same traffic is refused with exit 1');
  t.match(dup.stderr, /^mcrctl: EEXIST: .*mcrctl list`?$/, 'on one line with the next step');
  for (const [what, args] of [
    ['output', ['--input-interface', 'in0', '--input-group', '239.1.1.7', '--input-port', '5007', '--outputs', '239.2.2.7:6007:nope0']],
    ['input', ['--input-interface', 'nope1', '--input-group', '239.1.1.7', '--input-port', '5007', '--outputs', '239.2.2.7:6007:out0']],
  ] as const) {
    const bad = await mcrctl(socket, ['add', ...args]);
    t.equal(bad.exitCode, 1, `an unknown ${what} interface is refused with exit 1`);
    t.match(bad.stderr, /^mcrctl: ENODEV: interface nope\d does not exist on this host; check the interface name with `ip link` on the host mcrd runs on$/, 'on one line saying what to do');
  }

  const listed = await mcrctl(socket, ['list']);
  t.equal(listed.exitCode, 0);
  const lines = listed.stdout.split('\n');
  t.match(lines[0], /^ID\s+NAME\s+INTERFACE\s+GROUP\s+PORT\s+SOURCE\s+OUTPUTS\s+STATUS\s+STREAM\s+CONSUMED$/, 'list: header, with the consume decision last');
  t.match(lines[1], new RegExp(`^\\s*${id1}\\s+-\\s+in0\\s+239\\.1\\.1\\.1\\s+5000\\s+-\\s+239\\.2\\.2\\.2:6000:out0\\s+ok\\s+down \\d+s\\s+yes: no local listener$`), 'list: first rule, consumed: no listener in the lab');
  t.match(lines[2], new RegExp(`^\\s*${id2}\\s+feed-b\\s+in0\\s+239\\.1\\.1\\.2\\s+5002\\s+10\\.99\\.0\\.1\\s+239\\.2\\.2\\.3:6002:out0:4\\s+ok\\s+down \\d+s\\s+yes: no local listener$`), 'list: named rule');
  t.match(lines[3], /^\s+10\.99\.1\.2:7002:out0$/, 'list: its second output on its own row');
  t.equal(lines.length, 5, 'list: four rows for three rules');

  const removed = await mcrctl(socket, ['remove', '--id', String(id3)]);
  t.equal(removed.exitCode, 0);
  t.equal(removed.stdout, `removed rule ${id3} (in0 239.1.1.3:5003)`, 'remove names what it removed');
  const gone = await mcrctl(socket, ['remove', '--id', String(id3)]);
  t.equal(gone.exitCode, 1, 'removing it again: exit 1');
  t.match(gone.stderr, /^mcrctl: ENOENT: /);

  // Traffic through both rules, then stats must count exactly it.
  const sinkA = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 3000, idle: 2 });
  const sinkB = await startSink(rl, 0, { bind: '10.99.1.2', port: 7002, count: 2000, idle: 2 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 3000, rate: 20_000, size: 100 });
  await runGen(rl, { dest: '239.1.1.2', port: 5002, count: 2000, rate: 20_000, size: 100, stream: 2 });
  t.equal((await sinkReport(sinkA)).received, 3000, 'rule 1 forwarded everything');
  t.equal((await sinkReport(sinkB)).received, 2000, 'the named rule forwarded everything to its unicast output');
  const stats = await mcrctlJson<StatsResult>(socket, ['stats']);
  t.same(stats.rules.map((r) => [r.ruleId, r.packets, r.outputs.map((o) => o.packets)]),
    [[id1, 3000, [3000]], [id2, 2000, [2000, 2000]]], 'stats --json: packets per rule and per output');
  t.equal(stats.workers.length, 1, 'stats --json: one worker');
  t.ok((stats.workers[0]?.received ?? 0) >= 5000, 'the worker received at least what was sent');
  const table = await mcrctl(socket, ['stats']);
  t.equal(table.exitCode, 0);
  t.match(table.stdout, new RegExp(`^\\s*${id1}\\s+-\\s+in in0 239\\.1\\.1\\.1:5000\\s+3000\\s+`, 'm'), 'stats table: rule 1 row');
  t.match(table.stdout, /^\s+-> 10\.99\.1\.2:7002:out0\s+2000\s+/m, 'stats table: an output row');
  t.match(table.stdout, /^in0\/0\s+in0\s+\d+\s+\d+\s+0$/m, 'stats table: the worker row, no restarts');
  const inputRow = /^in0\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(table.stdout);
  t.ok(inputRow !== null && Number(inputRow[1]) >= 5000, `stats table: the input row counts every frame (${inputRow?.[0] ?? table.stdout})`);

  // The worker dropped to the --user given, with no capabilities left.
  const workers = await mcrctlJson<WorkersResult>(socket, ['workers']);
  const pid = workers.workers[0]?.pid ?? 0;
  t.ok(pid > 0 && workers.workers[0]?.state === 'running', 'the worker is running');
  const uid = uidOf('daemon');
  t.equal(procStatus(pid, 'Uid'), `${uid} ${uid} ${uid} ${uid}`, 'worker Uid (real, effective, saved, fs) is daemon');
  t.equal(procStatus(pid, 'CapEff'), '0000000000000000', 'worker CapEff is 0');
  t.equal(procStatus(pid, 'CapPrm'), '0000000000000000', 'and no permitted capability to get any back');

  // save, with a relative path: mcrctl resolves it against its own cwd.
  const saved = await mcrctl(socket, ['save', '--file', 'saved.json5'], { cwd: dir });
  const file = join(dir, 'saved.json5');
  t.equal(saved.exitCode, 0, `save exits 0 (${saved.stderr})`);
  t.equal(saved.stdout, `saved 2 rules to ${file}`);
  const checked = await mcrctl(socket, ['check', '--file', file]);
  t.equal(checked.exitCode, 0);
  t.equal(checked.stdout, `${file}: valid, 2 rules`, 'check: the saved file is valid');
  const bad = join(dir, 'bad.json5');
  writeFileSync(bad, '{ rules: [ { inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 0, outputs: [{ group: "239.2.2.2", port: 6000, interface: "out0" }] } ] }\n');
  const refused = await mcrctl(socket, ['check', '--file', bad]);
  t.equal(refused.exitCode, 1, 'check: an invalid file exits 1');
  t.match(refused.stderr, /^mcrctl: ERR_MCR_CONFIG: .*bad\.json5:1:\d+: rules\[0\]\.inputPort: /, 'naming file, line and field');

  // check of a file only mcrctl can see, as under mcrd's unit (ProtectHome=,
  // PrivateTmp=): mcrctl in a mount namespace of its own, the file on a
  // tmpfs mcrd does not have. mcrctl sends the text; a file over 56 KiB goes
  // by path, and mcrd, which cannot read it, says where to put it.
  const hidden = join(dir, 'hidden');
  mkdirSync(hidden);
  const inPrivate = (content: string) => execa('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
    'mount -t tmpfs mcr-test "$1" && cat > "$1/new.json5" && exec "$2" "$3" --socket "$4" check --file "$1/new.json5"',
    'sh', hidden, process.execPath, MCRCTL, socket], { input: content, reject: false, timeout: 20_000 });
  const savedText = readFileSync(file, 'utf8');
  const privateCheck = await inPrivate(savedText);
  t.equal(privateCheck.exitCode, 0, `check of a file mcrd cannot see (${privateCheck.stderr})`);
  t.equal(privateCheck.stdout, `${hidden}/new.json5: valid, 2 rules`, 'valid, from the text mcrctl sent');
  t.notOk(existsSync(join(hidden, 'new.json5')), 'and mcrd\'s view of that path is empty indeed');
  const large = `// ${'x'.repeat(60 * 1024)}\n${savedText}`;
  const tooLarge = await inPrivate(large);
  t.equal(tooLarge.exitCode, 1, 'over 56 KiB, by path: mcrd cannot read it');
  t.match(tooLarge.stderr, /^mcrctl: ERR_MCR_CONFIG_READ: .*new\.json5: cannot read the config file \(ENOENT\);.*mcrd reads it as itself \(under its systemd unit \/home is hidden.*such as \/etc\/mcr/,
    'saying mcrd reads it as itself, and where to put it');
  writeFileSync(join(dir, 'large.json5'), large);
  const largeVisible = await mcrctl(socket, ['check', '--file', join(dir, 'large.json5')]);
  t.equal(largeVisible.stdout, `${join(dir, 'large.json5')}: valid, 2 rules`, `a large file mcrd can read is checked by path (${largeVisible.stderr})`);

  const before = await mcrctlJson<ListRulesResult>(socket, ['list']);
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0, 'mcrd stopped');

  // Restarted from the saved file: the same rules, and they forward. Under
  // umask 000 this time: the socket must still be 0660, not 0777.
  const again = await startMcrd(rl, ['--config', file, '--control-socket', socket, '--workers', '1'], { umask: '000' });
  t.equal((statSync(socket).mode & 0o777).toString(8), '660', 'the socket is 0660 even under umask 000');
  const after = await mcrctlJson<ListRulesResult>(socket, ['list']);
  t.same(after.rules.map(content), before.rules.map(content), 'the reloaded mcrd holds the same rules');
  const sinkC = await startSink(rl, 0, { group: '239.2.2.3', port: 6002, count: 1000, idle: 2 });
  await runGen(rl, { dest: '239.1.1.2', port: 5002, count: 1000, rate: 20_000, size: 100, stream: 3 });
  t.equal((await sinkReport(sinkC)).received, 1000, 'a loaded rule forwards');
  t.equal((await again.stop('SIGTERM', 20_000)).exitCode, 0);
});
