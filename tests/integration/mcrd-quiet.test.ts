/**
 * mcrd at `--log-level error`: readiness of mcrd and of its workers must not
 * depend on log lines. mcrd is started quiet with a rule in its config; the
 * test waits on the control socket (not on any log), sees the worker
 * running, forwards traffic through it, and checks mcrd printed nothing
 * below error level.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { runGen, sinkReport, startSink } from './harness.js';
import { MCRD, mcrdLab, workersOf } from './mcrd-harness.js';

t.test('mcrd --log-level error starts its workers and forwards', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'quiet');
  const socket = join(dir, 'mcrd.sock');
  const config = join(dir, 'quiet.json5');
  writeFileSync(config, JSON.stringify({ rules: [{ name: 'q', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] }] }));
  const mcrd = rl.lab.spawn(rl.relay.ns, process.execPath, [MCRD, '--config', config, '--control-socket', socket,
    '--workers', '1', '--log-level', 'error']);
  const deadline = Date.now() + 20_000;
  let running = false;
  while (!running && Date.now() < deadline) {
    running = (await workersOf(socket).catch(() => [])).some((w) => w.state === 'running' && w.pid > 0);
    if (!running) await new Promise((r) => setTimeout(r, 200));
  }
  t.ok(running, 'the worker reached running without any log line to wait on');
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 2000, idle: 2 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 2000, rate: 5000, size: 100 });
  t.equal((await sinkReport(sink)).received, 2000, 'it forwards');
  const result = await mcrd.stop('SIGTERM', 20_000);
  t.equal(result.exitCode, 0, 'mcrd exits 0');
  const levels = [...mcrd.stdoutLines, ...mcrd.stderrLines].filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { level?: number }).level ?? 0);
  t.ok(levels.every((level) => level >= 50), `only error-level lines were logged (levels seen: ${[...new Set(levels)].join(',') || 'none'})`);
});
