/**
 * mcrd's Prometheus endpoint end to end, in the namespace lab: mcrd runs in
 * the relay namespace with --metrics-listen on that namespace's loopback,
 * and every scrape is a real HTTP request made from inside it (a small node
 * fetch script under `ip netns exec`). A rule's series exist at 0 before
 * any traffic and as soon as a rule is added; after mcrgen's datagrams and
 * malformed frames from mcrinject, each value equals what `mcrctl stats
 * --json` says (an output on a missing interface gives the errno series) (input counters, which stray frames could move, lie between
 * two stats answers taken around the scrape); `promtool check metrics`
 * accepts the text; a refused and a good reload show in the reload gauges;
 * other paths are 404, other methods 405; a non-loopback address is refused
 * with exit 2 unless --metrics-allow-remote, and then reachable from the
 * source namespace.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { skipUnlessRoot, type RelayLab } from '../../bench/lab/index.js';
import type { StatsResult, WorkersResult } from '../../proto/index.js';
import { inject, runGen } from './harness.js';
import { malformedFrames } from './frames.js';
import { MCRD, mcrctl, mcrctlJson, mcrdLab, startMcrd, connectClient } from './mcrd-harness.js';
import { parseMetrics, select, value, type ParsedMetrics } from '../unit/metrics-text.js';

const PORT = 9464;
const DATAGRAMS = 3000;
const MALFORMED_REPEAT = 5;
/** The second output's interface does not exist: every datagram is an ENODEV on it (docs/mcrd.md). */
const RULE = `{ name: "metered", inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000,
  outputs: [{ group: "239.2.2.2", port: 6000, interface: "out0" }, { group: "239.2.2.3", port: 6001, interface: "nowhere0" }] }`;

/**
 * Fetches each METHOD URL pair in turn from inside a namespace with Node's
 * fetch (one process for all: starting node is the slow part); prints the
 * status, the headers checked and the body of each, as a JSON array.
 */
const FETCH = `
const args = process.argv.slice(1);
const out = [];
for (let i = 0; i < args.length; i += 2) {
  const r = await fetch(args[i + 1], { method: args[i], signal: AbortSignal.timeout(10000) });
  out.push({ status: r.status, type: r.headers.get('content-type'), allow: r.headers.get('allow'), body: await r.text() });
}
console.log(JSON.stringify(out));`;

interface HttpReply {
  status: number;
  type: string | null;
  allow: string | null;
  body: string;
}

async function http(rl: RelayLab, ns: string, requests: Array<[method: string, url: string]>): Promise<HttpReply[]> {
  const r = await rl.lab.exec(ns, process.execPath, ['--input-type=module', '-e', FETCH, ...requests.flat()], { timeoutMs: 20_000 });
  return JSON.parse(r.stdout) as HttpReply[];
}

function promtoolPath(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

t.test('mcrd serves /metrics in its namespace, equal to mcrctl stats', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'metrics');
  const socket = join(dir, 'mcrd.sock');
  const config = join(dir, 'mcrd.json5');
  writeFileSync(config, `{ rules: [ ${RULE} ] }\n`);

  // A non-loopback address without --metrics-allow-remote: refused before anything starts.
  const refused = await rl.lab.exec(rl.relay.ns, process.execPath, [MCRD, '--control-socket', join(dir, 'other.sock'),
    '--metrics-listen', `${rl.relay.input.addr}:${PORT}`], { reject: false, timeoutMs: 20_000 });
  t.equal(refused.exitCode, 2, 'non-loopback address: exit 2');
  t.match(refused.stderr, /^mcrd: ERR_MCR_METRICS_REMOTE: metrics listen address 10\.99\.0\.2:9464 is not a loopback address.*--metrics-allow-remote/);

  const mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1', '--metrics-listen', `127.0.0.1:${PORT}`]);
  await mcrd.waitForLine('stdout', /"msg":"metrics endpoint listening"/, 1000);
  const url = `http://127.0.0.1:${PORT}/metrics`;
  let text = '';
  const scrape = async (): Promise<ParsedMetrics> => {
    const [r] = await http(rl, rl.relay.ns, [['GET', url]]);
    t.equal(r?.status, 200, 'GET /metrics: 200');
    text = r?.body ?? '';
    const parsed = parseMetrics(text);
    t.same(parsed.problems, [], 'no duplicate or untyped series');
    return parsed;
  };
  const client = await connectClient(t, socket);

  const fresh = await scrape();
  const metered = { rule: '1', name: 'metered' };
  t.equal(value(fresh, 'mcr_rule_received_packets_total', { ...metered, input: 'in0' }), 0, 'a rule without traffic: series at 0');
  t.equal(value(fresh, 'mcr_output_sent_packets_total', { ...metered, output: '239.2.2.2:6000:out0' }), 0);
  t.equal(value(fresh, 'mcr_output_send_errors_total', { ...metered, output: '239.2.2.3:6001:nowhere0' }), 0, 'errors at 0 too');
  t.same(select(fresh, 'mcr_output_send_errors_by_errno_total', metered), [], 'no errno series before an errno occurred');
  t.equal(value(fresh, 'mcr_build_info', { node: process.version }), 1);

  await mcrctlJson(socket, ['add', '--input-interface', 'in0', '--input-group', '239.1.1.9', '--input-port', '5009',
    '--outputs', '239.2.2.9:6009:out0', '--name', 'added']);
  const added = await scrape();
  t.equal(value(added, 'mcr_rule_received_packets_total', { rule: '2', name: 'added', input: 'in0' }), 0, 'a rule just added: at 0 at once');
  t.equal(value(added, 'mcr_output_sent_bytes_total', { rule: '2', output: '239.2.2.9:6009:out0' }), 0);
  t.equal(value(added, 'mcr_rule_info', { rule: '2', group: '239.1.1.9', port: '5009', source: '' }), 1);

  const gen = await runGen(rl, { dest: '239.1.1.1', port: 5000, count: DATAGRAMS, rate: 10_000, size: 200 });
  t.equal(gen.sent, DATAGRAMS, 'mcrgen sent them all');
  const frames = malformedFrames('239.1.1.1', 5000);
  await inject(rl, Object.values(frames), MALFORMED_REPEAT);
  // Bounded wait until the workers counted all of it (the loop reads kernel statistics every 100 ms).
  const counted = (s: StatsResult): boolean => s.rules[0]?.packets === DATAGRAMS &&
    s.workers.reduce((n, w) => n + (w.loop.drop_fragment ?? 0), 0) >= MALFORMED_REPEAT;
  const deadline = Date.now() + 10_000;
  while (!counted(await client.request({ kind: 'stats' })) && Date.now() < deadline) await sleep(100);

  const before = await mcrctlJson<StatsResult>(socket, ['stats']);
  const m = await scrape();
  const after = await mcrctlJson<StatsResult>(socket, ['stats']);
  t.ok(counted(after), `stats counted the ${DATAGRAMS} datagrams and the malformed frames`);
  for (const [i, r] of after.rules.entries()) {
    const rule = { rule: String(r.ruleId) };
    t.equal(value(m, 'mcr_rule_received_packets_total', rule), r.packets, `rule ${r.ruleId} packets as mcrctl stats`);
    t.equal(r.packets, before.rules[i]?.packets, 'unchanged around the scrape');
    t.equal(value(m, 'mcr_rule_received_bytes_total', rule), r.bytes, `rule ${r.ruleId} bytes`);
    const outputs = select(m, 'mcr_output_sent_packets_total', rule);
    t.equal(outputs.length, r.outputs.length, 'one series per output');
    for (const [j, o] of r.outputs.entries()) {
      const output = { ...rule, output: outputs[j]?.labels.output ?? '' };
      t.equal(value(m, 'mcr_output_sent_packets_total', output), o.packets, `${output.output} packets`);
      t.equal(value(m, 'mcr_output_sent_bytes_total', output), o.bytes, `${output.output} bytes`);
      t.equal(value(m, 'mcr_output_send_errors_total', output), o.errors, `${output.output} errors`);
      t.same(Object.fromEntries(select(m, 'mcr_output_send_errors_by_errno_total', output).map((s) => [s.labels.errno, s.value])),
        o.errorsByErrno, `${output.output} errors by errno`);
    }
  }
  t.equal(value(m, 'mcr_rule_received_packets_total', metered), DATAGRAMS, 'every datagram mcrgen sent');
  const missing = { ...metered, output: '239.2.2.3:6001:nowhere0' };
  t.equal(value(m, 'mcr_output_send_errors_by_errno_total', { ...missing, errno: 'ENODEV' }), DATAGRAMS, 'ENODEV for each datagram on the missing output');
  t.equal(value(m, 'mcr_output_send_errors_total', missing), DATAGRAMS);
  const sum = (s: StatsResult, f: (w: StatsResult['workers'][number]) => number): number => s.workers.reduce((n, w) => n + f(w), 0);
  const between = (name: string, got: number, f: (w: StatsResult['workers'][number]) => number): void => {
    t.ok(got >= sum(before, f) && got <= sum(after, f), `${name} ${got} within the stats around it (${sum(before, f)}..${sum(after, f)})`);
  };
  between('frames', value(m, 'mcr_input_frames_total', { input: 'in0' }), (w) => w.received);
  between('kernel drops', value(m, 'mcr_input_kernel_drops_total', { input: 'in0' }), (w) => w.kernelDrops);
  between('unmatched', value(m, 'mcr_input_unmatched_total', { input: 'in0' }), (w) => w.loop.no_rule ?? 0);
  for (const counter of Object.keys(frames)) {
    const reason = counter.replace(/^drop_/, '');
    const got = value(m, 'mcr_input_malformed_total', { input: 'in0', reason });
    between(`malformed ${reason}`, got, (w) => w.loop[counter] ?? 0);
    t.ok(got >= MALFORMED_REPEAT, `malformed ${reason}: ${got} >= the ${MALFORMED_REPEAT} injected`);
  }
  t.equal(value(m, 'mcr_input_malformed_total', { input: 'in0', reason: 'oversize' }), 0, 'a reason nothing hit: at 0');
  // What the kernel dropped after the sends, per output interface, as the stats answer has it.
  const out0 = after.outputInterfaces.find((o) => o.interface === 'out0');
  t.equal(out0?.qdisc, 'noqueue', 'out0, a veth, has the noqueue root qdisc');
  t.equal(value(m, 'mcr_output_interface_qdisc_drops_total', { interface: 'out0' }), out0?.qdiscDrops, 'out0 qdisc drops as mcrctl stats');
  t.equal(value(m, 'mcr_output_interface_device_drops_total', { interface: 'out0' }), out0?.deviceDrops, 'out0 device drops as mcrctl stats');
  t.equal(after.outputInterfaces.find((o) => o.interface === 'nowhere0')?.error, 'ENODEV', 'a missing output interface: stats says why');
  t.same(select(m, 'mcr_output_interface_device_drops_total', { interface: 'nowhere0' }), [], 'and it has no series');
  const { workers } = await mcrctlJson<WorkersResult>(socket, ['workers']);
  t.equal(workers.length, 1, 'one worker (--workers 1)');
  for (const w of workers) {
    t.equal(value(m, 'mcr_worker_restarts_total', { worker: w.id, input: 'in0' }), w.restarts, `${w.id} restarts`);
    t.equal(value(m, 'mcr_worker_state', { worker: w.id, state: w.state }), 1, `${w.id} is ${w.state}`);
    t.equal(select(m, 'mcr_worker_state', { worker: w.id }).reduce((n, s) => n + s.value, 0), 1, 'in exactly one state');
    const l = w.loop;
    t.ok(l !== undefined, `${w.id}: mcrctl workers says how its loop runs`);
    if (l !== undefined) {
      t.equal(value(m, 'mcr_worker_loop_info', { worker: w.id, input: 'in0', ingress: l.ingress, slice_us: String(l.sliceUs),
        slice_refused: l.sliceRefused ?? '', rt_priority: String(l.rtPriority), rt_refused: l.rtRefused ?? '', defer_taskrun: String(l.deferTaskrun), no_iowait: String(l.noIowait) }),
      1, `${w.id}: mcr_worker_loop_info says the same`);
    }
  }

  const promtool = promtoolPath();
  await t.test('promtool check metrics accepts the text',
    { skip: promtool === undefined ? 'promtool is not installed (Debian package prometheus; .ci/run installs it)' : false }, async (t) => {
      const check = await rl.lab.exec(rl.relay.ns, promtool ?? 'promtool', ['check', 'metrics'], { input: text, reject: false, timeoutMs: 20_000 });
      t.equal(check.exitCode, 0, `promtool exit status${check.stdout || check.stderr ? `: ${check.stdout}${check.stderr}` : ''}`);
    });

  const [head, root, post] = await http(rl, rl.relay.ns, [['HEAD', url], ['GET', `http://127.0.0.1:${PORT}/`], ['POST', url]]);
  t.same([head?.status, head?.type, head?.body], [200, 'text/plain; version=0.0.4; charset=utf-8', ''], 'HEAD: headers, no body');
  t.equal(root?.status, 404, 'another path: 404');
  t.same([post?.status, post?.allow], [405, 'GET, HEAD'], 'POST: 405 with Allow');

  const loaded = value(m, 'mcr_config_last_reload_success_timestamp_seconds');
  t.equal(value(m, 'mcr_config_last_reload_successful'), 1, 'the start-up load counts as a success');
  writeFileSync(config, '{ rules: [ { name: "broken" ');
  const refusedReload = await mcrctl(socket, ['reload']);
  t.match(refusedReload, { exitCode: 1, stderr: /ERR_MCR_CONFIG_SYNTAX/ }, 'a broken config is refused');
  const failed = await scrape();
  t.equal(value(failed, 'mcr_config_last_reload_successful'), 0, 'the refused reload shows');
  t.equal(value(failed, 'mcr_config_last_reload_success_timestamp_seconds'), loaded, 'the last good load time stays');
  writeFileSync(config, `{ rules: [ ${RULE} ] }\n`);
  t.equal((await mcrctl(socket, ['reload'])).exitCode, 0, 'the fixed config reloads');
  const fixed = await scrape();
  t.equal(value(fixed, 'mcr_config_last_reload_successful'), 1);
  t.ok(value(fixed, 'mcr_config_last_reload_success_timestamp_seconds') > loaded, 'the reload time moved on');

  client.close();
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0, 'mcrd exited 0');

  // On purpose: the input interface's address, scraped from the source namespace.
  const remote = await startMcrd(rl, ['--control-socket', socket, '--metrics-listen', `${rl.relay.input.addr}:${PORT}`, '--metrics-allow-remote']);
  const [fromSrc] = await http(rl, rl.src.ns, [['GET', `http://${rl.relay.input.addr}:${PORT}/metrics`]]);
  t.equal(fromSrc?.status, 200, 'with --metrics-allow-remote: served to the network');
  t.equal(value(parseMetrics(fromSrc?.body ?? ''), 'mcr_config_last_reload_successful'), 1);
  t.equal((await remote.stop('SIGTERM', 20_000)).exitCode, 0, 'mcrd exited 0');
});
