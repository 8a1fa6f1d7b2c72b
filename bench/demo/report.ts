/**
 * What the demo prints around the stats tables: where everything runs
 * before traffic starts, then what mcrgen sent and what each mcrsink
 * received. Tables use mcrctl's own layout (tools/mcrctl/format.ts).
 */
import { relative } from 'node:path';
import type { RelayLab } from '../lab/index.js';
import { table } from '../../tools/mcrctl/format.js';
import type { DemoPlan } from './plan.js';

/** The fields of mcrgen's summary the demo shows (docs/tools.md). */
export interface GenReport {
  sent: number;
  errors: number;
}

/** The fields of mcrsink's summary the demo shows (docs/tools.md). */
export interface SinkReport {
  received: number;
  lost: number;
  reordered: number;
  corrupted: number;
}

type Out = (text: string) => void;

export interface Intro {
  rl: RelayLab;
  plan: DemoPlan;
  configFile: string;
  socket: string;
  mcrdPid: number;
  workers: number;
  rate: number;
  durationSec: number;
  size: number;
}

export function printIntro(out: Out, i: Intro): void {
  const prefix = i.rl.src.ns.replace(/-src$/, '');
  const outs = i.rl.relay.outputs.map((o, n) => `${o.ifname} -> sink${n}`).join(', ');
  out([
    `MCR demo: mcrgen -> mcrd -> mcrsink across network namespaces ${prefix}-{src,relay,sink0,sink1}`,
    `  lab      src ${i.rl.src.ifname} ${i.rl.src.addr} -> relay ${i.rl.relay.input.ifname}; relay ${outs}`,
    `  mcrd     pid ${i.mcrdPid} in ${i.rl.relay.ns}, ${i.workers} workers, config ${relative(process.cwd(), i.configFile) || i.configFile}`,
    `  control  mcrctl --socket ${i.socket} ...`,
    `  sending  ${i.plan.streams.map((s) => `${s.rule} ${s.dest}:${s.port}`).join(', ')}: ${i.rate} pps each, ${i.size}-byte payloads, for ${i.durationSec} s`,
    '',
  ].join('\n'));
}

export function printSent(out: Out, plan: DemoPlan, sent: readonly GenReport[]): void {
  const rows = plan.streams.map((s, n) => [s.rule, `${s.dest}:${s.port}`, String(sent[n]?.sent ?? 0), String(sent[n]?.errors ?? 0)]);
  out(['', 'Sent by mcrgen (src namespace):',
    ...table([{ header: 'RULE' }, { header: 'TO' }, { header: 'SENT', align: 'right' }, { header: 'ERRORS', align: 'right' }], rows), ''].join('\n'));
}

export function printReceived(out: Out, plan: DemoPlan, received: readonly SinkReport[], rl: RelayLab): void {
  const rows = plan.sinks.map((s, n) => {
    const r = received[n];
    return [s.label, `sink${s.sink} ${rl.sinks[s.sink]?.ifname ?? ''}`, String(r?.received ?? 0), String(r?.lost ?? 0),
      String(r?.reordered ?? 0), String(r?.corrupted ?? 0)];
  });
  out(['', 'Received by mcrsink (sink namespaces):',
    ...table([{ header: 'OUTPUT' }, { header: 'SINK' }, { header: 'RECEIVED', align: 'right' }, { header: 'LOST', align: 'right' },
      { header: 'REORDERED', align: 'right' }, { header: 'CORRUPTED', align: 'right' }], rows), ''].join('\n'));
}
