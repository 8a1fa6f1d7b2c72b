/**
 * The demo scenario, start to end: a namespace lab (src → relay → two
 * sinks), mcrd in the relay namespace with docs/demo.json5, one mcrsink per
 * output, one mcrgen stream per rule, the `mcrctl stats` table every few
 * seconds while they run, then what was sent and received. Everything it
 * starts lives in the lab, so teardown is the lab's: processes stopped by
 * PID, namespaces deleted; plus the temporary directory of the control
 * socket. cleanup() is the normal and error path; destroySync() is for
 * signal handlers, which cannot wait.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../supervisor/config/index.js';
import { ControlClient } from '../../common/control-client.js';
import { createRelayLab, type LabProcess, type RelayLab } from '../lab/index.js';
import { runMcrctl } from '../../tools/mcrctl/commands.js';
import { DemoError } from './errors.js';
import { planDemo, type DemoPlan } from './plan.js';
import { printIntro, printReceived, printSent, type GenReport, type SinkReport } from './report.js';

export interface DemoOptions {
  /** Package root: where build/ and dist/ are. */
  root: string;
  configFile: string;
  durationSec: number;
  /** Packets per second of each stream. */
  rate: number;
  /** Seconds between two stats tables. */
  intervalSec: number;
  out: (text: string) => void;
}

/** Payload bytes per packet: small, so the demo is light on a shared machine. */
const PACKET_SIZE = 200;
/** mcrsink ends this long after its last packet. */
const SINK_IDLE_SEC = 2;

export class Demo {
  #rl: RelayLab | undefined;
  #tmp: string | undefined;
  #client: ControlClient | undefined;
  #mcrd: LabProcess | undefined;

  constructor(private readonly o: DemoOptions) {}

  async run(): Promise<void> {
    const o = this.o;
    const config = loadConfig(o.configFile);
    this.#tmp = mkdtempSync(join(tmpdir(), 'mcr-demo-'));
    const socket = join(this.#tmp, 'mcrd.sock');
    const rl = await createRelayLab({ tag: 'demo', outputs: 2 });
    this.#rl = rl;
    const plan = planDemo(config, { inputIfname: rl.relay.input.ifname, relayOutputs: rl.relay.outputs, sinks: rl.sinks },
      relative(process.cwd(), o.configFile) || o.configFile);

    const workers = await this.#startMcrd(socket);
    printIntro(o.out, { rl, plan, configFile: o.configFile, socket, mcrdPid: this.#mcrd?.pid ?? 0, workers,
      rate: o.rate, durationSec: o.durationSec, size: PACKET_SIZE });
    const sinks = await this.#startSinks(plan);
    // A first sample for mcrd to measure rates from, so the first table has them.
    await this.#client?.request({ kind: 'stats' });
    const gens = plan.streams.map((s) => rl.lab.spawn(rl.src.ns, join(o.root, 'build', 'Release', 'mcrgen'), [
      '--dest', s.dest, '--port', String(s.port), '--interface', rl.src.ifname, '--rate', String(o.rate),
      '--count', String(o.rate * o.durationSec), '--duration', String(o.durationSec + 5), '--size', String(PACKET_SIZE),
      '--stream', String(s.stream)]));
    await this.#showStats(socket, gens);

    const sent = await Promise.all(gens.map((g) => jsonReport<GenReport>(g, 'mcrgen', 15_000)));
    printSent(o.out, plan, sent);
    const received = await Promise.all(sinks.map((s) => jsonReport<SinkReport>(s, 'mcrsink', (SINK_IDLE_SEC + 10) * 1000)));
    printReceived(o.out, plan, received, rl);
  }

  /** Stops mcrd (drain, exit 0 expected), then the rest of the lab, then removes the temporary files. */
  async cleanup(): Promise<void> {
    await this.#client?.close().catch(() => undefined);
    const mcrd = this.#mcrd;
    let problem: DemoError | undefined;
    if (mcrd !== undefined && !mcrd.exited) {
      const end = await mcrd.stop('SIGTERM', 15_000).catch(() => undefined);
      if (end !== undefined && end.exitCode !== 0) {
        problem = new DemoError('ERR_MCR_DEMO_MCRD', `mcrd ended with ${end.exitCode ?? end.signal} on SIGTERM: ${lastError(mcrd)}`);
      }
    }
    await this.#rl?.lab.destroy();
    if (this.#tmp !== undefined) rmSync(this.#tmp, { recursive: true, force: true });
    if (problem !== undefined) throw problem;
  }

  /** For signal handlers: SIGKILL by PID, delete the namespaces, remove the files, now. */
  destroySync(): void {
    this.#rl?.lab.destroySync();
    if (this.#tmp !== undefined) rmSync(this.#tmp, { recursive: true, force: true });
  }

  /** Where the demo's namespaces and files are, for the closing line. */
  get where(): { namespaces: readonly string[]; tmp: string | undefined } {
    return { namespaces: this.#rl?.lab.namespaces ?? [], tmp: this.#tmp };
  }

  async #startMcrd(socket: string): Promise<number> {
    const rl = this.#rl;
    if (rl === undefined) throw new DemoError('ERR_MCR_DEMO_LAB', 'no lab');
    const mcrd = rl.lab.spawn(rl.relay.ns, process.execPath,
      [join(this.o.root, 'dist', 'supervisor', 'mcrd.js'), '--config', this.o.configFile, '--control-socket', socket]);
    this.#mcrd = mcrd;
    try {
      await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 20_000);
    } catch (err) {
      throw new DemoError('ERR_MCR_DEMO_MCRD', `mcrd did not start (${(err as { code?: string }).code ?? 'error'}): ${lastError(mcrd)}`);
    }
    const client = new ControlClient();
    this.#client = client;
    await client.connect(socket);
    const { workers } = await client.request({ kind: 'workers' });
    const down = workers.filter((w) => w.state !== 'running');
    if (workers.length === 0 || down.length > 0) {
      throw new DemoError('ERR_MCR_DEMO_MCRD',
        `mcrd's workers did not start (${down.map((w) => `${w.id} ${w.state}`).join(', ') || 'none'}): ${lastError(mcrd)}`);
    }
    return workers.length;
  }

  async #startSinks(plan: DemoPlan): Promise<LabProcess[]> {
    const rl = this.#rl;
    if (rl === undefined) throw new DemoError('ERR_MCR_DEMO_LAB', 'no lab');
    const bound = ['--duration', String(this.o.durationSec + 15), '--idle', String(SINK_IDLE_SEC)];
    const sinks = plan.sinks.map((s) => rl.lab.spawn(rl.sinks[s.sink]?.ns ?? '', join(this.o.root, 'build', 'Release', 'mcrsink'), [...s.args, ...bound]));
    await Promise.all(sinks.map(async (sink, i) => {
      try {
        await sink.waitForLine('stderr', /"event":"ready"/, 10_000);
      } catch {
        throw new DemoError('ERR_MCR_DEMO_TOOL', `mcrsink for ${plan.sinks[i]?.label} did not start: ${sink.stderrLines.at(-1) ?? 'no output'}`);
      }
    }));
    return sinks;
  }

  /** The `mcrctl stats` table every intervalSec while the generators run. */
  async #showStats(socket: string, gens: readonly LabProcess[]): Promise<void> {
    const { intervalSec, durationSec, out } = this.o;
    const start = Date.now();
    const ticks = Math.max(1, Math.floor(durationSec / intervalSec));
    for (let k = 1; k <= ticks; k++) {
      // Scheduled from the start, so slow ticks do not push the later ones.
      await sleep(Math.max(0, start + k * intervalSec * 1000 - Date.now()));
      const failed = gens.find((g) => g.exited && g.process.exitCode !== 0);
      if (failed !== undefined) {
        throw new DemoError('ERR_MCR_DEMO_TOOL', `mcrgen stopped early (${failed.process.exitCode ?? failed.process.signalCode}): ${failed.stderrLines.at(-1) ?? 'no output'}`);
      }
      out(`\n--- ${Math.round((Date.now() - start) / 1000)} s: mcrctl --socket ${socket} stats\n`);
      let errors = '';
      const status = await runMcrctl(['--socket', socket, 'stats'], { stdout: out, stderr: (text) => (errors += text) });
      if (status !== 0) throw new DemoError('ERR_MCR_DEMO_TOOL', `mcrctl stats failed: ${errors.trim()}`);
    }
  }
}

/** The JSON summary a traffic tool prints on stdout when it ends. */
async function jsonReport<T>(proc: LabProcess, name: string, timeoutMs: number): Promise<T> {
  try {
    return JSON.parse(await proc.waitForLine('stdout', /^\{/, timeoutMs)) as T;
  } catch (err) {
    throw new DemoError('ERR_MCR_DEMO_TOOL', `${name} gave no report (${(err as { code?: string }).code ?? 'error'}): ${proc.stderrLines.at(-1) ?? 'no output'}`);
  }
}

/** mcrd's last warning or error, as "msg (err)", for error messages. */
function lastError(mcrd: LabProcess): string {
  for (const line of [...mcrd.stdoutLines].reverse()) {
    if (!line.startsWith('{')) return line;
    try {
      const l = JSON.parse(line) as { level?: number; msg?: string; err?: string };
      if ((l.level ?? 0) >= 40) return `${l.msg ?? ''}${l.err !== undefined ? ` (${l.err})` : ''}`;
    } catch {
      return line;
    }
  }
  return 'no error logged';
}
