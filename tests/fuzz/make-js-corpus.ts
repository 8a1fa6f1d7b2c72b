/**
 * Writes the seed corpora of the JavaScript harnesses (tests/fuzz/js) into
 * tests/fuzz/corpus/<harness>/, one small file per seed, named for what it
 * is; the sibling of make-corpus.ts (the native seeds). The seeds are
 * committed; run this again after changing them:
 *   npx tsc -p tests/fuzz/tsconfig.json && node dist/tests/fuzz/make-js-corpus.js
 * It rewrites every seed it knows and leaves other files alone (crash-*
 * reproducers stay).
 *
 * Seeds are valid messages of every kind, a few broken ones, the config
 * examples of docs/ (every ```json5 block of docs/config.md and the .json5
 * files) and typical `mcrctl add` command lines. The harnesses read their
 * input through a FuzzedDataProvider (choices from the end, strings from
 * the front): Provided below writes bytes that read back as the given
 * choices.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFrame } from '../../proto/framing.js';
import { encodeRequest, encodeResponse } from '../../proto/control.js';
import { encodeCommand, encodeReply } from '../../proto/worker.js';
import type { RequestDraft } from '../../proto/types.js';
import { packageRoot } from './paths.js';

const root = packageRoot();
const corpusDir = join(root, 'tests', 'fuzz', 'corpus');
let total = 0;
let files = 0;
function seed(harness: string, name: string, bytes: Uint8Array): void {
  const dir = join(corpusDir, harness);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), bytes);
  total += bytes.length;
  files++;
}

/** Bytes a FuzzedDataProvider (tests/fuzz/js/engine/data-provider.ts) reads back as these choices and strings. */
class Provided {
  private readonly front: number[] = [];
  private readonly back: number[] = [];

  /** A choice of consumeIntInRange(0, max) for max < 256, or consumeBoolean / pick. */
  choice(value: number): this {
    this.back.push(value & 0xff);
    return this;
  }

  bool(value: boolean): this {
    return this.choice(value ? 1 : 0);
  }

  /** consumeIntInRange(0, 0xffff): two bytes, most significant read first. */
  u16(value: number): this {
    this.back.push((value >> 8) & 0xff, value & 0xff);
    return this;
  }

  /** consumeTerminatedString: the text and a NUL. */
  text(value: string): this {
    this.front.push(...Buffer.from(value, 'utf8'), 0);
    return this;
  }

  /** consumeRemainingBytes: what is left at the front. */
  bytes(value: Uint8Array): this {
    this.front.push(...value);
    return this;
  }

  build(): Buffer {
    // Choices are read from the last byte backwards.
    return Buffer.from([...this.front, ...[...this.back].reverse()]);
  }
}

// ---- control_codec: a stream of frames, then the frame limit and the cuts ---

const LIMIT_INDEX_1MIB = 10; // LIMITS in control_codec.ts
const rule = {
  name: 'cam-1',
  inputInterface: 'eth1',
  inputGroup: '239.1.1.1',
  inputPort: 5000,
  source: '10.0.0.5',
  outputs: [
    { group: '239.10.1.1', port: 5000, interface: 'eth2', ttl: 8, source: '10.2.0.1' },
    { group: '239.20.1.1', port: 6000, interface: 'eth3' },
  ],
};
const requests: Array<[string, RequestDraft]> = [
  ['add-rule', { kind: 'addRule', rule }],
  ['remove-rule-id', { kind: 'removeRule', id: 7 }],
  ['remove-rule-name', { kind: 'removeRule', name: 'cam-1' }],
  ['list-rules', { kind: 'listRules' }],
  ['stats', { kind: 'stats' }],
  ['workers', { kind: 'workers' }],
  ['logs-follow', { kind: 'logs', worker: 'eth1/0', level: 'warn', lines: 100, follow: true }],
  ['log-level-get', { kind: 'logLevelGet' }],
  ['log-level-set', { kind: 'logLevelSet', level: 'debug', worker: 'eth1/1' }],
  ['reload', { kind: 'reload' }],
  ['save', { kind: 'save', file: '/etc/mcr/mcrd.json5' }],
  ['check', { kind: 'check', file: '/etc/mcr/mcrd.json5' }],
  ['ping', { kind: 'ping' }],
  ['version', { kind: 'version' }],
  ['clear-name', { kind: 'clear', name: 'cam-1', caller: 'mcrctl, user root, pid 4321' }],
];
const application = { ruleId: 3, applied: ['eth1/0'], refused: [{ worker: 'eth1/1', error: { code: 'ENODEV', message: 'no eth3' } }], unconfirmed: ['eth1/2'], pending: [] };
const responses: Array<[string, Parameters<typeof encodeResponse>[0]]> = [
  ['error', { id: 1, more: false, body: { kind: 'error', code: 'ERR_MCR_BAD_RULE', message: 'rule.inputPort: expected an integer 1..65535' } }],
  ['add-rule', { id: 2, more: false, body: { kind: 'addRule', rule: { ...rule, id: 3 }, application, warnings: ['takes 10.0.0.5 from rule 1'] } }],
  ['list-rules', { id: 3, more: false, body: { kind: 'listRules', rules: [{ ...rule, id: 3 }], generation: 12, problems: [application] } }],
  [
    'stats',
    {
      id: 4,
      more: false,
      body: {
        kind: 'stats',
        rules: [{ ruleId: 3, packets: 1000, bytes: 1316000, pps: 99.5, errors: 1, outputs: [{ packets: 1000, bytes: 1316000, pps: 99.5, errors: 1, errorsByErrno: { ENOBUFS: 1 } }] }],
        workers: [{ worker: 'eth1/0', interface: 'eth1', received: 1000, kernelDrops: 0, restarts: 1, loop: { 'drop.no_rule': 5, batches: 40 } }],
        rateIntervalMs: 1000,
        inputs: [{ interface: 'eth1', frames: 1000, kernelDrops: 0, malformed: { fragment: 1 }, unmatched: 5 }],
        outputInterfaces: [{ interface: 'eth2', qdisc: 'fq_codel', qdiscDrops: 12, deviceDrops: 0, lower: [], upper: [] }, { interface: 'eth3', qdisc: '', error: 'ENODEV', lower: [], upper: [] }],
      },
    },
  ],
  ['workers', { id: 5, more: false, body: { kind: 'workers', workers: [{ id: 'eth1/0', interface: 'eth1', core: 0, pid: 1234, state: 'running', restarts: 0, generation: 12, logLevel: 'info', startedAtMs: 1700000000000, reason: 'no rules' }] } }],
  ['logs-more', { id: 6, more: true, body: { kind: 'logs', lines: [{ worker: 'mcrd', timeMs: 1700000000000, level: 'info', message: 'started', json: '{"msg":"started"}' }] } }],
  ['reload', { id: 7, more: false, body: { kind: 'reload', file: '/etc/mcr/mcrd.json5', added: 1, removed: 1, changed: 1, unchanged: 2, changes: [{ kind: 'changed', ruleId: 9, previousId: 3, match: 'eth1 239.1.1.1:5000', name: 'cam-1', fields: [{ field: 'outputs[1].port', before: '6000', after: '6001' }] }], problems: [], daemonNotApplied: ['workers 1 -> 2'] } }],
  ['ping', { id: 8, more: false, body: { kind: 'ping', pid: 4321, uptimeMs: 5000 } }],
  ['version', { id: 9, more: false, body: { kind: 'version', version: '0.1.0', node: 'v20.20.2', protocol: 1 } }],
  ['log-level-get', { id: 10, more: false, body: { kind: 'logLevelGet', level: 'info', workers: [{ worker: 'eth1/0', level: 'debug' }] } }],
  ['clear', { id: 11, more: false, body: { kind: 'clear', ruleIds: [3, 9], inputs: ['eth1'] } }],
];

const stream = (frames: Uint8Array[], cuts: number[] = []): Buffer => {
  const p = new Provided().bytes(Buffer.concat(frames.map((f) => encodeFrame(f)))).choice(LIMIT_INDEX_1MIB).choice(cuts.length);
  for (const c of cuts) p.u16(c);
  return p.build();
};
requests.forEach(([name, body], i) => seed('control_codec', `request-${name}`, stream([encodeRequest({ id: i + 1, body })])));
for (const [name, response] of responses) seed('control_codec', `response-${name}`, stream([encodeResponse(response)]));
seed('control_codec', 'pipelined-requests-cut', stream(requests.slice(0, 5).map(([, body], i) => encodeRequest({ id: 100 + i, body })), [1, 9, 30]));
seed('control_codec', 'unknown-kind-field-99', stream([Buffer.from([0x08, 0x2a, 0x9a, 0x06, 0x00])]));
seed('control_codec', 'empty-frame', stream([Buffer.alloc(0)]));
seed('control_codec', 'bad-oversize-prefix', new Provided().bytes(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2])).choice(LIMIT_INDEX_1MIB).choice(0).build());
seed('control_codec', 'bad-six-byte-varint', new Provided().bytes(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x00])).choice(LIMIT_INDEX_1MIB).choice(0).build());
seed('control_codec', 'bad-invalid-wire-type', stream([Buffer.from([0x08, 0x01, 0x0f])]));
seed('control_codec', 'partial-frame', new Provided().bytes(encodeFrame(encodeRequest({ id: 1, body: { kind: 'ping' } })).subarray(0, 3)).choice(LIMIT_INDEX_1MIB).choice(0).build());

// ---- worker_codec: one frame body ----------------------------------------------

const hash = Buffer.from('0123456789abcdef0123456789abcdef');
seed('worker_codec', 'command-sync-rules', encodeCommand({ seq: 1, body: { kind: 'syncRules', generation: 4, hash, rules: [{ ...rule, id: 3 }, { id: 4, inputInterface: 'eth1', inputGroup: '239.1.1.2', inputPort: 5001, outputs: [{ group: '10.9.9.9', port: 9, interface: 'eth2' }] }] } }));
seed('worker_codec', 'command-add-rule', encodeCommand({ seq: 2, body: { kind: 'addRule', generation: 5, hash, rule: { ...rule, id: 5 } } }));
seed('worker_codec', 'command-remove-rule', encodeCommand({ seq: 3, body: { kind: 'removeRule', generation: 6, hash, id: 5 } }));
seed('worker_codec', 'command-set-log-level', encodeCommand({ seq: 4, body: { kind: 'setLogLevel', level: 'debug' } }));
seed('worker_codec', 'command-stop', encodeCommand({ seq: 5, body: { kind: 'stop' } }));
seed('worker_codec', 'command-ping-stats', encodeCommand({ seq: 6, body: { kind: 'ping', stats: true } }));
seed('worker_codec', 'command-seq-2p40', encodeCommand({ seq: 2 ** 40, body: { kind: 'ping' } }));
seed('worker_codec', 'reply-plain', encodeReply({ seq: 1, generation: 4, hash, refused: [] }));
seed('worker_codec', 'reply-error-refused', encodeReply({ seq: 2, generation: 4, hash, error: { code: 'EINVAL', message: 'bad rule' }, refused: [{ ruleId: 3, error: { code: 'ENODEV', message: 'no eth3' } }] }));
seed(
  'worker_codec',
  'reply-stats',
  encodeReply({
    seq: 6,
    generation: 4,
    hash,
    refused: [],
    stats: { received: 100, kernelDrops: 2, malformed: 1, unmatched: 3, rules: [{ ruleId: 3, packets: 90, bytes: 118440, errors: 0, outputs: [{ packets: 90, bytes: 118440, errors: 0, errorsByErrno: {} }] }], loop: { batches: 10, 'drop.short': 1 } },
  }),
);
seed('worker_codec', 'unknown-command-kind', Buffer.from([0x08, 0x07, 0xa2, 0x06, 0x00]));

// ---- config_loader: config texts -------------------------------------------------

const configMd = readFileSync(join(root, 'docs', 'config.md'), 'utf8');
[...configMd.matchAll(/```json5\n([\s\S]*?)```/g)].forEach((m, i) => seed('config_loader', `docs-config-md-${i + 1}.json5`, Buffer.from(m[1] ?? '')));
for (const name of readdirSync(join(root, 'docs')).filter((n) => n.endsWith('.json5'))) {
  seed('config_loader', `docs-${name}`, readFileSync(join(root, 'docs', name)));
}
const configs: Array<[string, string]> = [
  ['empty', ''],
  ['comments-only', '// nothing here\n/* still nothing */\n'],
  ['empty-object', '{}'],
  ['no-rules', '{ rules: [] }'],
  ['daemon-all', '{ daemon: { controlSocket: "/run/mcr/mcrd.sock", workers: 2, user: "nobody", logLevel: "debug", logDir: "/var/log/mcr", restartBackoffMinMs: 100, restartBackoffMaxMs: 30000, coalesceUs: 50, busyPollUs: 20, consumeInputs: true, maxRulesPerInterface: 2 } }'],
  ['json-strict', '{"rules":[{"inputInterface":"eth1","inputGroup":"239.1.1.1","inputPort":5000,"outputs":[{"group":"239.2.2.2","port":6000,"interface":"eth2","ttl":4}]}]}'],
  ['json5-syntax', "{rules:[{name:'a\\x41\\u0042',inputInterface:'eth1',inputGroup:'239.1.1.1',inputPort:0x1388,outputs:[{group:'239.2.2.2',port:+6000,interface:'eth2',},],},],}"],
  ['two-rules-one-interface', '{ rules: [ { inputInterface: "eth1", inputGroup: "239.1.1.1", inputPort: 1, outputs: [ { group: "239.2.2.2", port: 2, interface: "eth2" } ] }, { inputInterface: "eth1", inputGroup: "239.1.1.1", inputPort: 1, source: "10.0.0.1", outputs: [ { group: "10.3.3.3", port: 3, interface: "eth3" } ] } ] }'],
  ['bad-duplicate-key', '{ rules: [], rules: [] }'],
  ['bad-unknown-field', '{ daemon: { worker: 2 } }'],
  ['bad-unterminated-string', '{ rules: [ { name: "cam'],
  ['bad-deep-nesting', `${'['.repeat(70)}${']'.repeat(70)}`],
];
for (const [name, text] of configs) seed('config_loader', `${name}.json5`, Buffer.from(text));

// ---- mcrctl_add: command lines and flag sets ---------------------------------

const FLAGS = ['--input-interface', '--input-group', '--input-port', '--source', '--outputs', '--name', '--json', '--timeout', '--help', '-h', '--', '--bogus'];
const GOOD = ['eth1', 'eth0.100', '239.1.1.1', '10.0.0.5', '5000', '65535', '239.2.2.2:6000:eth2', '239.2.2.2:6000:eth2:8,10.1.1.1:7000:eth3', 'cam-1', '1'];

/** Writes `value(p)`: one of GOOD when it is one, else a free string. */
function value(p: Provided, v: string): void {
  const good = GOOD.indexOf(v);
  if (good >= 0) p.bool(true).choice(good);
  else p.bool(false).text(v);
}

/** An argument vector as the harness's argv() reads it: flags as flags, `--flag=value`, and values. */
function commandLine(args: string[]): Buffer {
  const p = new Provided().bool(true).choice(args.length);
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (FLAGS.includes(arg)) p.choice(0).choice(FLAGS.indexOf(arg));
    else if (eq > 0 && FLAGS.includes(arg.slice(0, eq))) {
      p.choice(1).choice(FLAGS.indexOf(arg.slice(0, eq)));
      value(p, arg.slice(eq + 1));
    } else {
      p.choice(2);
      value(p, arg);
    }
  }
  return p.build();
}

const typical = ['--input-interface', 'eth1', '--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:eth2:8,10.1.1.1:7000:eth3'];
const lines: Array<[string, string[]]> = [
  ['typical', typical],
  ['with-source-name-json', [...typical, '--source', '10.0.0.5', '--name', 'cam-1', '--json']],
  ['equals-forms', ['--input-interface=eth0.100', '--input-group=239.1.1.1', '--input-port=65535', '--outputs=239.2.2.2:6000:eth2']],
  ['help', ['--help']],
  ['missing-outputs', typical.slice(0, 6)],
  ['bad-port', ['--input-interface', 'eth1', '--input-group', '239.1.1.1', '--input-port', '70000', '--outputs', '239.2.2.2:6000:eth2']],
  ['bad-output-ttl', ['--input-interface', 'eth1', '--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:eth2:0']],
  ['bad-unknown-option', [...typical, '--bogus']],
  ['bad-extra-argument', [...typical, 'extra']],
  ['timeout', [...typical, '--timeout', '1']],
];
for (const [name, args] of lines) seed('mcrctl_add', `argv-${name}`, commandLine(args));

function flagSet(f: { inputInterface: string; inputGroup: string; inputPort: string; outputs: string; source?: string; name?: string }): Buffer {
  const p = new Provided().bool(false);
  for (const v of [f.inputInterface, f.inputGroup, f.inputPort, f.outputs]) value(p, v);
  for (const v of [f.source, f.name]) {
    p.bool(v !== undefined);
    if (v !== undefined) value(p, v);
  }
  return p.build();
}
seed('mcrctl_add', 'flags-typical', flagSet({ inputInterface: 'eth1', inputGroup: '239.1.1.1', inputPort: '5000', outputs: '239.2.2.2:6000:eth2:8,10.1.1.1:7000:eth3' }));
seed('mcrctl_add', 'flags-source-name', flagSet({ inputInterface: 'eth0.100', inputGroup: '10.0.0.5', inputPort: '1', outputs: '239.2.2.2:6000:eth2', source: '10.0.0.5', name: 'cam-1' }));
seed('mcrctl_add', 'flags-bad-interface', flagSet({ inputInterface: 'a-very-long-interface-name', inputGroup: '239.1.1.1', inputPort: '5000', outputs: '239.2.2.2:6000:eth2' }));
seed('mcrctl_add', 'flags-bad-output-item', flagSet({ inputInterface: 'eth1', inputGroup: '239.1.1.1', inputPort: '5000', outputs: '239.2.2.2:6000' }));
seed('mcrctl_add', 'flags-loopback-output', flagSet({ inputInterface: 'eth1', inputGroup: '239.1.1.1', inputPort: '5000', outputs: '127.0.0.1:6000:lo' }));

console.log(`${files} seeds written under ${corpusDir} (${total} bytes)`);
