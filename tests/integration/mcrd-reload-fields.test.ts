/**
 * Reload sees every field of an output: the group, port, TTL, interface
 * and source of one rule's output are changed in turn in the config, each
 * followed by `mcrctl reload`. Each time the answer names exactly that
 * field (old and new value), the new destination receives every datagram,
 * the old one none, and a rule that never changed forwards a stream that
 * runs through all five reloads without losing a datagram.
 * (Before the fix, `content()` compared outputs as {}: each reload said
 * "0 changed" and kept sending to the old destination.)
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import type { LabProcess, RelayLab } from '../../bench/lab/index.js';
import type { ReloadResult } from '../../proto/index.js';
import { genReport, runGen, sinkReport, startGen, startSink, type SinkReport } from './harness.js';
import { mcrctl, mcrdLab, startMcrd } from './mcrd-harness.js';

interface Out { group: string; port: number; interface: string; ttl: number; source?: string }

const UNCHANGED = `{ name: "steady", inputInterface: "in0", inputGroup: "239.1.1.9", inputPort: 5009,
  outputs: [{ group: "239.2.2.9", port: 6009, interface: "out0" }] }`;
const STEADY_COUNT = 60_000;
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

  const steadySink = await startSink(rl, 0, { group: '239.2.2.9', port: 6009, count: STEADY_COUNT, idle: 3, duration: 60 });
  const steady = startGen(rl, { dest: '239.1.1.9', port: 5009, count: STEADY_COUNT, rate: STEADY_RATE, size: 200, stream: 9 });

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
    const oldSink = moved ? await sinkFor(rl, old, BURST, 4) : undefined;
    const newSink = await sinkFor(rl, current, BURST, 20);
    stream++;
    await runGen(rl, { dest: '239.1.1.1', port: 5000, count: BURST, rate: 10_000, size: 200, stream });
    const got = JSON.parse(await newSink.waitForLine('stdout', /^\{/, 30_000)) as SinkFull;
    t.equal(got.received, BURST, `${field}: the new destination receives every datagram`);
    t.equal(got.lost, 0);
    if (field.endsWith('ttl')) t.same(got.ttls, { 9: BURST }, 'every datagram carries the new TTL');
    if (field.endsWith('source')) t.same(got.sources, { '10.99.2.3': BURST }, 'every datagram comes from the new source');
    if (oldSink !== undefined) t.equal((await sinkReport(oldSink)).received, 0, `${field}: the old destination receives nothing`);
  }

  t.equal((await genReport(steady)).sent, STEADY_COUNT);
  const got = await sinkReport(steadySink, 60_000);
  t.equal(got.received, STEADY_COUNT, 'the unchanged rule lost nothing across five reloads');
  t.equal(got.lost, 0);
  t.equal(got.reordered, 0);
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);
});
