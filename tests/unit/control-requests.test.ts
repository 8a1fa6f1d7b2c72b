/**
 * Requests over the control socket: answers matched by id when they finish
 * out of order, every kind dispatched to its handler method, handler errors
 * passed through by code, request and client timeouts, log streams. Waits
 * are on events (responses, socket closes, abort signals), each bounded.
 */
import t from 'tap';
import { ControlError } from '../../common/control-errors.js';
import type { ControlHandler } from '../../supervisor/control/handler.js';
import type { ControlServerOptions } from '../../supervisor/control/server.js';
import { REQUEST_KINDS, type CheckResult, type LogLine, type RequestDraft, type RequestKind } from '../../proto/types.js';
import { within } from '../../bench/lab/time.js';
import { deferred, startControlServer, stubHandler, type Cleanup, type Deferred } from './control-fixture.js';



/** The stub handler with distinctive answers, so a test can tell they came back unchanged. */
function handler(overrides: Partial<ControlHandler> = {}): ControlHandler {
  return stubHandler({
    addRule: async (r) => ({ rule: { ...r.rule, id: 41 }, application: { ruleId: 41, applied: ['eth0/0'], refused: [], unconfirmed: [], pending: [] }, warnings: [] }),
    removeRule: async (r) => ({ rule: { id: r.id ?? 1, name: r.name, inputInterface: 'eth0', inputGroup: '239.1.1.1', inputPort: 5000, outputs: [] } }),
    listRules: async () => ({ rules: [], generation: 3, problems: [] }),
    logLevelSet: async (r) => ({ level: r.level, workers: 2 }),
    reload: async () => ({ file: 'mcrd.json5', added: 1, removed: 0, changed: 0, unchanged: 0, changes: [], problems: [], daemonNotApplied: [] }),
    ...overrides,
  });
}

const setup = (t: Cleanup, overrides: Partial<ControlHandler> = {}, options: Partial<ControlServerOptions> = {}) =>
  startControlServer(t, handler(overrides), options);

/** A stats handler that answers, with no rules, once `release` resolves: a request that holds its place. */
const heldStats = (release: Deferred<void>) => async () => {
  await release.promise;
  return { rules: [], workers: [], inputs: [], outputInterfaces: [] };
};
const line = (message: string): LogLine => ({ worker: 'eth0/0', timeMs: 1, level: 'info', message, json: `{"msg":"${message}"}` });

t.test('every kind reaches its handler method, without its kind, and gets its own result type', async (t) => {
  const seen: Array<[string, unknown]> = [];
  const recording = Object.fromEntries(
    REQUEST_KINDS.map((kind) => [kind, async (request: unknown) => {
      seen.push([kind, request]);
      return handler()[kind](request as never, undefined as never);
    }]),
  ) as unknown as ControlHandler;
  const { client } = await setup(t, recording);
  const c = await client();
  const bodies: { [K in RequestKind]: RequestDraft<K> } = {
    addRule: { kind: 'addRule', rule: { inputInterface: 'eth0', inputGroup: '239.1.1.1', inputPort: 5000, outputs: [{ group: '239.2.2.2', port: 6000, interface: 'eth1' }] } },
    removeRule: { kind: 'removeRule', name: 'feed-a' },
    listRules: { kind: 'listRules' },
    stats: { kind: 'stats' },
    workers: { kind: 'workers' },
    logs: { kind: 'logs', lines: 10 },
    logLevelGet: { kind: 'logLevelGet' },
    logLevelSet: { kind: 'logLevelSet', level: 'debug' },
    reload: { kind: 'reload' },
    save: { kind: 'save' },
    check: { kind: 'check', file: 'x.json5' },
    ping: { kind: 'ping' },
    version: { kind: 'version' },
    clear: { kind: 'clear', id: 3, caller: 'test' },
    events: { kind: 'events', last: 5 },
  };
  for (const kind of REQUEST_KINDS) {
    const result = await c.request(bodies[kind]);
    t.equal(result.kind, kind, `${kind} answered with ${kind}`);
  }
  t.same(seen.map(([kind]) => kind), REQUEST_KINDS);
  t.ok(seen.every(([, request]) => !Object.hasOwn(request as object, 'kind')), 'handlers never see `kind`');
  t.same(seen.find(([k]) => k === 'removeRule')?.[1], { name: 'feed-a' });
  // The result type follows from the request: these compile without casts.
  const added = await c.request({ kind: 'addRule', rule: bodies.addRule.rule });
  t.equal(added.rule.id, 41);
  t.equal(added.rule.outputs[0]?.port, 6000);
  const listed = await c.request({ kind: 'listRules' });
  t.equal(listed.generation, 3);
});

t.test('concurrent requests are answered by id as they finish, out of order', async (t) => {
  const gates: Record<string, Deferred<void>> = { a: deferred(), b: deferred(), c: deferred() };
  const { client } = await setup(t, {
    check: async (r): Promise<CheckResult> => {
      await gates[r.file]?.promise;
      return { file: r.file, rules: r.file.charCodeAt(0) };
    },
  });
  const c = await client();
  const finished: string[] = [];
  const ask = (file: string): Promise<CheckResult> =>
    c.request({ kind: 'check', file }).then((r) => {
      finished.push(file);
      return r;
    });
  const [pa, pb, pc] = [ask('a'), ask('b'), ask('c')];
  // Release in reverse order, each only after the previous answer arrived.
  gates.c?.resolve();
  t.same(await within(pc, 5000, 'answer c'), { kind: 'check', file: 'c', rules: 99 });
  gates.b?.resolve();
  t.same(await within(pb, 5000, 'answer b'), { kind: 'check', file: 'b', rules: 98 });
  gates.a?.resolve();
  t.same(await within(pa, 5000, 'answer a'), { kind: 'check', file: 'a', rules: 97 });
  t.same(finished, ['c', 'b', 'a'], 'answers arrived in completion order, each matched to its request');
});

t.test('many clients with many requests each are all answered', async (t) => {
  const { client } = await setup(t, {
    check: async (r) => {
      // Finish in a scrambled order across clients and requests.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return { file: r.file, rules: Number(r.file.split('-')[1]) };
    },
  });
  const clients = await Promise.all(Array.from({ length: 20 }, () => client()));
  const answers = await within(
    Promise.all(clients.flatMap((c, i) => Array.from({ length: 10 }, (_, k) => c.request({ kind: 'check', file: `${i}-${k}` })))),
    10_000,
    '200 answers',
  );
  t.equal(answers.length, 200);
  t.ok(answers.every((a, n) => a.file === `${Math.floor(n / 10)}-${n % 10}` && a.rules === n % 10), 'each answer matches its request');
});

t.test('handler errors reach the client with their code and message', async (t) => {
  const { client } = await setup(t, {
    addRule: async () => {
      throw new ControlError('ERR_MCR_RULE_CONFLICT', 'rule feed-a already forwards 239.1.1.1:5000: remove it first');
    },
    removeRule: async () => {
      throw Object.assign(new Error('no such interface eth9: check `ip link`'), { code: 'ENODEV' });
    },
    stats: async () => {
      throw new TypeError('cannot read properties of undefined');
    },
    // Not async: a synchronous throw must be answered too.
    reload: (() => {
      throw new ControlError('ERR_MCR_BAD_CONFIG', '/etc/mcr.json5:3: rules[0].inputPort: expected 1..65535');
    }) as ControlHandler['reload'],
    // A result that does not fit the .proto is a bug in mcrd, reported as such.
    workers: async () => ({ workers: [{ id: 7 }] }) as unknown as Awaited<ReturnType<ControlHandler['workers']>>,
  });
  const c = await client();
  const rule = { inputInterface: 'eth0', inputGroup: '239.1.1.1', inputPort: 5000, outputs: [] };
  await t.rejects(c.request({ kind: 'addRule', rule }), { code: 'ERR_MCR_RULE_CONFLICT', message: 'rule feed-a already forwards 239.1.1.1:5000: remove it first' });
  await t.rejects(c.request({ kind: 'removeRule', id: 3 }), { code: 'ENODEV', message: /no such interface eth9/ });
  await t.rejects(c.request({ kind: 'stats' }), { code: 'ERR_MCR_INTERNAL', message: /mcrd failed while handling stats: this is a bug/ });
  await t.rejects(c.request({ kind: 'reload' }), { code: 'ERR_MCR_BAD_CONFIG', message: /inputPort/ });
  await t.rejects(c.request({ kind: 'workers' }), { code: 'ERR_MCR_INTERNAL', message: /handling workers/ });
  t.equal((await c.request({ kind: 'ping' })).pid, process.pid, 'the connection is still fine');
});

t.test('a handler slower than the request timeout is answered ETIMEDOUT and aborted', async (t) => {
  const aborted = deferred<unknown>();
  const release = deferred<void>();
  const { client } = await setup(
    t,
    {
      stats: async (_request, context) => {
        context.signal.addEventListener('abort', () => aborted.resolve(context.signal.reason), { once: true });
        await release.promise;
        return { rules: [], workers: [], inputs: [], outputInterfaces: [] };
      },
    },
    { requestTimeoutMs: 100 },
  );
  const c = await client();
  const started = Date.now();
  await t.rejects(c.request({ kind: 'stats' }), { code: 'ETIMEDOUT', message: /mcrd did not finish stats within 0.1 s: .*retry/ });
  t.ok(Date.now() - started >= 90, 'not before the timeout');
  t.match(await within(aborted.promise, 5000, 'abort'), { code: 'ETIMEDOUT' }, 'the handler was told to stop');
  release.resolve();
  t.equal((await c.request({ kind: 'ping' })).pid, process.pid, 'the late result is dropped and the connection goes on');
});

t.test('a change past the request timeout is answered with what it leaves behind', async (t) => {
  const release = deferred<void>();
  t.teardown(() => release.resolve());
  let finished = false;
  const { client } = await setup(
    t,
    {
      // Like mcrd's reload: it does not stop when the answer's deadline passes.
      reload: async () => {
        await release.promise;
        finished = true;
        return { added: 0, removed: 0, unchanged: 0, notApplied: [] } as never;
      },
    },
    { requestTimeoutMs: 100 },
  );
  const c = await client();
  const err = await c.request({ kind: 'reload' }).then(() => undefined, (e: unknown) => e);
  t.match(err, { code: 'ETIMEDOUT', ownDeadline: false,
    message: /^mcrd did not finish reload within 0.1 s \(busy, or waiting for a worker\): the change goes on in mcrd and may still take effect: see `mcrctl list` and `mcrctl events` before retrying$/ });
  t.notOk(finished, 'answered while the change was still under way');
  release.resolve();
  t.equal((await c.request({ kind: 'ping' })).pid, process.pid, 'the connection goes on');
});

t.test('the client times out a request on its own', async (t) => {
  const release = deferred<void>();
  t.teardown(() => release.resolve());
  const { client } = await setup(t, { stats: heldStats(release) });
  const c = await client();
  await t.rejects(c.request({ kind: 'stats' }, { timeoutMs: 100 }),
    { code: 'ETIMEDOUT', ownDeadline: true, message: /^no answer from mcrd to stats within 0.1 s: check that it is healthy/ });
  t.equal((await c.request({ kind: 'ping' })).pid, process.pid, 'other requests still work');
});

t.test('a change still waiting for its turn at the deadline is not made, and the answer says so', async (t) => {
  const release = deferred<void>();
  t.teardown(() => release.resolve());
  let removeCalled = false;
  const { client } = await setup(
    t,
    {
      stats: heldStats(release),
      removeRule: async () => {
        removeCalled = true;
        return { removed: [] } as never;
      },
    },
    { requestTimeoutMs: 1000 },
  );
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const quiet = (p: Promise<unknown>) => p.catch(() => undefined);
  const [a, b, d, c1, c2] = [await client(), await client(), await client(), await client(), await client()];
  // d has had a turn (a ping); c1 and c2 have had none, so they go first when places free (scheduler.ts).
  await d.request({ kind: 'ping' });
  // t=0: a and b hold both places until their 1 s deadline.
  const held = [quiet(a.request({ kind: 'stats' })), quiet(b.request({ kind: 'stats' }))];
  await sleep(200);
  // t=200: d's change waits for a place; deadline t=1200.
  const change = d.request({ kind: 'removeRule', id: 3 }).then(() => undefined, (e: unknown) => e);
  await sleep(200);
  // t=400: c1 and c2 wait too; at t=1000 they take the places, and hold them past d's deadline.
  held.push(quiet(c1.request({ kind: 'stats' })), quiet(c2.request({ kind: 'stats' })));
  t.match(await change, { code: 'ETIMEDOUT',
    message: /^mcrd did not get to removeRule within 1 s \(other requests, or answers this client has not read, came first\): nothing was done; retry$/ });
  release.resolve();
  await Promise.all(held);
  t.notOk(removeCalled, 'the change was never started');
});

t.test("the client's own timeout of a change says the change may still land", async (t) => {
  const release = deferred<void>();
  t.teardown(() => release.resolve());
  const { client } = await setup(t, {
    removeRule: async () => {
      await release.promise;
      return { removed: [] } as never;
    },
  });
  const c = await client();
  await t.rejects(c.request({ kind: 'removeRule', id: 3 }, { timeoutMs: 100 }), { code: 'ETIMEDOUT', ownDeadline: true,
    message: /^no answer from mcrd to removeRule within 0.1 s: the change may or may not have been made: see `mcrctl list` and `mcrctl events` before retrying; check that it is healthy/ });
});

t.test('logs --follow streams batches until the handler ends', async (t) => {
  const { client } = await setup(t, {
    logs: async (r) => {
      if (!r.follow) return { lines: [line('recent')] };
      return (async function* () {
        yield { lines: [line('a')] };
        yield { lines: [line('b'), line('c')] };
      })();
    },
  });
  const c = await client();
  t.same((await c.request({ kind: 'logs' })).lines.map((l) => l.message), ['recent']);
  const batches: string[][] = [];
  for await (const batch of c.stream({ kind: 'logs', follow: true })) batches.push(batch.lines.map((l) => l.message));
  t.same(batches, [['a'], ['b', 'c'], []], 'each batch, then an empty last one');
  t.equal((await c.request({ kind: 'ping' })).pid, process.pid);
});

t.test('a failing stream ends with its error; a closed client aborts the stream', async (t) => {
  const aborted = deferred<void>();
  const { client } = await setup(t, {
    logs: async (r, context) => {
      if (r.worker === 'broken') {
        return (async function* () {
          yield { lines: [line('first')] };
          throw new ControlError('ERR_MCR_NO_WORKER', 'worker broken stopped: see mcrctl workers');
        })();
      }
      return (async function* () {
        yield { lines: [line('only')] };
        await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted.resolve();
      })();
    },
  });
  const c = await client();
  const got: string[] = [];
  await t.rejects(
    (async () => {
      for await (const batch of c.stream({ kind: 'logs', follow: true, worker: 'broken' })) got.push(...batch.lines.map((l) => l.message));
    })(),
    { code: 'ERR_MCR_NO_WORKER', message: /see mcrctl workers/ },
  );
  t.same(got, ['first']);

  const follower = await client();
  for await (const batch of follower.stream({ kind: 'logs', follow: true })) {
    t.same(batch.lines.map((l) => l.message), ['only']);
    break;
  }
  await follower.close();
  await within(aborted.promise, 5000, 'the stream handler to see the abort');
  t.pass('closing the client stopped the handler');
});
