/**
 * `mcrctl top` as a person uses it (issue 13): in a real terminal (a tmux
 * pane on a private tmux server, driven with send-keys and read with
 * capture-pane) against the real mcrd in the namespace lab with a stream
 * flowing, the screen shows the rule and a nonzero rate on the alternate
 * screen with the cursor hidden; `q` ends it with status 0 and the
 * terminal is as before (main screen, cursor shown, canonical mode and
 * echo back). Without a terminal, `--count 2` prints two plain snapshots,
 * the second with the rate. When the generator stops, top shows the
 * stream going `down` (loss of signal, the default 1 s signal timeout).
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { sinkReport, startGen, startSink } from './harness.js';
import { MCRCTL, mcrctl, mcrdLab, startMcrd, workersOf } from './mcrd-harness.js';
import { hasTmux, privateTmux } from './tmux.js';

const TMUX_SKIP_REASON = 'needs tmux (Debian package tmux, installed by .ci/run) to give mcrctl top a real terminal';

/** The cam rule's line: its stream state (STREAM column), or undefined when not on screen. */
function camState(screen: string): string | undefined {
  return /^ +1 +cam +in0 239\.1\.1\.1:5000 +\S+ +\S+ +\d+ +\d+(?: \([^)]*\))? +(up|down|off)\b/m.exec(screen)?.[1];
}

/** The cam rule's line: its packet rate, or undefined when not on screen. */
function camRate(screen: string): number | undefined {
  const m = /^ +1 +cam +in0 239\.1\.1\.1:5000 +(\d+\.\d|-) /m.exec(screen);
  return m?.[1] === undefined || m[1] === '-' ? undefined : Number(m[1]);
}

t.test('mcrctl top under tmux with a stream flowing, and in a script', async (t) => {
  if (skipUnlessRoot(t)) return;
  if (!hasTmux()) {
    // tap reports a test planned for 0 assertions as skipped, with the reason.
    t.plan(0, TMUX_SKIP_REASON);
    return;
  }
  const { rl, dir } = await mcrdLab(t, 'top');
  const file = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  writeFileSync(file, JSON.stringify({ rules: [{ name: 'cam', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] }] }));
  const mcrd = await startMcrd(rl, ['--config', file, '--control-socket', socket, '--workers', '1']);
  t.teardown(() => mcrd.stop('SIGTERM', 10_000).catch(() => undefined));
  t.ok(await pollUntil(async () => (await workersOf(socket)).every((w) => w.state === 'running'), 15_000), 'the worker runs');
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 1_000_000, duration: 60, idle: 2 });
  await sink.waitForLine('stderr', /ready/, 5000);
  const gen = startGen(rl, { dest: '239.1.1.1', port: 5000, count: 60_000, rate: 2_000, size: 500 });
  t.teardown(() => gen.stop('SIGTERM', 5000).catch(() => undefined));

  const tmux = privateTmux(t, 'top', 'top');
  const screen = (): string => tmux('capture-pane', '-p', '-t', 'top');
  const flags = (): string => tmux('display-message', '-p', '-t', 'top', '#{alternate_on} #{cursor_flag}');
  tmux('send-keys', '-t', 'top', `${process.execPath} ${MCRCTL} --socket ${socket} top --interval 500; echo TOP-EXIT=$?`, 'Enter');

  let last = '';
  const shown = await pollUntil(async () => {
    last = screen();
    return (camRate(last) ?? 0) > 0;
  }, 20_000, 200);
  t.ok(shown, `the screen shows the rule with a nonzero rate (${camRate(last)} pps):\n${last}`);
  t.match(last, /^mcrctl top +\S+ \S+ +every 0\.5 s +sort pps +\(q quit, s sort\)$/m, 'the title line');
  t.match(last, /^workers 1\/1 running +restarts 0 +rules 1 +total \d+\.\d pps \d+\.\d\d Mbit\/s/m, 'the header');
  t.match(last, /^ +> 239\.2\.2\.2:6000:out0 +\d+\.\d/m, 'the output under its rule');
  t.equal(camState(last), 'up', 'the stream is up');
  t.equal(flags().trim(), '1 0', 'on the alternate screen, cursor hidden');

  tmux('send-keys', '-t', 'top', 'q');
  const ended = await pollUntil(async () => /TOP-EXIT=\d+/.test(screen()), 10_000, 100);
  t.ok(ended, 'q ends top');
  last = screen();
  t.match(last, /TOP-EXIT=0/, 'with status 0');
  t.notMatch(last, /INPUT \/ OUTPUT/, 'the main screen is back, without top on it');
  t.equal(flags().trim(), '0 1', 'main screen, cursor shown');
  tmux('send-keys', '-t', 'top', "stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo", 'Enter');
  t.ok(await pollUntil(async () => /^(-?icanon|-?echo) (-?icanon|-?echo) *$/m.test(screen()), 10_000, 100), 'stty answered');
  const modes = /^(-?icanon|-?echo) (-?icanon|-?echo) *$/m.exec(screen());
  t.same([modes?.[1], modes?.[2]].sort(), ['echo', 'icanon'], 'canonical mode and echo are back');

  const script = await execa(process.execPath, [MCRCTL, '--socket', socket, 'top', '--interval', '500', '--count', '2'], { reject: false, timeout: 20_000 });
  t.equal(script.exitCode, 0, script.stderr);
  t.notMatch(script.stdout, /\x1b/, 'no escape codes without a terminal');
  const snapshots = script.stdout.split(/^(?=mcrctl top )/m);
  t.equal(snapshots.length, 2, 'two snapshots');
  t.ok((camRate(snapshots[1] ?? '') ?? 0) > 0, `the second has the rate (${camRate(snapshots[1] ?? '')} pps)`);

  // The generator stops: on a fresh top, the stream goes down.
  await gen.stop('SIGTERM', 5000).catch(() => undefined);
  tmux('send-keys', '-t', 'top', 'clear', 'Enter');
  tmux('send-keys', '-t', 'top', `${process.execPath} ${MCRCTL} --socket ${socket} top --interval 500; echo TOP2-EXIT=$?`, 'Enter');
  const down = await pollUntil(async () => {
    last = screen();
    return camState(last) === 'down';
  }, 20_000, 200);
  t.ok(down, `the screen shows the stream down after its generator stopped:\n${last}`);
  tmux('send-keys', '-t', 'top', 'q');
  t.ok(await pollUntil(async () => /TOP2-EXIT=0/.test(screen()), 10_000, 100), 'q ends the second top with status 0');
  t.ok((await sinkReport(sink, 30_000)).received > 0, 'the stream was relayed meanwhile');
  t.equal((await mcrctl(socket, ['ping'])).exitCode, 0);
});
