/**
 * `events --follow` through the real control server and connection: a
 * client that reads gets the recent events and then every new one in
 * order; a client that stops reading is dropped by its follower (not by
 * the connection's idle timeout), other clients are answered meanwhile,
 * and what the dropped client finds when it reads again is every event up
 * to the drop with no gap, then the ERR_MCR_SLOW_FOLLOWER notice whose
 * count matches the follower-dropped event.
 */
import t from 'tap';
import { createConnection } from 'node:net';
import { EventLog } from '../../supervisor/events/event-log.js';
import { encodeFrame, FrameDecoder } from '../../proto/framing.js';
import { decodeResponse, encodeRequest } from '../../proto/control.js';
import type { Event, Response } from '../../proto/index.js';
import { startControlServer, stubHandler } from './control-fixture.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function handlerFor(log: EventLog) {
  return stubHandler({
    events: async ({ last, follow }, context) => {
      const recent = log.recent(last);
      return follow === true ? log.follow(recent, context.clientId, context.signal) : { events: recent };
    },
  });
}

t.test('a reading follower gets the recent events, then each new one in order', async (t) => {
  const log = new EventLog();
  for (let i = 1; i <= 3; i++) log.record('rule.removed', { rule: i, match: `in0 239.1.1.1:${i}`, by: 'control' });
  const { client } = await startControlServer(t, handlerFor(log));
  const c = await client();
  t.same((await c.request({ kind: 'events', last: 2 })).events.map((e) => e.seq), [2, 3], 'without follow: the last 2');
  const seen: number[] = [];
  const stream = c.stream({ kind: 'events', follow: true, last: 1 });
  const first = await stream.next();
  seen.push(...(first.value?.events ?? []).map((e) => e.seq));
  for (let i = 4; i <= 6; i++) log.record('rule.removed', { rule: i, match: `in0 239.1.1.1:${i}`, by: 'control' });
  while (seen.length < 4) seen.push(...((await stream.next()).value?.events ?? []).map((e) => e.seq));
  t.same(seen, [3, 4, 5, 6], 'the last one, then the three recorded after the follow began');
  await stream.return();
});

t.test('a follower that does not read is dropped with a counted notice; others are served meanwhile', async (t) => {
  const log = new EventLog({ followers: { stallMs: 300 } });
  const { path, client } = await startControlServer(t, handlerFor(log), { idleTimeoutMs: 60_000 });
  const raw = createConnection(path);
  t.teardown(() => raw.destroy());
  await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
  raw.write(encodeFrame(encodeRequest({ id: 1, body: { kind: 'events', follow: true, last: 0 } })));
  // Never read until the end: the kernel's buffer, then Node's, fill up.
  raw.pause();
  await sleep(50);
  const other = await client();
  const padding = 'x'.repeat(400);
  let rounds = 0;
  let pingsAnswered = 0;
  const dropped = (): boolean => log.recent().some((e) => e.kind === 'events.follower-dropped');
  // Bounded: a few hundred KB fill the socket buffers, then 300 ms of stall drop the follower.
  while (!dropped() && rounds < 400) {
    for (let i = 0; i < 100; i++) log.record('reload.refused', { file: `/etc/mcr-${rounds}-${i}.json5`, code: 'ERR_MCR_CONFIG', message: padding });
    rounds++;
    await other.request({ kind: 'ping' });
    pingsAnswered++;
    await sleep(20);
  }
  t.ok(dropped(), `dropped after ${rounds} rounds of 100 events`);
  t.equal(pingsAnswered, rounds, 'every ping of another client was answered while the follower lagged');
  t.equal(log.followerCount, 0, 'the follower is gone');
  const drop = JSON.parse(log.recent().find((e) => e.kind === 'events.follower-dropped')?.fields ?? '{}') as { missed: number; firstMissedSeq: number; lastMissedSeq: number; client: number };
  t.ok(drop.missed > 0, `${drop.missed} events missed`);
  t.equal(drop.lastMissedSeq - drop.firstMissedSeq + 1, drop.missed, 'the missed events are one contiguous run');

  // Now read everything the client was sent.
  const decoder = new FrameDecoder({ maxFrameBytes: 16 * 1024 * 1024 });
  const responses: Response[] = [];
  raw.on('data', (chunk: Buffer) => {
    for (const frame of decoder.push(chunk)) responses.push(decodeResponse(frame));
  });
  raw.resume();
  const end = Date.now() + 10_000;
  while (!responses.some((r) => r.body.kind === 'error') && Date.now() < end) await sleep(20);
  const last = responses.at(-1);
  t.equal(last?.body.kind, 'error', 'the stream ends with an error');
  t.equal(last?.more, false);
  t.match(last?.body, { code: 'ERR_MCR_SLOW_FOLLOWER', message: new RegExp(`${drop.missed} events \\(seq ${drop.firstMissedSeq}\\.\\.${drop.lastMissedSeq}\\) were not sent`) });
  const got: Event[] = responses.flatMap((r) => (r.body.kind === 'events' ? r.body.events : []));
  t.ok(responses.slice(0, -1).every((r) => r.more && r.body.kind === 'events'), 'every batch before it had more = true');
  t.same(got.map((e) => e.seq), Array.from({ length: drop.firstMissedSeq - 1 }, (_, i) => i + 1), 'every event before the missed ones, in order, none twice');
  t.equal(await other.request({ kind: 'ping' }).then(() => 'ok'), 'ok', 'the control socket still answers');
});
