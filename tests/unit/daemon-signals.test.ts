/**
 * mcrd's signal listeners (supervisor/daemon-signals.ts): listening from
 * construction, a stop or reload during start-up held until started() and
 * then run once (a stop over a reload), each later signal acted on at once,
 * and a second stop signal, during start-up or after, handed to onSecondStop.
 * The real process's signals are in mcrd.test.ts (a SIGTERM during start-up
 * ends in a clean stop, exit code 0).
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import { DaemonSignals, type StopSignal } from '../../supervisor/daemon-signals.js';

function fixture(): { proc: EventEmitter; signals: DaemonSignals; deferred: string[]; stops: StopSignal[]; seconds: StopSignal[]; reloads: number[]; start(): void } {
  const proc = new EventEmitter();
  const deferred: string[] = [];
  const stops: StopSignal[] = [];
  const seconds: StopSignal[] = [];
  const reloads: number[] = [];
  const signals = new DaemonSignals((s) => deferred.push(s), (s) => seconds.push(s), proc as unknown as Pick<NodeJS.Process, 'on'>);
  return { proc, signals, deferred, stops, seconds, reloads,
    start: () => signals.started({ stop: (s) => stops.push(s), reload: () => reloads.push(1) }) };
}

t.test('the listeners exist from construction, before start-up has finished', async (t) => {
  const f = fixture();
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) t.equal(f.proc.listenerCount(s), 1, `${s} has a listener`);
});

t.test('a stop during start-up waits for started(), then runs once', async (t) => {
  const f = fixture();
  f.proc.emit('SIGTERM');
  t.same(f.stops, [], 'nothing stops while starting');
  t.same(f.deferred, ['SIGTERM'], 'it is noted');
  f.start();
  t.same(f.stops, ['SIGTERM'], 'one stop, with its signal');
  t.equal(f.reloads.length, 0);
});

t.test('a second stop signal goes to onSecondStop, during start-up or during the stop', async (t) => {
  const starting = fixture();
  starting.proc.emit('SIGTERM');
  starting.proc.emit('SIGINT');
  t.same(starting.seconds, ['SIGINT'], 'during start-up: the one that will not wait');
  starting.start();
  t.same(starting.stops, ['SIGTERM'], 'the held stop still runs if onSecondStop returned');
  const running = fixture();
  running.start();
  running.proc.emit('SIGINT');
  running.proc.emit('SIGINT');
  t.same(running.stops, ['SIGINT'], 'the first stops');
  t.same(running.seconds, ['SIGINT'], 'the second goes to onSecondStop');
});

t.test('a stop during start-up wins over a reload during start-up', async (t) => {
  const f = fixture();
  f.proc.emit('SIGHUP');
  f.proc.emit('SIGINT');
  f.start();
  t.same(f.stops, ['SIGINT']);
  t.equal(f.reloads.length, 0, 'no reload of a daemon that is stopping');
});

t.test('a reload during start-up runs once when started, two of them as one', async (t) => {
  const f = fixture();
  f.proc.emit('SIGHUP');
  f.proc.emit('SIGHUP');
  t.equal(f.reloads.length, 0);
  f.start();
  t.equal(f.reloads.length, 1, 'one reload reads the file as it is now');
  t.same(f.stops, []);
});

t.test('after started(), each signal acts at once and nothing is held', async (t) => {
  const f = fixture();
  f.start();
  t.same(f.stops, [], 'nothing pending: nothing runs at start');
  f.proc.emit('SIGHUP');
  f.proc.emit('SIGHUP');
  t.equal(f.reloads.length, 2, 'each SIGHUP reloads');
  f.proc.emit('SIGTERM');
  t.same(f.stops, ['SIGTERM']);
  t.same(f.deferred, [], 'none was deferred');
});
