/**
 * Control-plane faults, none of which may cost the base rules a datagram:
 * rule churn (extra rules added with `mcrctl add`, fed by their own
 * generators into their own sinks, then removed with `mcrctl remove`; their
 * traffic runs only while mcrctl says every worker applied them, so it must
 * arrive whole), a config reload (rule z in and out of the file, and every
 * other time rule e's first output TTL changed, which touches rule e), and
 * a burst of control clients (many at once, some sending garbage or an
 * oversized frame) while a well-behaved client's ping time is measured.
 */
import { createConnection } from 'node:net';
import { writeFileSync } from 'node:fs';
import { ControlClient } from '../../common/control-client.js';
import type { ReloadResult } from '../../proto/index.js';
import type { PairTraffic } from './accounting.js';
import { median } from './growth.js';
import type { PlannedFault } from './schedule.js';
import { configText, fanoutOf, BASE_RULES, INPUTS, OUTPUT_IFS, pairsOf, type SoakRule } from './topology.js';
import { drainSinks, startGen, startSink, stopGen, stopSink } from './traffic.js';
import { outcome, sleep, type FaultContext, type FaultOutcome } from './fault-context.js';

/** Seconds of traffic on each churn cycle's extra rules. */
const CHURN_TRAFFIC_MS = 2000;
let churnSerial = 0;

function churnRule(cycle: number, k: number): SoakRule {
  const n = (churnSerial++ % 200) + 1;
  const iface = INPUTS[(cycle + k) % INPUTS.length] ?? 'in0';
  const fanout = fanoutOf(BASE_RULES, iface);
  const outputs = Array.from({ length: fanout }, (_, i) => ({
    group: `239.2.3.${n}`, port: 7000 + i * 100 + n, interface: OUTPUT_IFS[(n + i) % OUTPUT_IFS.length] ?? 'out0',
  }));
  return { name: `x${n}`, inputInterface: iface, inputGroup: `239.1.3.${n}`, inputPort: 5100 + n, outputs };
}

export async function ruleChurn(ctx: FaultContext, plan: PlannedFault): Promise<FaultOutcome> {
  const out = outcome('rule-churn', `${plan.size} cycles of 2 rules`);
  const addMs: number[] = [];
  const removeMs: number[] = [];
  for (let cycle = 0; cycle < plan.size; cycle++) {
    const rules = [churnRule(cycle, 0), churnRule(cycle, 1)];
    const added: string[] = [];
    try {
      // Both adds at once, as two operators' scripts would.
      await Promise.all(rules.map(async (r) => {
        const outputs = r.outputs.map((o) => `${o.group}:${o.port}:${o.interface}`).join(',');
        const res = await ctx.control.mcrctl(['add', '--name', r.name, '--input-interface', r.inputInterface, '--input-group', r.inputGroup,
          '--input-port', String(r.inputPort), '--outputs', outputs]);
        if (res.exitCode !== 0) {
          out.failures.push(`rule-churn: mcrctl add ${r.name} exited ${String(res.exitCode)}: ${res.stderr.trim().split('\n')[0] ?? ''}`);
          return;
        }
        added.push(r.name);
        addMs.push(res.ms);
      }));
      const live = rules.filter((r) => added.includes(r.name));
      const pairs = live.flatMap(pairsOf);
      const sinks = await Promise.all(pairs.map((p) => startSink(ctx.rl, ctx.tools, p)));
      try {
        const stream = ctx.nextStream();
        const gens = live.map((r) => startGen(ctx.rl, ctx.tools, { rule: r.name, inputInterface: r.inputInterface, group: r.inputGroup, port: r.inputPort,
          rate: ctx.ratePerRule, size: ctx.size, stream }));
        await sleep(CHURN_TRAFFIC_MS);
        const sent = new Map<string, number>();
        for (const g of gens) sent.set(g.rule, (await stopGen(g)).sent);
        await ctx.quiesce();
        const drops = await drainSinks(ctx.rl, sinks);
        for (const s of sinks) {
          const got = await stopSink(s);
          const st = got.streams[String(stream)];
          const t: PairTraffic = { pair: s.pair, sent: sent.get(s.pair.rule) ?? 0, received: st?.unique ?? 0, duplicated: st?.duplicated ?? 0,
            sinkDrops: drops.get(s.pair.id) ?? 0, touched: false };
          out.extra.push(t);
        }
      } finally {
        for (const s of sinks) if (!s.proc.exited) await s.proc.stop('SIGKILL', 2000).catch(() => undefined);
      }
    } finally {
      await Promise.all(added.map(async (name) => {
        const res = await ctx.control.mcrctl(['remove', '--name', name]);
        if (res.exitCode !== 0) out.failures.push(`rule-churn: mcrctl remove --name ${name} exited ${String(res.exitCode)}: ${res.stderr.trim().split('\n')[0] ?? ''}`);
        else removeMs.push(res.ms);
      }));
    }
  }
  out.details = { cycles: plan.size, rulesAdded: addMs.length, rulesRemoved: removeMs.length,
    mcrctlAddMedianMs: Math.round(median(addMs)), mcrctlRemoveMedianMs: Math.round(median(removeMs)) };
  return out;
}

export async function configReload(ctx: FaultContext, _plan: PlannedFault): Promise<FaultOutcome> {
  const r = ctx.reload;
  r.count++;
  const changeTtl = r.count % 2 === 0;
  r.withZ = !r.withZ;
  if (changeTtl) r.eTtl = r.eTtl === 8 ? 9 : 8;
  const touched = changeTtl ? BASE_RULES.filter((x) => x.name === 'e').flatMap(pairsOf).map((p) => p.id) : [];
  const out = outcome('config-reload', `${r.withZ ? 'add' : 'remove'} rule z${changeTtl ? `, rule e output 0 ttl -> ${r.eTtl}` : ''}`, touched);
  writeFileSync(ctx.configPath, configText({ withReloadRule: r.withZ, eTtl: r.eTtl }));
  const t0 = Date.now();
  const res = await ctx.control.mcrctl(['--json', 'reload']);
  if (res.exitCode !== 0) {
    out.failures.push(`config-reload: mcrctl reload exited ${String(res.exitCode)}: ${res.stderr.trim().split('\n')[0] ?? ''}`);
    return out;
  }
  const result = JSON.parse(res.stdout) as ReloadResult;
  const want = { added: r.withZ ? 1 : 0, removed: r.withZ ? 0 : 1, changed: changeTtl ? 1 : 0 };
  if (result.added !== want.added || result.removed !== want.removed || result.changed !== want.changed) {
    out.failures.push(`config-reload: mcrd reports added ${result.added}, removed ${result.removed}, changed ${result.changed}; the file change was ${JSON.stringify(want)}`);
  }
  out.details = { added: result.added, removed: result.removed, changed: result.changed, unchanged: result.unchanged, mcrctlMs: res.ms };
  const took = await ctx.control.settled({ timeoutMs: 20_000 });
  if (took === undefined) out.failures.push('config-reload: workers not at the new rule table within 20 s');
  else out.recoveryMs = Date.now() - t0;
  return out;
}

/** A client that sends `bytes` and waits (bounded) for mcrd to close or answer. */
function rawClient(socket: string, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const c = createConnection({ path: socket });
    const timer = setTimeout(() => {
      c.destroy();
      resolve('still open after 5 s');
    }, 5000);
    c.on('connect', () => c.write(bytes));
    c.on('data', () => undefined);
    c.on('error', (err) => {
      clearTimeout(timer);
      resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`);
    });
    c.on('close', () => {
      clearTimeout(timer);
      resolve('closed by mcrd');
    });
  });
}

export async function controlBurst(ctx: FaultContext, plan: PlannedFault): Promise<FaultOutcome> {
  const out = outcome('control-burst', `${plan.size} clients + 5 garbage + 1 oversized`);
  const latencies: number[] = [];
  let probing = true;
  const probe = (async () => {
    while (probing) {
      latencies.push(await ctx.control.ping(5000).catch(() => 5000));
      await sleep(20);
    }
  })();
  const good = Array.from({ length: plan.size }, async () => {
    const c = new ControlClient({ connectTimeoutMs: 10_000, requestTimeoutMs: 20_000 });
    try {
      await c.connect(ctx.socket);
      await Promise.all([c.request({ kind: 'ping' }), c.request({ kind: 'listRules' }), c.request({ kind: 'workers' })]);
      return true;
    } catch {
      return false;
    } finally {
      c.close();
    }
  });
  const garbage = Array.from({ length: 5 }, (_, i) => rawClient(ctx.socket, Buffer.from(Array.from({ length: 64 }, (_, j) => (i * 37 + j * 11) & 0xff))));
  // A varint length prefix of 64 MiB: far over mcrd's frame limit.
  const oversized = rawClient(ctx.socket, Buffer.from([0x80, 0x80, 0x80, 0x20, 1, 2, 3]));
  const answered = (await Promise.all(good)).filter(Boolean).length;
  const rawEnds = await Promise.all([...garbage, oversized]);
  probing = false;
  await probe;
  if (answered !== plan.size) out.failures.push(`control-burst: ${plan.size - answered} of ${plan.size} well-behaved clients got no answer`);
  const sorted = [...latencies].sort((a, b) => a - b);
  out.details = { clients: plan.size, answered, rawClients: rawEnds, probePings: latencies.length,
    probeMedianMs: Math.round(median(latencies) * 10) / 10, probeMaxMs: Math.round((sorted[sorted.length - 1] ?? 0) * 10) / 10 };
  out.recoveryMs = 0;
  return out;
}
