/**
 * The metrics endpoint over real HTTP on loopback (MetricsServer with a
 * made-up collector source): GET and HEAD /metrics answer the text with
 * Prometheus' content type, other paths 404, other methods 405 with Allow,
 * a failing scrape 500 with its code; concurrent requests while a scrape
 * waits on the workers share it and leave the event loop free; close()
 * ends kept-alive connections.
 */
import t from 'tap';
import { Agent, request } from 'node:http';
import { MetricsCollector } from '../../supervisor/metrics/collector.js';
import { connect } from 'node:net';
import { pollUntil } from '../../bench/lab/time.js';
import { METRICS_TIMEOUTS, MetricsServer } from '../../supervisor/metrics/http-server.js';
import type { MetricsSnapshot } from '../../supervisor/metrics/snapshot.js';

const SNAPSHOT: MetricsSnapshot = { stats: { rules: [], workers: [], inputs: [], outputInterfaces: [] }, rules: [], workers: [], reload: { successful: true, lastSuccessSeconds: 1 } };
const silent = { info: () => undefined, warn: () => undefined };

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request; a new connection each time unless `agent` keeps one alive. */
function fetchRaw(port: number, method: string, path: string, agent: Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, timeout: 5000, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

async function serve(t: { teardown(fn: () => unknown): void }, source: () => Promise<MetricsSnapshot>): Promise<number> {
  const collector = new MetricsCollector({ source, names: { malformedReasons: [] }, version: '9.9.9' });
  // Port 0: the kernel picks a free one (the parser refuses 0 from users; tests build the address directly).
  const server = new MetricsServer({ address: { host: '127.0.0.1', port: 0, loopback: true, text: '127.0.0.1:0' }, collector, logger: silent });
  const { port } = await server.listen();
  t.teardown(() => server.close());
  return port;
}

t.test('routes: GET and HEAD /metrics, 404 elsewhere, 405 for other methods', async (t) => {
  const port = await serve(t, async () => SNAPSHOT);
  const get = await fetchRaw(port, 'GET', '/metrics');
  t.equal(get.status, 200);
  t.equal(get.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  t.match(get.body, /^mcr_build_info\{version="9\.9\.9",node="v\d+/m);
  t.equal(Number(get.headers['content-length']), Buffer.byteLength(get.body));
  const withQuery = await fetchRaw(port, 'GET', '/metrics?x=1');
  t.equal(withQuery.status, 200, 'a query string is ignored');
  const head = await fetchRaw(port, 'HEAD', '/metrics');
  t.equal(head.status, 200);
  t.equal(head.body, '', 'HEAD: no body');
  t.equal(head.headers['content-type'], get.headers['content-type']);
  for (const path of ['/', '/metrics/', '/metricsx', '/favicon.ico']) {
    const r = await fetchRaw(port, 'GET', path);
    t.equal(r.status, 404, `GET ${path}: 404`);
    t.match(r.body, /\/metrics/, 'the 404 names the path to use');
  }
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
    const r = await fetchRaw(port, method, '/metrics');
    t.equal(r.status, 405, `${method}: 405`);
    t.equal(r.headers.allow, 'GET, HEAD');
  }
});

t.test('a failing scrape answers 500 with its code; the next one works', async (t) => {
  let fail = true;
  const port = await serve(t, async () => {
    if (fail) throw Object.assign(new Error('no answer from worker in0/0'), { code: 'ETIMEDOUT' });
    return SNAPSHOT;
  });
  const r = await fetchRaw(port, 'GET', '/metrics');
  t.equal(r.status, 500);
  t.match(r.body, /^ETIMEDOUT: no answer from worker in0\/0/);
  fail = false;
  t.equal((await fetchRaw(port, 'GET', '/metrics')).status, 200);
});

t.test('requests during a slow scrape share it and leave the event loop free', async (t) => {
  let calls = 0;
  let release: () => void = () => undefined;
  const port = await serve(t, async () => {
    calls++;
    // As a stats round-trip to the workers: the scrape waits, nothing runs.
    await new Promise<void>((r) => (release = r));
    return SNAPSHOT;
  });
  const replies = Promise.all(Array.from({ length: 5 }, () => fetchRaw(port, 'GET', '/metrics')));
  const deadline = Date.now() + 5000;
  while (calls === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  // Let the other four requests arrive while the first waits.
  await new Promise((r) => setTimeout(r, 100));
  let ticked = false;
  setImmediate(() => (ticked = true));
  await new Promise((r) => setTimeout(r, 10));
  t.ok(ticked, 'the event loop runs while the scrape waits');
  release();
  const all = await replies;
  t.equal(calls, 1, 'five requests, one snapshot');
  t.ok(all.every((r) => r.status === 200 && r.body === all[0]?.body), 'all five got the same text');
});

t.test('close() ends kept-alive connections and stops listening', async (t) => {
  const collector = new MetricsCollector({ source: async () => SNAPSHOT, names: { malformedReasons: [] }, version: 'x' });
  const server = new MetricsServer({ address: { host: '127.0.0.1', port: 0, loopback: true, text: '127.0.0.1:0' }, collector, logger: silent });
  const { port } = await server.listen();
  const keepAlive = new Agent({ keepAlive: true });
  t.teardown(() => keepAlive.destroy());
  t.equal((await fetchRaw(port, 'GET', '/metrics', keepAlive)).status, 200);
  const started = Date.now();
  await server.close();
  t.ok(Date.now() - started < 2000, 'close does not wait for the keep-alive timeout');
  await t.rejects(fetchRaw(port, 'GET', '/metrics'), { code: 'ECONNREFUSED' });
  await server.close();
  t.pass('a second close is harmless');
});

t.test('listen fails with the errno of listen(2)', async (t) => {
  const port = await serve(t, async () => SNAPSHOT);
  const collector = new MetricsCollector({ source: async () => SNAPSHOT, names: { malformedReasons: [] }, version: 'x' });
  const second = new MetricsServer({ address: { host: '127.0.0.1', port, loopback: true, text: `127.0.0.1:${port}` }, collector, logger: silent });
  await t.rejects(second.listen(), { code: 'EADDRINUSE' });
});

t.test('a client that trickles its headers is cut off at the request timeout, checked often enough to matter', async (t) => {
  const collector = new MetricsCollector({ source: async () => SNAPSHOT, names: { malformedReasons: [] }, version: '9.9.9' });
  const address = { host: '127.0.0.1', port: 0, loopback: true, text: '127.0.0.1:0' };
  // Shortened as in production's proportions: the check runs at a tenth of the timeout, node:http's own default 60 times it.
  const checked = new MetricsServer({ address, collector, logger: silent, timeouts: { requestMs: 500, keepAliveMs: 500, checkMs: 50 } });
  const unchecked = new MetricsServer({ address, collector, logger: silent, timeouts: { requestMs: 500, keepAliveMs: 500, checkMs: 30_000 } });
  const ports = [(await checked.listen()).port, (await unchecked.listen()).port];
  t.teardown(() => Promise.all([checked.close(), unchecked.close()]));
  const trickle = (port: number): { closed: () => boolean; stop: () => void } => {
    let closed = false;
    const socket = connect(port, '127.0.0.1');
    socket.on('close', () => { closed = true; });
    socket.on('error', () => undefined);
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    const timer = setInterval(() => { if (!closed) socket.write('X-Slow: 1\r\n'); }, 100);
    return { closed: () => closed, stop: () => { clearInterval(timer); socket.destroy(); } };
  };
  const clients = ports.map((p) => trickle(p));
  t.teardown(() => clients.forEach((c) => c.stop()));
  t.ok(await pollUntil(async () => clients[0]?.closed() === true, 1_500, 20), 'cut off within 1.5 s of a 0.5 s request timeout');
  t.notOk(clients[1]?.closed(), 'with node:http\'s 30 s check it would still hold the connection');
  t.ok(METRICS_TIMEOUTS.checkMs <= METRICS_TIMEOUTS.requestMs / 10, 'production checks at least ten times per request timeout');
});
