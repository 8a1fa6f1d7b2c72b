/**
 * Where the metrics endpoint may listen: ADDR:PORT parsed (IPv4, [IPv6],
 * no host names, ports 1..65535), loopback told apart from the rest, a
 * non-loopback address refused unless allowed on purpose; the config keys
 * daemon.metricsListen and daemon.metricsAllowRemote checked with file,
 * line and field; and mcrd's exit status and one-line error for each.
 */
import t from 'tap';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metricsListenAddress, parseListenAddress } from '../../supervisor/metrics/listen-address.js';
import { parseConfig } from '../../supervisor/config/index.js';
import { ROOT } from '../integration/harness.js';

t.test('ADDR:PORT', async (t) => {
  t.match(parseListenAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464, loopback: true, text: '127.0.0.1:9464' });
  t.match(parseListenAddress('127.8.9.10:1'), { loopback: true });
  t.match(parseListenAddress('[::1]:9464'), { host: '::1', port: 9464, loopback: true });
  t.match(parseListenAddress('[0:0:0:0:0:0:0:1]:9464'), { loopback: true });
  t.match(parseListenAddress('[::ffff:127.0.0.1]:9464'), { loopback: true });
  t.match(parseListenAddress('0.0.0.0:9464'), { host: '0.0.0.0', loopback: false });
  t.match(parseListenAddress('10.1.2.3:65535'), { port: 65535, loopback: false });
  t.match(parseListenAddress('[::]:9464'), { host: '::', loopback: false });
  t.match(parseListenAddress('[fe80::1]:9464'), { loopback: false });
  t.match(parseListenAddress('[::1:1]:9464'), { loopback: false });
  const refused: Array<[unknown, RegExp]> = [
    ['localhost:9464', /not an IP address: give an address, not a host name/],
    ['127.0.0.1', /expected ADDR:PORT/],
    [':9464', /expected ADDR:PORT/],
    ['127.0.0.1:0', /port 0 is out of range: expected 1\.\.65535/],
    ['127.0.0.1:65536', /out of range/],
    ['127.0.0.1:123456', /expected ADDR:PORT/],
    ['::1:9464', /expected ADDR:PORT .*\[::1\]:9464/],
    ['[127.0.0.1]:9464', /not an IP address/],
    ['256.0.0.1:9464', /not an IP address/],
    [9464, /expected ADDR:PORT .*got number/],
  ];
  for (const [input, why] of refused) {
    const r = parseListenAddress(input);
    t.type(r, 'string', `${JSON.stringify(input)} refused`);
    t.match(r, why);
  }
});

t.test('a non-loopback address only on purpose', async (t) => {
  t.equal(metricsListenAddress(undefined, false), undefined, 'no address: metrics off');
  t.match(metricsListenAddress('127.0.0.1:9464', false), { port: 9464 });
  t.throws(() => metricsListenAddress('10.1.2.3:9464', false),
    { code: 'ERR_MCR_METRICS_REMOTE', message: /10\.1\.2\.3:9464 is not a loopback address.*127\.0\.0\.1:9464.*--metrics-allow-remote \(daemon\.metricsAllowRemote: true\)/ });
  t.throws(() => metricsListenAddress('0.0.0.0:9464', false), { code: 'ERR_MCR_METRICS_REMOTE' });
  t.match(metricsListenAddress('0.0.0.0:9464', true), { host: '0.0.0.0', loopback: false });
  t.throws(() => metricsListenAddress('nowhere:1', true), { code: 'ERR_MCR_METRICS_ADDRESS' });
});

t.test('config keys', async (t) => {
  const config = (daemon: string): unknown => parseConfig(`{\n  daemon: {\n    ${daemon}\n  },\n}\n`, 'm.json5');
  t.match(config('metricsListen: "127.0.0.1:9464", metricsAllowRemote: true'),
    { daemon: { metricsListen: '127.0.0.1:9464', metricsAllowRemote: true } });
  t.match(config('metricsListen: "10.0.0.1:9464"'), { daemon: { metricsListen: '10.0.0.1:9464' } },
    'the loader takes any address: whether it may be used is mcrd\'s decision, with the command line');
  t.throws(() => config('metricsListen: "127.0.0.1"'), { code: 'ERR_MCR_CONFIG', message: /^m\.json5:3:5: daemon\.metricsListen: expected ADDR:PORT/ });
  t.throws(() => config('metricsListen: 9464'), { code: 'ERR_MCR_CONFIG', message: /daemon\.metricsListen: expected ADDR:PORT/ });
  t.throws(() => config('metricsAllowRemote: "yes"'), { code: 'ERR_MCR_CONFIG', message: /^m\.json5:3:5: daemon\.metricsAllowRemote: expected true or false, got "yes"/ });
});

t.test('mcrd refuses a non-loopback or malformed address with exit 2 and one line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcrd-metrics-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const remote = join(dir, 'remote.json5');
  writeFileSync(remote, '{ daemon: { metricsListen: "0.0.0.0:9464" } }\n');
  const mcrd = join(ROOT, 'dist', 'supervisor', 'mcrd.js');
  const socket = join(dir, 'mcrd.sock');
  const cases: Array<[string[], RegExp]> = [
    [['--metrics-listen', '10.1.2.3:9464'], /^mcrd: ERR_MCR_METRICS_REMOTE: metrics listen address 10\.1\.2\.3:9464 is not a loopback address/],
    [['--config', remote], /^mcrd: ERR_MCR_METRICS_REMOTE: metrics listen address 0\.0\.0\.0:9464/],
    [['--metrics-listen', 'localhost:9464'], /--metrics-listen.*not an IP address/],
    [['--metrics-listen', '127.0.0.1:0'], /--metrics-listen.*port 0 is out of range/],
  ];
  for (const [args, message] of cases) {
    const r = await execa(process.execPath, [mcrd, '--control-socket', socket, ...args], { reject: false, timeout: 20_000 });
    t.equal(r.exitCode, 2, `exit 2 for ${args.join(' ')}`);
    const lines = r.stderr.trim().split('\n');
    t.equal(lines.length, 1, 'one line');
    t.match(lines[0], message);
  }
});
