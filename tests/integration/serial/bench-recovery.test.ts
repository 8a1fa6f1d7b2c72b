/**
 * `npm run bench:recovery` (bench/recovery.ts) measures what it says, on
 * real namespaces: run as a user would, with short trials at a light rate,
 * it writes one trial per phase in order (before, the overrun, after, the
 * restarted relay), the overrun trial really has the generator flat out
 * (far above the fixed rate, and at fan-out 5 more than MCR forwards: it
 * loses datagrams), and MCR loses nothing at the fixed rate in
 * any other phase: it is back at its rate right after an overrun, and
 * after a restart. With --watch-stalls it records, per trial, the windows
 * in which core 1's input backlog dropped frames.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { skipUnlessRoot } from '../../../bench/lab/index.js';
import { ROOT } from '../harness.js';

const RATE = 20_000;
/** Wide enough that the generator flat out is more than the relay forwards (the full run's limit at ×5: ~125–214 kpps). */
const FANOUT = 5;

interface Step { phase: string; trial: { loss: number; gen: { pps: number }; backlogDrops: number[] }; stalls?: Array<{ dropped: number }> }

t.test('bench:recovery runs every phase, overruns for real, and MCR recovers', async (t) => {
  if (skipUnlessRoot(t)) return;
  const out = mkdtempSync(join(tmpdir(), 'mcr-recovery-test-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const run = await execa(process.execPath, [join(ROOT, 'dist', 'bench', 'recovery.js'), '--rate', String(RATE),
    '--fanout', String(FANOUT), '--before', '1', '--after', '2', '--duration', '1', '--watch-stalls', '20', '--out', out], { reject: false, timeout: 120_000 });
  t.equal(run.exitCode, 0, `exits 0 (stderr: ${run.stderr.slice(-400)})`);
  const files = readdirSync(out).filter((f) => f.startsWith('recovery-') && f.endsWith('.json'));
  t.equal(files.length, 1, 'one results file');
  const steps = (JSON.parse(readFileSync(join(out, files[0] ?? ''), 'utf8')) as { steps: Step[] }).steps;
  t.same(steps.map((s) => s.phase), ['before', 'overrun', 'after', 'after', 'restarted'], 'every phase, in order');
  const overrun = steps.find((s) => s.phase === 'overrun');
  t.ok((overrun?.trial.gen.pps ?? 0) > 3 * RATE, `the overrun sends far above the rate (${Math.round(overrun?.trial.gen.pps ?? 0)} pps)`);
  t.ok((overrun?.trial.loss ?? 0) > 0, `the overrun really overran the relay (loss ${(100 * (overrun?.trial.loss ?? 0)).toFixed(2)} %)`);
  for (const s of steps.filter((x) => x.phase !== 'overrun')) {
    t.equal(s.trial.loss, 0, `${s.phase}: nothing lost at ${RATE} pps`);
  }
  // --watch-stalls samples core 1 from before each trial to after it, so it
  // sees at least the trial's own backlog drops. Whether the overrun's
  // losses happen in core 1's input backlog or only further on, in the
  // relay's packet socket, depends on how the host shares core 1 at that
  // moment (on this project's VM in 2026-12 one run in two had no backlog
  // drops, all 67 % lost in the socket): stall-watch.test.ts overflows a
  // backlog on purpose and checks the watch keeps every drop.
  t.comment(`core 1's input backlog dropped ${overrun?.trial.backlogDrops[1] ?? 0} frames in the overrun`);
  for (const s of steps) {
    t.ok(Array.isArray(s.stalls), `${s.phase}: the stall windows are recorded`);
    const watched = (s.stalls ?? []).reduce((sum, w) => sum + w.dropped, 0);
    t.ok(watched >= (s.trial.backlogDrops[1] ?? 0), `${s.phase}: the windows hold the trial's core-1 backlog drops (${watched} ≥ ${s.trial.backlogDrops[1] ?? 0})`);
  }
  t.match(run.stdout, /worst loss before 0\.000 %, after the overrun 0\.000 %, restarted 0\.000 %/, 'the summary line');
});
