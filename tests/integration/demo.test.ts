/**
 * `npm run demo` end to end (through bench/demo/launch.cjs, what the npm
 * script runs), with a short duration: it exits 0, its stats tables show
 * forwarded packets and non-zero rates, every sink got what was sent, and
 * neither its namespaces nor its temporary directory remain. Run as a user
 * other than root, it refuses in one line.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { execa } from 'execa';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { ROOT } from './harness.js';

const LAUNCH = join(ROOT, 'bench', 'demo', 'launch.cjs');

/** Numbers at the end of a table row: PACKETS BYTES PPS ERRORS for a stats row. */
const tail = (row: string, n: number): string[] => row.trim().split(/\s+/).slice(-n);

t.test('the demo runs, shows forwarding and rates, and leaves nothing behind', async (t) => {
  if (skipUnlessRoot(t)) return;
  const run = execa(process.execPath, [LAUNCH, '--duration', '4'], { reject: false, timeout: 90_000 });
  const pid = run.pid ?? 0;
  const r = await run;
  t.equal(r.exitCode, 0, `exit 0 (stderr: ${r.stderr})`);
  const out = r.stdout;

  const blocks = out.split(/\n--- \d+ s: mcrctl --socket \S+ stats\n/);
  t.equal(blocks.length, 3, 'two stats tables for 4 s');
  const last = blocks[2] ?? '';
  const inRows = last.split('\n').filter((l) => / in in0 \d+\.\d+\.\d+\.\d+:\d+ /.test(l));
  t.equal(inRows.length, 2, 'one input row per rule of docs/demo.json5');
  for (const row of inRows) {
    // The STREAM column ends the row: `up 3s` (the state and for how long).
    const stream = / (up|down|off)(?: \S+)?\s*$/.exec(row);
    t.equal(stream?.[1], 'up', `the stream is up: ${row.trim()}`);
    const [packets, , pps] = tail(row.slice(0, stream?.index ?? row.length), 4).map(Number);
    t.ok((packets ?? 0) > 0, `forwarded packets: ${row.trim()}`);
    t.ok((pps ?? 0) > 0, `non-zero pps: ${row.trim()}`);
  }
  t.match(last, /\nPPS over the last \d+\.\d s\n/, 'says what the rates cover');

  const sent = out.split('Sent by mcrgen')[1]?.split('\n\n')[0]?.split('\n').slice(2) ?? [];
  const received = out.split('Received by mcrsink')[1]?.split('\n\n')[0]?.split('\n').slice(2) ?? [];
  t.equal(sent.length, 2, 'one generator per rule');
  t.equal(received.length, 3, 'one sink per output');
  const perStream = Number(tail(sent[0] ?? '', 2)[0]);
  t.ok(perStream > 0, `mcrgen sent ${perStream}`);
  for (const row of received) {
    const [got, lost] = tail(row, 4).map(Number);
    t.equal(got, perStream, `sink got every packet: ${row}`);
    t.equal(lost, 0, 'none lost');
  }

  const prefix = /network namespaces (mcr-\d+-[0-9a-f]+-demo)-/.exec(out)?.[1];
  t.ok(prefix?.startsWith(`mcr-${pid}-`), `namespaces named after the demo's pid: ${prefix}`);
  const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith(`mcr-${pid}-`));
  t.same(left, [], 'no namespace of the demo remains');
  const tmp = /--socket (\/\S+)\/mcrd\.sock/.exec(out)?.[1];
  t.ok(tmp !== undefined && !existsSync(tmp), `temporary directory ${tmp} removed`);
});

t.test('not root: one line saying to run it as root', async (t) => {
  if (skipUnlessRoot(t)) return;
  // `env -i`: tap puts its process hooks into every child's environment;
  // as nobody they fail to write their files, and that noise is not the demo's.
  const r = await execa('runuser', ['-u', 'nobody', '--', 'env', '-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, process.execPath, LAUNCH],
    { reject: false, timeout: 30_000 });
  t.equal(r.exitCode, 1);
  t.equal(r.stdout, '', 'nothing on stdout');
  t.match(r.stderr, /^demo: EPERM: .*run it as root \(sudo npm run demo\)$/, `one line with the code and what to do: ${r.stderr}`);
});
