/**
 * The control and worker codecs: every request, response, command and reply
 * kind survives encode -> decode unchanged; the hand-written kind lists
 * match the .proto oneofs; decoding fills proto3 defaults and keeps
 * `optional` fields absent; unknown kinds, undecodable bytes and
 * ill-shaped messages fail with their codes.
 */
import t from 'tap';
import type { Rule, RuleStats } from '../../proto/types.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../proto/control.js';
import { REQUEST_KINDS, type Request, type RequestKind, type Response } from '../../proto/types.js';
import { protoRoot } from '../../proto/schema.js';
import { decodeCommand, decodeReply, encodeCommand, encodeReply } from '../../proto/worker.js';
import { COMMAND_KINDS, type Command, type CommandKind, type Reply } from '../../proto/types.js';

const fullRule: Rule = {
  id: 7,
  name: 'feed-a',
  inputInterface: 'eth0',
  inputGroup: '239.1.1.1',
  inputPort: 5000,
  source: '10.0.0.1',
  outputs: [
    { group: '239.2.2.2', port: 6000, interface: 'eth1', ttl: 4, source: '10.1.0.1' },
    { group: '10.9.9.9', port: 7000, interface: 'eth2' },
  ],
};
const bareRule: Rule = { id: 8, inputInterface: 'eth0', inputGroup: '239.1.1.2', inputPort: 5001, outputs: [] };
const ruleStats: RuleStats = {
  ruleId: 7, packets: 2 ** 40, bytes: 2 ** 52, pps: 1234.5, errors: 3,
  outputs: [{ packets: 10, bytes: 14000, pps: 0.5, errors: 1, errorsByErrno: { ENODEV: 1 } }, { packets: 0, bytes: 0, pps: 0, errors: 0, errorsByErrno: {} }],
};

/** One fully populated request body per kind; the record type forces every kind to be present. */
const requests: { [K in RequestKind]: Request['body'] & { kind: K } } = {
  addRule: { kind: 'addRule', rule: { ...fullRule, id: 0 } },
  removeRule: { kind: 'removeRule', name: 'feed-a' },
  listRules: { kind: 'listRules' },
  stats: { kind: 'stats' },
  workers: { kind: 'workers' },
  logs: { kind: 'logs', worker: 'eth0/1', level: 'warn', lines: 50, follow: true },
  logLevelGet: { kind: 'logLevelGet' },
  logLevelSet: { kind: 'logLevelSet', level: 'debug', worker: 'eth0/0' },
  reload: { kind: 'reload' },
  save: { kind: 'save', file: '/etc/mcr/mcrd.json5' },
  check: { kind: 'check', file: '/tmp/x.json5' },
  ping: { kind: 'ping' },
  version: { kind: 'version' },
  clear: { kind: 'clear', name: 'cam', caller: 'mcrctl, user root, pid 1' },
  events: { kind: 'events', last: 20, follow: true },
};

const results: { [K in RequestKind]: Response['body'] & { kind: K } } = {
  addRule: { kind: 'addRule', rule: fullRule, warnings: ['datagrams from 10.0.0.1 now go to this rule only'],
    application: { ruleId: 3, applied: ['eth0/0'], refused: [{ worker: 'eth0/1', error: { code: 'EACCES', message: 'connect' } }], unconfirmed: ['eth0/2'], pending: ['eth0/3'] } },
  removeRule: { kind: 'removeRule', rule: bareRule },
  listRules: { kind: 'listRules', rules: [fullRule, bareRule], generation: 12,
    problems: [{ ruleId: 3, applied: [], refused: [], unconfirmed: ['eth0/0'], pending: [] }] },
  stats: {
    kind: 'stats',
    rules: [ruleStats],
    workers: [{ worker: 'eth0/0', interface: 'eth0', received: 99, kernelDrops: 2, restarts: 1, loop: { frames: 99, kernel_drops: 2, gso_batches: 7 } }],
    inputs: [{ interface: 'eth0', frames: 2 ** 40, kernelDrops: 2, malformed: { fragment: 3, not_udp: 0 }, unmatched: 5 }],
    outputInterfaces: [{ interface: 'eth1', qdisc: 'mq', qdiscDrops: 2 ** 32 - 1, deviceDrops: 7, lower: [], upper: [] }, { interface: 'eth2', qdisc: '', error: 'EAGAIN', lower: [], upper: [] }],
  },
  workers: {
    kind: 'workers',
    workers: [{ id: 'eth0/0', interface: 'eth0', core: 0, pid: 4242, state: 'running', restarts: 3, generation: 12, logLevel: 'info', startedAtMs: 1_700_000_000_000 }],
  },
  logs: { kind: 'logs', lines: [{ worker: 'eth0/0', timeMs: 1_700_000_000_123, level: 'warn', message: 'send failed', json: '{"level":40}' }] },
  logLevelGet: { kind: 'logLevelGet', level: 'info', workers: [{ worker: 'eth0/0', level: 'debug' }] },
  logLevelSet: { kind: 'logLevelSet', level: 'debug', workers: 4 },
  reload: { kind: 'reload', file: '/etc/mcr/mcrd.json5', added: 1, removed: 2, changed: 3, unchanged: 4, problems: [], daemonNotApplied: ['coalesceUs 0 -> 1000'],
    changes: [{ kind: 'changed', ruleId: 9, previousId: 4, match: 'eth0 239.1.1.1:5000', name: 'cam', fields: [{ field: 'outputs[0].ttl', before: '', after: '8' }] },
      { kind: 'removed', ruleId: 2, previousId: 0, match: 'eth0 239.1.1.2:5000', fields: [] }] },
  save: { kind: 'save', file: '/etc/mcr/mcrd.json5', rules: 2 },
  check: { kind: 'check', file: '/tmp/x.json5', rules: 5 },
  ping: { kind: 'ping', pid: 1234, uptimeMs: 5000 },
  version: { kind: 'version', version: '0.1.0', node: 'v20.20.2', protocol: 1 },
  clear: { kind: 'clear', ruleIds: [3, 9], inputs: ['eth0'] },
  events: { kind: 'events', events: [{ seq: 7, timeMs: 1_700_000_000_456, kind: 'rule.added', fields: '{"rule":3,"match":"eth0 239.1.1.1:5000"}' }] },
};

const hash = Buffer.from('0123456789abcdef0123456789abcdef');
const commands: { [K in CommandKind]: Command['body'] & { kind: K } } = {
  syncRules: { kind: 'syncRules', generation: 5, hash, rules: [fullRule, bareRule] },
  addRule: { kind: 'addRule', generation: 6, hash, rule: fullRule },
  removeRule: { kind: 'removeRule', generation: 7, hash, id: 8 },
  setLogLevel: { kind: 'setLogLevel', level: 'trace' },
  stop: { kind: 'stop' },
  ping: { kind: 'ping', stats: true },
};

t.test('the schema is the one generated from the .proto files beside the codec', async (t) => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { packageRoot } = await import('../../native/package-root.js');
  const text = readFileSync(join(packageRoot(), 'proto', 'control.proto'), 'utf8');
  // Every field of a message in the .proto source is known to the runtime schema.
  const request = protoRoot().lookupType('mcr.control.AddRuleResult');
  for (const name of ['rule', 'application', 'warnings']) t.ok(request.fields[name], `AddRuleResult.${name}`);
  t.match(text, /message AddRuleResult/);
});

t.test('kind lists match the .proto oneofs', async (t) => {
  const root = protoRoot();
  const oneof = (type: string): string[] => root.lookupType(type).oneofs?.body?.oneof ?? [];
  t.same(oneof('mcr.control.Request'), REQUEST_KINDS);
  t.same(oneof('mcr.control.Response'), ['error', ...REQUEST_KINDS]);
  t.same(oneof('mcr.worker.Command'), COMMAND_KINDS);
  t.same(Object.keys(requests), REQUEST_KINDS);
  t.same(Object.keys(commands), COMMAND_KINDS);
});

t.test('every request kind round-trips', async (t) => {
  for (const [i, body] of Object.values(requests).entries()) {
    const request: Request = { id: i + 1, body };
    t.strictSame(decodeRequest(encodeRequest(request)), request, body.kind);
  }
  const byId: Request = { id: 0xffffffff, body: { kind: 'removeRule', id: 0 } };
  t.strictSame(decodeRequest(encodeRequest(byId)), byId, 'remove by id 0 keeps the id member set');
});

t.test('every response kind round-trips, with errors and the more flag', async (t) => {
  for (const [i, body] of Object.values(results).entries()) {
    const response: Response = { id: i + 1, more: false, body };
    t.strictSame(decodeResponse(encodeResponse(response)), response, body.kind);
  }
  const error: Response = { id: 3, more: false, body: { kind: 'error', code: 'ERR_MCR_BAD_RULE', message: 'outputs[0].port: expected 1..65535' } };
  t.strictSame(decodeResponse(encodeResponse(error)), error);
  const streaming: Response = { id: 4, more: true, body: { kind: 'logs', lines: [] } };
  t.strictSame(decodeResponse(encodeResponse(streaming)), streaming);
});

t.test('every command kind and both reply shapes round-trip', async (t) => {
  for (const [i, body] of Object.values(commands).entries()) {
    const command: Command = { seq: 2 ** 40 + i, body };
    t.strictSame(decodeCommand(encodeCommand(command)), command, body.kind);
  }
  const plain: Reply = { seq: 1, generation: 5, hash, refused: [] };
  t.strictSame(decodeReply(encodeReply(plain)), plain);
  const full: Reply = {
    seq: 2, generation: 6, hash, refused: [{ ruleId: 7, error: { code: 'EACCES', message: 'connect 255.255.255.255' } }],
    error: { code: 'EADDRNOTAVAIL', message: 'no address on eth1' },
    stats: { received: 1000, kernelDrops: 1, malformed: 2, unmatched: 3, rules: [ruleStats], loop: { frames: 1000, sent: 990, send_errors: 10 } },
    arrivals: { ruleIds: [7, 8], lastRxMs: [1_700_000_000_000, 0], lastRxMonoMs: [86_400_123, 0] },
    loop: { ingress: 'ring', sliceUs: 0, sliceRefused: 'EPERM', rtPriority: 0, deferTaskrun: true, noIowait: false },
  };
  t.strictSame(decodeReply(encodeReply(full)), full);
});

t.test('decoding fills proto3 defaults and leaves optional fields out', async (t) => {
  const sparse = decodeRequest(encodeRequest({ id: 1, body: { kind: 'logs' } }));
  t.strictSame(sparse.body, { kind: 'logs', level: '', lines: 0, follow: false }, 'worker is optional: absent');
  // A sub-message the sender left out reads as its all-default message.
  const noRule = decodeRequest(encodeRequest({ id: 2, body: { kind: 'addRule' } as unknown as Request['body'] }));
  t.strictSame(noRule.body, { kind: 'addRule', rule: { id: 0, inputInterface: '', inputGroup: '', inputPort: 0, outputs: [] } });
  const remove = decodeRequest(encodeRequest({ id: 3, body: { kind: 'removeRule' } }));
  t.strictSame(remove.body, { kind: 'removeRule' }, 'neither oneof member set');
  const reply = decodeReply(encodeReply({ seq: 0, generation: 0, hash: new Uint8Array(), refused: [] }));
  t.equal(reply.error, undefined);
  t.equal(reply.stats, undefined);
  t.equal(reply.hash.length, 0);
});

t.test('unknown kinds carry the id; garbage and ill-shaped messages fail with codes', async (t) => {
  // id = 7, then field 99 (not in the oneof) as a varint: a newer client's request.
  const unknown = Buffer.from([0x08, 0x07, 0x98, 0x06, 0x01]);
  t.throws(() => decodeRequest(unknown), { code: 'ERR_MCR_UNKNOWN_KIND', messageId: 7, message: /same version/ });
  t.throws(() => decodeResponse(unknown), { code: 'ERR_MCR_UNKNOWN_KIND', messageId: 7 });
  t.throws(() => decodeCommand(Buffer.from([0x08, 0x09])), { code: 'ERR_MCR_UNKNOWN_KIND', messageId: 9 });
  for (const garbage of [[0xff, 0xff, 0xff], [0x0a, 0x05, 0x01], [0x07]]) {
    t.throws(() => decodeRequest(Buffer.from(garbage)), { code: 'ERR_MCR_BAD_FRAME' }, `request ${garbage.join(',')}`);
    t.throws(() => decodeReply(Buffer.from(garbage)), { code: 'ERR_MCR_BAD_FRAME' }, `reply ${garbage.join(',')}`);
  }
  const badPort = { kind: 'addRule', rule: { ...fullRule, inputPort: 'x' } } as unknown as Request['body'];
  t.throws(() => encodeRequest({ id: 1, body: badPort }), { code: 'ERR_MCR_BAD_MESSAGE', message: /inputPort: integer expected/ });
  const badHash = { seq: 1, generation: 1, hash: 42 } as unknown as Reply;
  t.throws(() => encodeReply(badHash), { code: 'ERR_MCR_BAD_MESSAGE', message: /hash/ });
});
