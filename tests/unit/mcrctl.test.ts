/**
 * mcrctl end to end in-process: a real ControlServer in a temporary
 * directory with a fake handler that records every request and answers with
 * canned results (or a coded error), and the real mcrctl program run against
 * it. Checks the request each subcommand sends, table and --json output,
 * exit statuses and the one-line errors. Waits are on output events, each
 * bounded in time; no sleeps.
 */
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ControlHandler } from '../../supervisor/control/handler.js';
import { ControlServer } from '../../supervisor/control/server.js';
import type { LogLine, ResultBodies, Rule } from '../../proto/index.js';
import { ControlError } from '../../common/control-errors.js';
import { packageRoot } from '../../native/package-root.js';
import { lstatSync, readFileSync } from 'node:fs';
import { runMcrctl } from '../../tools/mcrctl/commands.js';
import { within } from '../../bench/lab/time.js';
import { makeStaleSocket } from './control-fixture.js';

type Cleanup = { teardown(fn: () => unknown): void };

/** Fixed "now" for uptimes: 2024-01-01T00:00:00Z. */
const NOW = Date.UTC(2024, 0, 1);

const RULES: Rule[] = [
  { id: 1, name: 'feed-a', inputInterface: 'eth0', inputGroup: '239.1.1.1', inputPort: 5000,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'eth1', ttl: 8 }, { group: '10.0.0.9', port: 7000, interface: 'eth2' }] },
  { id: 12, inputInterface: 'eth0', inputGroup: '239.1.1.2', inputPort: 5002, source: '10.1.1.1',
    outputs: [{ group: '239.3.3.3', port: 6002, interface: 'eth1' }] },
];

const line = (worker: string, message: string, level = 'info'): LogLine => ({
  worker, timeMs: NOW, level, message, json: JSON.stringify({ level: 30, time: NOW, msg: message, worker }),
});

/** Canned answers, one per kind. */
const CANNED: { [K in keyof ResultBodies]: ResultBodies[K] } = {
  addRule: { rule: { ...RULES[0]!, id: 7 }, application: { ruleId: 7, applied: ['eth0/0'], refused: [], unconfirmed: [], pending: [] }, warnings: [] },
  removeRule: { rule: RULES[0]! },
  listRules: { rules: RULES, generation: 4, problems: [] },
  stats: {
    rules: [
      { ruleId: 1, packets: 1000, bytes: 1_316_000, pps: 100, errors: 2,
        outputs: [{ packets: 1000, bytes: 1_316_000, pps: 100, errors: 0, errorsByErrno: {} },
          { packets: 998, bytes: 1_313_368, pps: 99.8, errors: 2, errorsByErrno: { ENETUNREACH: 1, ENODEV: 1 } }] },
      // Added since mcrd's previous sample: no rate yet.
      { ruleId: 12, packets: 0, bytes: 0, errors: 0, outputs: [{ packets: 0, bytes: 0, errors: 0, errorsByErrno: {} }] },
    ],
    workers: [
      { worker: 'eth0/0', interface: 'eth0', received: 1000, kernelDrops: 3, restarts: 0, loop: { frames: 1000, kernel_drops: 3 } },
      { worker: 'eth0/1', interface: 'eth0', received: 0, kernelDrops: 0, restarts: 2, loop: {} },
    ],
    rateIntervalMs: 2000,
    inputs: [{ interface: 'eth0', frames: 1500, kernelDrops: 3, malformed: { fragment: 2 }, unmatched: 1 }],
    outputInterfaces: [{ interface: 'eth1.100', qdisc: 'noqueue', qdiscDrops: 0, deviceDrops: 0, lower: ['eth1'], upper: [] },
      { interface: 'eth1', qdisc: 'fq_codel', qdiscDrops: 17, deviceDrops: 0, lower: [], upper: ['eth1.100'] },
      { interface: 'eth2', qdisc: 'noqueue', qdiscDrops: 0, deviceDrops: 40, lower: [], upper: [] }, { interface: 'eth3', qdisc: '', error: 'ENODEV', lower: [], upper: [] }],
  },
  workers: {
    workers: [
      { id: 'eth0/0', interface: 'eth0', core: 0, pid: 4242, state: 'running', restarts: 0, generation: 4, logLevel: 'info', startedAtMs: NOW - 3_723_000,
        loop: { ingress: 'ring', sliceUs: 100, rtPriority: 0, deferTaskrun: true, noIowait: true } },
      { id: 'eth0/1', interface: 'eth0', core: 1, pid: 0, state: 'restarting', restarts: 2, generation: 3, logLevel: 'debug', startedAtMs: NOW - 60_000 },
    ],
  },
  logs: { lines: [line('eth0/0', 'relay forwarding'), line('mcrd', 'rule added', 'warn')] },
  logLevelGet: { level: 'info', workers: [{ worker: 'eth0/0', level: 'info' }, { worker: 'eth0/1', level: 'debug' }] },
  logLevelSet: { level: 'debug', workers: 2 },
  reload: { file: '/etc/mcr/mcrd.json5', added: 1, removed: 2, changed: 3, unchanged: 4, changes: [], problems: [], daemonNotApplied: [] },
  save: { file: '/etc/mcr/mcrd.json5', rules: 2 },
  check: { file: '/tmp/x.json5', rules: 1 },
  ping: { pid: 321, uptimeMs: 125_000 },
  version: { version: '9.9.9', node: 'v20.0.0', protocol: 1 },
  clear: { ruleIds: [1, 12], inputs: ['eth0'] },
  events: { events: [
    { seq: 1, timeMs: NOW - 2000, kind: 'rule.added', fields: JSON.stringify({ rule: 1, match: 'eth0 239.1.1.1:5000', outputs: ['239.2.2.2:6000:eth1'], by: 'config' }) },
    { seq: 2, timeMs: NOW - 1000, kind: 'worker.exited', fields: JSON.stringify({ worker: 'eth0/0', interface: 'eth0', pid: 4242, code: null, signal: 'SIGKILL', reason: 'killed by SIGKILL', next: 'restart', restartInMs: 100 }) },
  ] },
};

interface Fake {
  path: string;
  server: ControlServer;
  /** Every request received, as [kind, fields]. */
  requests: Array<[string, unknown]>;
}

/** Starts a control server whose handler records requests; `overrides` replace single methods. */
async function fakeMcrd(t: Cleanup, overrides: Partial<ControlHandler> = {}): Promise<Fake> {
  const dir = await mkdtemp(join(tmpdir(), 'mcrctl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const requests: Array<[string, unknown]> = [];
  const answer = <K extends keyof ResultBodies>(kind: K) => async (request: unknown): Promise<ResultBodies[K]> => {
    requests.push([kind, request]);
    return CANNED[kind];
  };
  const base: ControlHandler = {
    addRule: answer('addRule'), removeRule: answer('removeRule'), listRules: answer('listRules'), stats: answer('stats'),
    workers: answer('workers'), logs: answer('logs'), logLevelGet: answer('logLevelGet'), logLevelSet: answer('logLevelSet'),
    reload: answer('reload'), save: answer('save'), check: answer('check'), ping: answer('ping'), version: answer('version'), clear: answer('clear'),
    events: answer('events'),
  };
  const recorded = Object.fromEntries(Object.entries(overrides).map(([kind, fn]) => [kind, async (request: unknown, context: unknown) => {
    requests.push([kind, request]);
    return (fn as (r: unknown, c: unknown) => Promise<unknown>)(request, context);
  }])) as Partial<ControlHandler>;
  const path = join(dir, 'mcrd.sock');
  const server = new ControlServer({ path, handler: { ...base, ...recorded } });
  await server.listen();
  t.teardown(() => server.close());
  return { path, server, requests };
}

interface Run {
  code: number;
  out: string;
  err: string;
}

interface RunOptions {
  signal?: AbortSignal;
  /** Called with stdout so far after every write. */
  onStdout?: (soFar: string) => void;
}

/** Runs mcrctl in-process with --socket pointing at `path`. */
async function mcrctl(path: string, args: string[], options: RunOptions = {}): Promise<Run> {
  let out = '';
  let err = '';
  const code = await runMcrctl(['--socket', path, ...args], {
    stdout: (s) => {
      out += s;
      options.onStdout?.(out);
    },
    stderr: (s) => (err += s),
    cwd: '/work/here',
    now: () => NOW,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { code, out, err };
}


/** Checks a failed run: the status, and exactly one stderr line matching `message`. */
function failed(t: Tap, r: Run, code: number, message: RegExp): void {
  t.equal(r.code, code, `exit ${code}`);
  t.equal(r.out, '', 'nothing on stdout');
  t.match(r.err, /^mcrctl: [A-Z_]+: [^\n]+\n$/, 'exactly one `mcrctl: CODE: message` line');
  t.match(r.err, message, `stderr says ${message.source}`);
}
/** The assertions failed() uses, whatever tap's full Test type is. */
interface Tap {
  equal(found: unknown, wanted: unknown, message: string): unknown;
  match(found: unknown, pattern: RegExp, message: string): unknown;
}

const ADD = ['add', '--input-interface', 'eth0', '--input-group', '239.1.1.1', '--input-port', '5000',
  '--outputs', '239.2.2.2:6000:eth1:8,10.0.0.9:7000:eth2'];

t.test('each subcommand sends its request', async (t) => {
  const fake = await fakeMcrd(t);
  const cases: Array<[string[], Array<[string, unknown]>]> = [
    [ADD, [['addRule', { rule: { inputInterface: 'eth0', inputGroup: '239.1.1.1', inputPort: 5000,
      outputs: [{ group: '239.2.2.2', port: 6000, interface: 'eth1', ttl: 8 }, { group: '10.0.0.9', port: 7000, interface: 'eth2' }] } }]]],
    [[...ADD, '--source', '10.1.1.1', '--name', 'feed-a'], [['addRule', { rule: { inputInterface: 'eth0', inputGroup: '239.1.1.1', inputPort: 5000,
      source: '10.1.1.1', name: 'feed-a',
      outputs: [{ group: '239.2.2.2', port: 6000, interface: 'eth1', ttl: 8 }, { group: '10.0.0.9', port: 7000, interface: 'eth2' }] } }]]],
    [['remove', '--id', '12'], [['removeRule', { id: 12 }]]],
    [['remove', '--name', 'feed-a'], [['removeRule', { name: 'feed-a' }]]],
    [['list'], [['listRules', { parts: true }]]],
    [['--json', 'stats'], [['stats', { parts: true }]]],
    [['workers'], [['workers', {}]]],
    [['logs'], [['logs', { follow: false }]]],
    [['logs', '--worker', 'eth0/1', '--level', 'warn', '--lines', '20'], [['logs', { worker: 'eth0/1', level: 'warn', lines: 20, follow: false }]]],
    [['log-level', 'get'], [['logLevelGet', {}]]],
    [['log-level', 'set', 'debug'], [['logLevelSet', { level: 'debug' }]]],
    [['log-level', 'set', 'warn', '--worker', 'eth0/0'], [['logLevelSet', { level: 'warn', worker: 'eth0/0' }]]],
    [['reload'], [['reload', {}]]],
    [['save'], [['save', {}]]],
    // Relative paths are made absolute against mcrctl's directory, not mcrd's.
    [['save', '--file', 'out.json5'], [['save', { file: '/work/here/out.json5' }]]],
    [['check', '--file', '/etc/mcr/new.json5'], [['check', { file: '/etc/mcr/new.json5' }]]],
    [['check', '--file', '../new.json5'], [['check', { file: '/work/new.json5' }]]],
    [['ping'], [['ping', {}]]],
    [['version'], [['version', {}]]],
    [['clear'], [['clear', {}]]],
    [['clear', '3'], [['clear', { id: 3 }]]],
    [['clear', '--name', 'feed-a'], [['clear', { name: 'feed-a' }]]],
  ];
  for (const [args, expected] of cases) {
    fake.requests.length = 0;
    const r = await mcrctl(fake.path, args);
    t.equal(r.code, 0, `${args.join(' ')}: exit 0 (${r.err.trim()})`);
    t.equal(r.err, '', `${args.join(' ')}: nothing on stderr`);
    // The decoder may fill absent proto fields with defaults; compare what was sent.
    t.has(fake.requests, expected, `${args.join(' ')} sends ${expected.map(([k]) => k).join(', ')}`);
    t.equal(fake.requests.length, expected.length, 'and nothing else');
  }
  // clear names its caller for mcrd's log.
  fake.requests.length = 0;
  t.equal((await mcrctl(fake.path, ['clear'])).code, 0);
  t.match(fake.requests[0]?.[1], { caller: new RegExp(`^mcrctl, user .+, pid ${process.pid}$`) }, 'clear says who asks');
  // Global options are accepted after the subcommand too.
  fake.requests.length = 0;
  t.equal((await mcrctl(fake.path, ['list', '--json'])).code, 0);
  t.same(fake.requests.map(([k]) => k), ['listRules']);
  // The stats table also lists the rules, to name their inputs and outputs.
  fake.requests.length = 0;
  t.equal((await mcrctl(fake.path, ['stats'])).code, 0);
  t.same(fake.requests.map(([k]) => k).sort(), ['listRules', 'stats']);
});

t.test('tables', async (t) => {
  const fake = await fakeMcrd(t);
  const out = async (...args: string[]): Promise<string> => {
    const r = await mcrctl(fake.path, args);
    t.equal(r.code, 0, `${args.join(' ')} exits 0`);
    return r.out;
  };
  t.equal(await out(...ADD), '7\n', 'add prints the new id alone');
  t.equal(await out('remove', '--id', '1'), 'removed rule 1 "feed-a" (eth0 239.1.1.1:5000)\n');
  t.equal(await out('clear'), 'counters cleared: 2 rules, 1 input interface\n');
  t.equal(await out('clear', '1'), 'counters of rule 1 cleared\ncounters of rule 12 cleared\n', 'one line per rule mcrd says it cleared');
  t.equal(await out('list'), [
    'ID  NAME    INTERFACE  GROUP      PORT  SOURCE    OUTPUTS                STATUS',
    ' 1  feed-a  eth0       239.1.1.1  5000  -         239.2.2.2:6000:eth1:8  ok',
    '                                                  10.0.0.9:7000:eth2',
    '12  -       eth0       239.1.1.2  5002  10.1.1.1  239.3.3.3:6002:eth1    ok',
    '',
  ].join('\n'));
  t.equal(await out('stats'), [
    'RULE  NAME    FLOW                      PACKETS    BYTES    PPS  ERRORS  ERRNO',
    '   1  feed-a  in eth0 239.1.1.1:5000       1000  1316000  100.0       2',
    '              -> 239.2.2.2:6000:eth1:8     1000  1316000  100.0       0',
    '              -> 10.0.0.9:7000:eth2         998  1313368   99.8       2  ENETUNREACH 1, ENODEV 1',
    '  12  -       in eth0 239.1.1.2:5002          0        0      -       0',
    '              -> 239.3.3.3:6002:eth1          0        0      -       0',
    'PPS over the last 2.0 s; - for rules added since',
    '',
    'INPUT  FRAMES  UNMATCHED  NOT-RELAYABLE  KERNEL-DROPS  WHY NOT RELAYABLE',
    'eth0     1500          1              2             3  fragment 2',
    '',
    'OUTPUT                    QDISC     QDISC-DROPS  DEVICE-DROPS',
    'eth1.100                  noqueue             0             0',
    'eth1 (lower of eth1.100)  fq_codel           17             0',
    'eth2                      noqueue             0            40',
    'eth3 (ENODEV)             -                   -             -',
    'OUTPUT drops: kernel totals of every sender on the interface; see docs/relay.md, "Drops after the send"',
    'OUTPUT errors: ENODEV: no such interface now (ip link); ETIMEDOUT, EAGAIN: the kernel was busy or the interfaces changing, run stats again',
    '',
    'WORKER  INTERFACE  RECEIVED  KERNEL-DROPS  RESTARTS',
    'eth0/0  eth0           1000             3         0',
    'eth0/1  eth0              0             0         2',
    '',
  ].join('\n'));
  t.equal(await out('workers'), [
    'WORKER  INTERFACE  CORE   PID  STATE       RESTARTS  GENERATION  LEVEL  UPTIME  LOOP',
    'eth0/0  eth0          0  4242  running            0           4  info    1h02m  slice 100us',
    'eth0/1  eth0          1     -  restarting         2           3  debug       -  -',
    '',
  ].join('\n'));
  t.equal(await out('logs'), [
    '2024-01-01T00:00:00.000Z eth0/0     INFO  relay forwarding',
    '2024-01-01T00:00:00.000Z mcrd       WARN  rule added',
    '',
  ].join('\n'));
  t.equal(await out('log-level', 'get'), 'PROCESS  LEVEL\nmcrd     info\neth0/0   info\neth0/1   debug\n');
  t.equal(await out('log-level', 'set', 'debug'), 'log level debug set on mcrd and 2 workers\n');
  t.equal(await out('log-level', 'set', 'debug', '--worker', 'eth0/1'), 'log level debug set on worker eth0/1\n');
  t.equal(await out('reload'), 'reloaded /etc/mcr/mcrd.json5: 1 added, 2 removed, 3 changed, 4 unchanged\n');
  t.equal(await out('save'), 'saved 2 rules to /etc/mcr/mcrd.json5\n');
  t.equal(await out('check', '--file', '/tmp/x.json5'), '/tmp/x.json5: valid, 1 rule\n');
  t.equal(await out('ping'), 'mcrd is running: pid 321, up 2m05s\n');
  const own = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const version = (await out('version')).split('\n');
  t.match(version[0], /^COMPONENT\s+VERSION\s+NODE\s+PROTOCOL$/);
  t.match(version[1], new RegExp(`^mcrctl\\s+${own.replace(/\./g, '\\.')}\\s+${process.version}\\s+1$`));
  t.match(version[2], /^mcrd\s+9\.9\.9\s+v20\.0\.0\s+1$/);
});

t.test('empty answers say so', async (t) => {
  const fake = await fakeMcrd(t, {
    listRules: async () => ({ rules: [], generation: 0, problems: [] }),
    stats: async () => ({ rules: [], workers: [], inputs: [], outputInterfaces: [] }),
    workers: async () => ({ workers: [] }),
    logs: async () => ({ lines: [] }),
  });
  t.match((await mcrctl(fake.path, ['list'])).out, /^no rules: add one with `mcrctl add`\n$/);
  t.equal((await mcrctl(fake.path, ['stats'])).out, 'no rules\n\nno workers\n');
  t.match((await mcrctl(fake.path, ['workers'])).out, /^no workers/);
  t.equal((await mcrctl(fake.path, ['logs'])).out, '', 'no log lines, no output');
});

t.test('stats without an earlier sample says why PPS is empty', async (t) => {
  const fake = await fakeMcrd(t, {
    stats: async () => ({ rules: [{ ruleId: 1, packets: 5, bytes: 500, errors: 0, outputs: [{ packets: 5, bytes: 500, errors: 0, errorsByErrno: {} }] }], workers: [],
      inputs: [{ interface: 'eth0', frames: 5, kernelDrops: 0, malformed: { fragment: 0, not_udp: 0 }, unmatched: 0 }], outputInterfaces: [] }),
  });
  const r = await mcrctl(fake.path, ['stats']);
  t.equal(r.code, 0);
  t.match(r.out, /\nINPUT  FRAMES  UNMATCHED  NOT-RELAYABLE  KERNEL-DROPS\neth0        5          0              0             0\n/,
    'the input row; no reasons column while every frame was relayable');
  t.match(r.out, /^RULE .*PPS  ERRORS\n +1  feed-a  in eth0 239\.1\.1\.1:5000 +5 +500 +- +0\n/, 'rate shown as -, not 0');
  t.match(r.out, /\nPPS: - until mcrd has an earlier sample at least 0\.5 s old: run stats again\n/);
  const doc = JSON.parse((await mcrctl(fake.path, ['--json', 'stats'])).out) as { rules: Array<Record<string, unknown>> };
  t.notOk('pps' in (doc.rules[0] ?? {}), '--json leaves pps out');
  t.notOk('rateIntervalMs' in doc, 'and the interval');
});

t.test('--json prints one document: the answer without its kind', async (t) => {
  const fake = await fakeMcrd(t);
  const doc = async (...args: string[]): Promise<unknown> => {
    const r = await mcrctl(fake.path, ['--json', ...args]);
    t.equal(r.code, 0, `${args.join(' ')} exits 0`);
    return JSON.parse(r.out);
  };
  t.same(await doc(...ADD), CANNED.addRule);
  t.same(await doc('remove', '--name', 'feed-a'), CANNED.removeRule);
  t.same(await doc('list'), CANNED.listRules);
  t.same(await doc('stats'), CANNED.stats);
  t.same(await doc('workers'), CANNED.workers);
  t.same(await doc('logs'), CANNED.logs);
  t.same(await doc('log-level', 'get'), CANNED.logLevelGet);
  t.same(await doc('log-level', 'set', 'debug'), CANNED.logLevelSet);
  t.same(await doc('reload'), CANNED.reload);
  t.same(await doc('save'), CANNED.save);
  t.same(await doc('check', '--file', '/tmp/x.json5'), CANNED.check);
  t.same(await doc('ping'), CANNED.ping);
  t.same(await doc('clear'), CANNED.clear);
  const version = await doc('version') as { mcrctl: { version: string; protocol: number }; mcrd: unknown };
  t.equal(version.mcrctl.protocol, 1);
  t.same(version.mcrd, CANNED.version);
});

t.test('add validation errors exit 2 with one line and never contact mcrd', async (t) => {
  const fake = await fakeMcrd(t);
  const base = { '--input-interface': 'eth0', '--input-group': '239.1.1.1', '--input-port': '5000', '--outputs': '239.2.2.2:6000:eth1' };
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ '--input-group': '239.1.1' }, /ERR_MCR_BAD_RULE: --input-group: expected an IPv4 or IPv6 address/],
    [{ '--input-port': '70000' }, /ERR_MCR_BAD_RULE: --input-port: expected an integer 1\.\.65535/],
    [{ '--input-port': 'http' }, /--input-port: expected an integer/],
    [{ '--source': 'somewhere' }, /--source: expected an IPv4 or IPv6 address/],
    [{ '--name': '' }, /--name: expected 1-64 printable characters/],
    [{ '--input-interface': 'an-interface-name-too-long' }, /--input-interface: expected an interface name/],
    [{ '--input-interface': 'eth0:1' }, /--input-interface: "eth0:1" is not an interface name: .*give the device name without the label, eth0/],
    [{ '--outputs': '239.2.2.2:6000' }, /--outputs item 1 "239\.2\.2\.2:6000": expected GROUP:PORT:INTERFACE\[:TTL\]/],
    [{ '--outputs': '239.2.2.2:6000:eth1:0' }, /--outputs item 1\.ttl: expected an integer 1\.\.255/],
    [{ '--outputs': '239.2.2.2:6000:eth1,bad:1:eth1' }, /--outputs item 2\.group/],
  ];
  for (const [change, message] of cases) {
    const args = ['add', ...Object.entries({ ...base, ...change }).flat()];
    failed(t, await mcrctl(fake.path, args), 2, message);
  }
  const missing = await mcrctl(fake.path, ['add', '--input-interface', 'eth0', '--input-group', '239.1.1.1', '--outputs', '239.2.2.2:1:eth1']);
  failed(t, missing, 2, /ERR_MCR_USAGE: required option '--input-port <port>' not specified \(see mcrctl --help\)/);
  t.same(fake.requests, [], 'mcrd received nothing');
  // Without any daemon the status is still 2, not "mcrd is not running".
  failed(t, await mcrctl(join(tmpdir(), 'mcrctl-no-such.sock'), ['add', ...Object.entries({ ...base, '--input-port': '0' }).flat()]), 2, /--input-port/);
});

t.test('remove needs exactly one of --id and --name', async (t) => {
  const fake = await fakeMcrd(t);
  failed(t, await mcrctl(fake.path, ['remove']), 2, /ERR_MCR_USAGE: remove needs exactly one of --id and --name/);
  failed(t, await mcrctl(fake.path, ['remove', '--id', '1', '--name', 'feed-a']), 2, /exactly one of --id and --name/);
  failed(t, await mcrctl(fake.path, ['remove', '--id', 'x']), 2, /--id <id>.*Expected an integer 1\.\.4294967295/);
  failed(t, await mcrctl(fake.path, ['clear', '3', '--name', 'feed-a']), 2, /ERR_MCR_USAGE: clear takes a rule id or --name, not both/);
  failed(t, await mcrctl(fake.path, ['clear', 'feed-a']), 2, /rule id "feed-a" is not an integer 1\.\.4294967295 \(a name goes with --name\)/);
  t.same(fake.requests, []);
});

t.test('other usage errors exit 2 with one line', async (t) => {
  const fake = await fakeMcrd(t);
  failed(t, await mcrctl(fake.path, []), 2, /mcrctl needs a command: one of add, remove, list, stats, clear, workers, logs, events, top, log-level, reload, save, check, ping, version/);
  failed(t, await mcrctl(fake.path, ['log-level']), 2, /mcrctl log-level needs a command: one of get, set/);
  failed(t, await mcrctl(fake.path, ['lst']), 2, /unknown command 'lst' \(Did you mean list\?\)/);
  failed(t, await mcrctl(fake.path, ['list', '--bogus']), 2, /unknown option '--bogus'/);
  failed(t, await mcrctl(fake.path, ['list', 'extra']), 2, /too many arguments/);
  failed(t, await mcrctl(fake.path, ['log-level', 'set', 'loud']), 2, /Allowed choices are trace, debug, info, warn, error, fatal, silent/);
  failed(t, await mcrctl(fake.path, ['logs', '--level', 'silent']), 2, /--level/);
  failed(t, await mcrctl(fake.path, ['logs', '--lines', '0']), 2, /--lines/);
  failed(t, await mcrctl(fake.path, ['check']), 2, /required option '--file <path>'/);
  failed(t, await mcrctl(fake.path, ['--timeout', '0', 'ping']), 2, /--timeout/);
  t.same(fake.requests, []);
  const help = await mcrctl(fake.path, ['--help']);
  t.equal(help.code, 0, '--help exits 0');
  t.match(help.out, /Usage: mcrctl \[options\] \[command\]/);
  t.equal(help.err, '');
});

t.test('an error from mcrd exits 1 with its code, message and a hint', async (t) => {
  const fake = await fakeMcrd(t, {
    addRule: async () => { throw new ControlError('EEXIST', 'rule 1 already matches 239.1.1.1:5000 on eth0: remove it first'); },
    removeRule: async () => { throw new ControlError('ENOENT', 'no rule named "x": see `mcrctl list`'); },
    logLevelSet: async () => { throw new ControlError('ENODEV', 'worker eth9/0 refused its rules: no interface eth9'); },
    reload: async () => { throw new ControlError('ERR_MCR_CONFIG', '/etc/mcr/mcrd.json5:3:5: rules[0].inputPort: expected an integer\nnothing changed'); },
  });
  failed(t, await mcrctl(fake.path, ADD), 1,
    /^mcrctl: EEXIST: rule 1 already matches 239\.1\.1\.1:5000 on eth0: remove it first; see the current rules with `mcrctl list`\n$/);
  failed(t, await mcrctl(fake.path, ['remove', '--name', 'x']), 1, /^mcrctl: ENOENT: no rule named "x": see `mcrctl list`\n$/);
  failed(t, await mcrctl(fake.path, ['log-level', 'set', 'info']), 1, /^mcrctl: ENODEV: .*no interface eth9; check the interface name with `ip link`/);
  // Multi-line messages are folded into the one line.
  failed(t, await mcrctl(fake.path, ['reload']), 1, /^mcrctl: ERR_MCR_CONFIG: \/etc\/mcr\/mcrd\.json5:3:5: .* nothing changed\n$/);
});

t.test('no daemon: exit 1 saying mcrd is not running', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mcrctl-none-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'mcrd.sock');
  for (const args of [['list'], ['ping'], ['stats'], ['logs', '--follow'], ['remove', '--id', '1']]) {
    failed(t, await mcrctl(path, args), 1, new RegExp(`^mcrctl: ENOENT: mcrd is not running \\(no socket at ${path}\\)`));
  }
  // version still reports mcrctl's own version, and succeeds.
  const version = await mcrctl(path, ['version']);
  t.equal(version.code, 0);
  t.match(version.out, /^mcrctl\s+\d+\.\d+\.\d+/m);
  t.match(version.out, /^mcrd did not answer \(ENOENT\): mcrd is not running/m);
  const json = JSON.parse((await mcrctl(path, ['--json', 'version'])).out) as { mcrd: unknown; mcrdError: { code: string } };
  t.equal(json.mcrd, null);
  t.equal(json.mcrdError.code, 'ENOENT');
});

t.test('a stale socket file (nobody listening): exit 1 saying so, with ECONNREFUSED', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mcrctl-stale-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'mcrd.sock');
  await makeStaleSocket(path);
  t.ok(lstatSync(path).isSocket(), 'the socket file is there');
  const stale = new RegExp(`^mcrctl: ECONNREFUSED: ${path} is a stale socket file: nobody is listening on it, so mcrd is not running; start it \\(\`systemctl start mcrd\` where the package is installed, else \`mcrd --config FILE\`; it replaces the file\\), or remove the file, or pass --socket\n$`);
  for (const args of [['list'], ['ping'], ['stats'], ['logs', '--follow'], ['remove', '--id', '1']]) {
    failed(t, await mcrctl(path, args), 1, stale);
  }
  t.match((await mcrctl(path, ['version'])).out, /^mcrd did not answer \(ECONNREFUSED\): .* is a stale socket file/m);
});

t.test('--timeout bounds a request mcrd never answers', async (t) => {
  const fake = await fakeMcrd(t, {
    // Answers only when the request is abandoned (client gone).
    ping: (_r, context) => new Promise((_, reject) => context.signal.addEventListener('abort', () => reject(context.signal.reason as Error))),
  });
  const started = Date.now();
  const r = await within(mcrctl(fake.path, ['--timeout', '200', 'ping']), 5000, 'mcrctl to time out');
  failed(t, r, 1, /^mcrctl: ETIMEDOUT: no answer from mcrd to ping within 0\.2 s: .*; raise --timeout if mcrd is only busy\n$/);
  t.ok(Date.now() - started < 4000, 'gave up about when told');
});

t.test("a timed-out change: mcrd's own ETIMEDOUT gets no --timeout hint, mcrctl's own does", async (t) => {
  const fake = await fakeMcrd(t, {
    // What mcrd's connection answers when a reload outlives its 10 s.
    reload: async () => { throw new ControlError('ETIMEDOUT', 'mcrd did not finish reload within 10 s (busy, or waiting for a worker): the change goes on in mcrd and may still take effect: see `mcrctl list` and `mcrctl events` before retrying'); },
    removeRule: (_r, context) => new Promise((_, reject) => context.signal.addEventListener('abort', () => reject(context.signal.reason as Error))),
  });
  failed(t, await mcrctl(fake.path, ['reload']), 1,
    /^mcrctl: ETIMEDOUT: mcrd did not finish reload within 10 s \(busy, or waiting for a worker\): the change goes on in mcrd and may still take effect: see `mcrctl list` and `mcrctl events` before retrying\n$/);
  failed(t, await within(mcrctl(fake.path, ['--timeout', '200', 'remove', '--id', '4']), 5000, 'mcrctl to time out'), 1,
    /^mcrctl: ETIMEDOUT: no answer from mcrd to removeRule within 0\.2 s: the change may or may not have been made: .*; raise --timeout if mcrd is only busy\n$/);
});

/** A log stream the test feeds batch by batch. */
function feed() {
  const queue: LogLine[][] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    push(lines: LogLine[]) { queue.push(lines); wake?.(); },
    end() { ended = true; wake?.(); },
    async *stream(signal: AbortSignal): AsyncGenerator<{ lines: LogLine[] }> {
      while (!signal.aborted) {
        const next = queue.shift();
        if (next) { yield { lines: next }; continue; }
        if (ended) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    },
  };
}

/** Resolves once stdout satisfies `test`. */
function outputWatcher() {
  let current = '';
  const waiters: Array<{ test: (s: string) => boolean; resolve: () => void }> = [];
  return {
    onStdout(soFar: string) {
      current = soFar;
      for (const w of waiters.splice(0)) if (w.test(current)) w.resolve(); else waiters.push(w);
    },
    until(test: (s: string) => boolean, what: string): Promise<void> {
      if (test(current)) return Promise.resolve();
      return within(new Promise<void>((resolve) => waiters.push({ test, resolve })), 5000, what);
    },
  };
}

t.test('logs --follow prints batches as they come and ends with status 0 when interrupted', async (t) => {
  const logs = feed();
  const fake = await fakeMcrd(t, { logs: async (_r, context) => logs.stream(context.signal) });
  const stop = new AbortController();
  const watch = outputWatcher();
  const run = mcrctl(fake.path, ['logs', '--follow', '--worker', 'eth0/0'], { signal: stop.signal, onStdout: watch.onStdout });
  logs.push([line('eth0/0', 'first')]);
  await watch.until((s) => s.includes('first'), 'the first line');
  logs.push([line('eth0/0', 'second'), line('eth0/0', 'third\nwith a newline')]);
  await watch.until((s) => s.includes('third'), 'the second batch');
  stop.abort();
  const r = await within(run, 5000, 'mcrctl to stop');
  t.equal(r.code, 0);
  t.equal(r.err, '');
  t.equal(r.out, [
    '2024-01-01T00:00:00.000Z eth0/0     INFO  first',
    '2024-01-01T00:00:00.000Z eth0/0     INFO  second',
    '2024-01-01T00:00:00.000Z eth0/0     INFO  third\\nwith a newline',
    '',
  ].join('\n'));
  t.has(fake.requests, [['logs', { worker: 'eth0/0', follow: true }]]);
});

t.test('logs --follow --json prints one object per line; the stream ending ends mcrctl', async (t) => {
  const logs = feed();
  const fake = await fakeMcrd(t, { logs: async (_r, context) => logs.stream(context.signal) });
  const watch = outputWatcher();
  const run = mcrctl(fake.path, ['--json', 'logs', '--follow'], { onStdout: watch.onStdout });
  logs.push([line('eth0/0', 'a'), line('eth0/1', 'b')]);
  await watch.until((s) => s.split('\n').length > 2, 'two lines');
  logs.push([line('mcrd', 'c', 'warn')]);
  logs.end();
  const r = await within(run, 5000, 'mcrctl to end with the stream');
  t.equal(r.code, 0);
  const objects = r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as LogLine);
  t.same(objects.map((o) => [o.worker, o.message, o.level]), [['eth0/0', 'a', 'info'], ['eth0/1', 'b', 'info'], ['mcrd', 'c', 'warn']]);
});

t.test('logs --follow: mcrd going away is an error', async (t) => {
  const logs = feed();
  const fake = await fakeMcrd(t, { logs: async (_r, context) => logs.stream(context.signal) });
  const watch = outputWatcher();
  const run = mcrctl(fake.path, ['logs', '--follow'], { onStdout: watch.onStdout });
  logs.push([line('eth0/0', 'before')]);
  await watch.until((s) => s.includes('before'), 'the first line');
  await fake.server.close();
  const r = await within(run, 5000, 'mcrctl to notice');
  t.equal(r.code, 1);
  t.match(r.err, /^mcrctl: ERR_MCR_DISCONNECTED: [^\n]+\n$/);
});

t.test('events: one readable line per event, or {events} with --json; --last and --follow go to mcrd', async (t) => {
  const fake = await fakeMcrd(t);
  const text = await mcrctl(fake.path, ['events', '--last', '2']);
  t.equal(text.code, 0, text.err);
  t.equal(text.out, [
    '2023-12-31T23:59:58.000Z  rule.added                 rule=1 match="eth0 239.1.1.1:5000" outputs=239.2.2.2:6000:eth1 by=config',
    '2023-12-31T23:59:59.000Z  worker.exited              worker=eth0/0 interface=eth0 pid=4242 code=- signal=SIGKILL reason="killed by SIGKILL" next=restart restartInMs=100',
    '',
  ].join('\n'));
  const json = JSON.parse((await mcrctl(fake.path, ['--json', 'events'])).out) as { events: Array<{ seq: number; time: string; kind: string; fields: Record<string, unknown> }> };
  t.same(json.events[1], { seq: 2, timeMs: NOW - 1000, time: '2023-12-31T23:59:59.000Z', kind: 'worker.exited',
    fields: { worker: 'eth0/0', interface: 'eth0', pid: 4242, code: null, signal: 'SIGKILL', reason: 'killed by SIGKILL', next: 'restart', restartInMs: 100 } });
  t.has(fake.requests, [['events', { last: 2, follow: false }], ['events', { last: 0, follow: false }]]);
  failed(t, await mcrctl(fake.path, ['events', '--last', '0']), 2, /--last/);
});

t.test('events --follow --json: NDJSON as events come; a drop notice from mcrd ends it with status 1', async (t) => {
  const fake = await fakeMcrd(t, {
    events: async () => (async function* () {
      yield { events: [{ seq: 5, timeMs: NOW, kind: 'reload.refused', fields: JSON.stringify({ file: '/etc/mcr.json5', code: 'ERR_MCR_CONFIG', message: 'line 3: bad' }) }] };
      yield { events: [{ seq: 6, timeMs: NOW, kind: 'rule.changed', fields: JSON.stringify({ rule: 9, previous: 4, match: 'eth0 239.1.1.1:5000', fields: [{ field: 'outputs[0].ttl', before: '', after: '8' }], by: 'reload' }) }] };
      throw Object.assign(new Error('mcrd dropped this events stream because it read nothing for 5.0 s: 3 events (seq 7..9) were not sent'), { code: 'ERR_MCR_SLOW_FOLLOWER' });
    })(),
  });
  const r = await mcrctl(fake.path, ['--json', 'events', '--follow']);
  t.equal(r.code, 1);
  t.same(r.out.trimEnd().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq), [5, 6], 'one object per line');
  t.match(r.err, /^mcrctl: ERR_MCR_SLOW_FOLLOWER: .*3 events \(seq 7\.\.9\) were not sent; read the stream as it comes/);
  t.has(fake.requests, [['events', { follow: true, last: 10 }]], 'a follow starts with the last 10');
  const readable = await mcrctl(fake.path, ['events', '--follow']);
  t.match(readable.out, /rule\.changed +rule=9 previous=4 match="eth0 239\.1\.1\.1:5000" changes="outputs\[0\]\.ttl \(unset\)->8" by=reload/);
});
