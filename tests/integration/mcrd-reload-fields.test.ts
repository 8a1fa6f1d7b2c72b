/**
 * Reload sees every field of an output: the group, port, TTL, interface
 * and source of one rule's output are changed in turn in the config, each
 * followed by `mcrctl reload`. Each time the answer names exactly that
 * field (old and new value), the new destination receives every datagram,
 * the old one none, and a rule that never changed forwards a stream that
 * runs through all five reloads without losing a datagram (its generator
 * is stopped only after the last reload, so the stream spans them all).
 * (Before the fix, `content()` compared outputs as {}: each reload said
 * "0 changed" and kept sending to the old destination.)
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import type { LabProcess, RelayLab } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import type { ReloadResult, StatsResult } from '../../proto/index.js';
import { genReport, runGen, sinkReport, startGen, startSink, type SinkReport } from './harness.js';
import { mcrctl, mcrctlJson, mcrdLab, startMcrd } from './mcrd-harness.js';

interface Out { group: string; port: number; interface: string; ttl: number; source?: string }

const UNCHANGED = `{ name: "steady", inputInterface: "in0", inputGroup: "239.1.1.9", inputPort: 5009,
  outputs: [{ group: "239.2.2.9", port: 6009, interface: "out0" }] }`;
// The steady stream runs from before the first reload until after the last,
// then is stopped (mcrgen prints its report on SIGTERM): it spans all five
// reloads by construction instead of by a fixed 30 s length. STEADY_CAP only
// bounds it (60 s at 2 000/s); it must not be reached before the loop ends.
const STEADY_CAP = 120_000;
const STEADY_RATE = 2_000;
const BURST = 2_000;

function config(out: Out): string {
  const source = out.source !== undefined ? `, source: "${out.source}"` : '';
  return `// mcrd-reload-fields test\n{ rules: [ ${UNCHANGED},
  { name: "moving", inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000,
    outputs: [{ group: "${out.group}", port: ${out.port}, interface: "${out.interface}", ttl: ${out.ttl}${source} }] } ] }\n`;
}

type SinkFull = SinkReport & { ttls: Record<string, number>; sources: Record<string, number> };

/** A sink on the sink namespace behind an output interface (out0 → sink 0, out1 → sink 1). */
function sinkIndex(iface: string): number {
  return Number(iface.replace('out', ''));
}

async function sinkFor(rl: RelayLab, out: Out, count: number, durationSec: number): Promise<LabProcess> {
  return startSink(rl, sinkIndex(out.interface), { group: out.group, port: out.port, count, duration: durationSec, idle: 1 });
}

t.test('reload applies an edit of each output field, and says which', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'rfields', { outputs: 2 });
  // A second address on out1, for the source step.
  await rl.lab.exec(rl.relay.ns, 'ip', ['addr', 'add', '10.99.2.3/24', 'dev', 'out1']);
  const file = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  let current: Out = { group: '239.2.2.2', port: 6000, interface: 'out0', ttl: 4 };
  writeFileSync(file, config(current));
  const mcrd = await startMcrd(rl, ['--config', file, '--control-socket', socket, '--workers', '1']);
  t.teardown(() => mcrd.stop('SIGKILL', 5_000).catch(() => undefined));

  const steadySink = await startSink(rl, 0, { group: '239.2.2.9', port: 6009, count: STEADY_CAP, idle: 2, duration: 90 });
  const steady = startGen(rl, { dest: '239.1.1.9', port: 5009, count: STEADY_CAP, rate: STEADY_RATE, size: 200, stream: 9 });
  // Reloads start only once the steady stream flows through mcrd (rule 1 is "steady").
  const steadyFlows = async (): Promise<boolean> =>
    Number((await mcrctlJson<StatsResult>(socket, ['stats'])).rules.find((r) => r.ruleId === 1)?.packets ?? 0) > 0;
  t.ok(await pollUntil(steadyFlows, 10_000), 'the steady stream flows before the first reload');

  const steps: Array<[string, Partial<Out>, string, string]> = [
    ['outputs[0].group', { group: '239.2.2.3' }, '"239.2.2.2"', '"239.2.2.3"'],
    ['outputs[0].port', { port: 6001 }, '6000', '6001'],
    ['outputs[0].ttl', { ttl: 9 }, '4', '9'],
    ['outputs[0].interface', { interface: 'out1' }, '"out0"', '"out1"'],
    ['outputs[0].source', { source: '10.99.2.3' }, '', '"10.99.2.3"'],
  ];
  let stream = 1;
  for (const [field, change, before, after] of steps) {
    const old = current;
    current = { ...current, ...change };
    writeFileSync(file, config(current));
    const r = await mcrctl(socket, ['--json', 'reload']);
    t.equal(r.exitCode, 0, `${field}: reload exits 0 (${r.stderr})`);
    const result = JSON.parse(r.stdout) as ReloadResult;
    t.match(result, { added: 0, removed: 0, changed: 1, unchanged: 1 }, `${field}: one rule changed, one unchanged`);
    t.same(result.changes[0]?.fields, [{ field, before, after }], `${field}: the answer names the field and both values`);

    // The old destination, where it differs, must get nothing.
    const moved = old.group !== current.group || old.port !== current.port || old.interface !== current.interface;
    const oldSink = moved ? await sinkFor(rl, old, BURST, 20) : undefined;
    const newSink = await sinkFor(rl, current, BURST, 20);
    stream++;
    await runGen(rl, { dest: '239.1.1.1', port: 5000, count: BURST, rate: 10_000, size: 200, stream });
    const got = JSON.parse(await newSink.waitForLine('stdout', /^\{/, 30_000)) as SinkFull;
    t.equal(got.received, BURST, `${field}: the new destination receives every datagram`);
    t.equal(got.lost, 0);
    if (field.endsWith('ttl')) t.same(got.ttls, { 9: BURST }, 'every datagram carries the new TTL');
    if (field.endsWith('source')) t.same(got.sources, { '10.99.2.3': BURST }, 'every datagram comes from the new source');
    // The new sink has had all BURST datagrams, spread over 200 ms. Copies to
    // the old destination would leave mcrd in the same walks as those, so by
    // now the old sink would have seen all but the last few: stopping it here
    // proves as much as letting it run out a fixed 4 s (the old way).
    if (oldSink !== undefined) {
      await oldSink.stop('SIGTERM', 5_000);
      t.equal((await sinkReport(oldSink)).received, 0, `${field}: the old destination receives nothing`);
    }
  }

  t.notOk(steady.exited, 'the steady stream was still running after the last reload');
  await steady.stop('SIGTERM', 10_000);
  const sent = (await genReport(steady)).sent;
  t.ok(sent > 0 && sent < STEADY_CAP, `steady stream stopped by the test after ${sent} datagrams`);
  const got = await sinkReport(steadySink, 60_000);
  t.equal(got.received, sent, 'the unchanged rule lost nothing across five reloads');
  t.equal(got.lost, 0);
  t.equal(got.reordered, 0);
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);
});
