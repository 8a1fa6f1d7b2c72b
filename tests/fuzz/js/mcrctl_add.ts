/**
 * Fuzz harness: `mcrctl add`'s command line (tools/mcrctl/commands.ts, the
 * flags parsed by commander, then tools/mcrctl/rule-args.ts ruleFromFlags
 * over common/rule-spec.ts), whatever a user or a script types. The input
 * chooses, through a FuzzedDataProvider, one of two drives:
 *
 * - An argument vector for `mcrctl add` (known flags, `--flag=value`
 *   forms, free strings), run through the real program (runMcrctl) with its
 *   socket forced to a path that cannot exist, so nothing is ever sent to a
 *   running mcrd: a command line the program accepts ends in a failed
 *   connect (ENOENT). Checked: the program never throws; it exits 0 only
 *   for --help, otherwise with exactly one stderr line `mcrctl: CODE:
 *   message`; status 2 (usage) carries ERR_MCR_USAGE or ERR_MCR_BAD_RULE,
 *   status 1 only the failed connect (ENOENT, or ETIMEDOUT when a
 *   --timeout of a few ms fires first on a busy host); never ERR_MCR_INTERNAL (an uncoded
 *   exception: a bug).
 * - The flags object itself, given to ruleFromFlags. Checked: it returns a
 *   rule or throws a usage error (McrctlError, exit status 2,
 *   ERR_MCR_BAD_RULE or ERR_MCR_USAGE) whose message names the flag at
 *   fault; a rule it returns has the types it promises, and mcrd, given it
 *   through the wire (encodeRequest, decodeRequest, the rule table's
 *   checkRule), accepts it unchanged: mcrctl and mcrd agree on what a
 *   valid rule is.
 */
import { isIPv4 } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { runMcrctl } from '../../../tools/mcrctl/commands.js';
import { McrctlError, EXIT_USAGE } from '../../../tools/mcrctl/errors.js';
import { ruleFromFlags, type AddFlags } from '../../../tools/mcrctl/rule-args.js';
import { checkRule } from '../../../supervisor/rule-table.js';
import { decodeRequest, encodeRequest } from '../../../proto/control.js';
import { FuzzedDataProvider } from './engine/data-provider.js';
import { fail } from './lib/wire-shape.js';

/** A socket path in a directory that does not exist: a connect fails with ENOENT, without touching anything. */
const NO_MCRD = '/nonexistent-mcr-fuzz/mcrd.sock';
const FLAGS = ['--input-interface', '--input-group', '--input-port', '--source', '--outputs', '--name', '--json', '--timeout', '--help', '-h', '--', '--bogus'];
/** Values that pass each check, so that inputs reach the checks after it. */
const GOOD = ['eth1', 'eth0.100', '239.1.1.1', '10.0.0.5', '5000', '65535', '239.2.2.2:6000:eth2', '239.2.2.2:6000:eth2:8,10.1.1.1:7000:eth3', 'cam-1', '1'];

function value(p: FuzzedDataProvider): string {
  return p.consumeBoolean() ? p.pick(GOOD) : p.consumeTerminatedString(48);
}

function argv(p: FuzzedDataProvider): string[] {
  const count = p.consumeIntInRange(0, 14);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const kind = p.consumeIntInRange(0, 3);
    if (kind === 0) out.push(p.pick(FLAGS));
    else if (kind === 1) out.push(`${p.pick(FLAGS)}=${value(p)}`);
    else out.push(value(p));
  }
  // The fuzzer must never choose the socket: mcrctl would talk to whatever listens there.
  return out.filter((arg) => !/socket/i.test(arg));
}

async function checkProgram(args: string[]): Promise<void> {
  let stdout = '';
  let stderr = '';
  const argvAll = ['add', ...args, '--socket', NO_MCRD];
  const status = await runMcrctl(argvAll, {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    cwd: '/',
    now: () => 0,
  });
  if (status === 0) {
    if (stderr !== '' || !/Usage: mcrctl add/.test(stdout)) fail('exit status 0 without --help', { argv: argvAll, stdout, stderr });
    return;
  }
  const m = /^mcrctl: ([A-Za-z0-9_]+): ([^\n]+)\n$/.exec(stderr);
  if (m === null) fail('a failure is not exactly one line `mcrctl: CODE: message`', { argv: argvAll, status, stderr });
  const code = m[1] ?? '';
  if (code === 'ERR_MCR_INTERNAL') fail('an uncoded exception (a bug in mcrctl)', { argv: argvAll, stderr });
  if (status === EXIT_USAGE) {
    if (code !== 'ERR_MCR_USAGE' && code !== 'ERR_MCR_BAD_RULE') fail(`usage status with code ${code}`, { argv: argvAll, stderr });
  } else if (status === 1) {
    // A --timeout of a few ms may fire before the failed connect is reported
    // (a busy CI host): ETIMEDOUT is then the answer the user asked for.
    const timeoutGiven = args.some((a) => a.startsWith('--timeout'));
    if (code !== 'ENOENT' && !(code === 'ETIMEDOUT' && timeoutGiven)) fail(`status 1 with code ${code}: only the connect to ${NO_MCRD} may fail`, { argv: argvAll, stderr });
  } else {
    fail(`exit status ${status}`, { argv: argvAll, stderr });
  }
}

function flags(p: FuzzedDataProvider): AddFlags {
  const f: AddFlags = { inputInterface: value(p), inputGroup: value(p), inputPort: value(p), outputs: value(p) };
  if (p.consumeBoolean()) f.source = value(p);
  if (p.consumeBoolean()) f.name = value(p);
  return f;
}

function checkRuleFromFlags(f: AddFlags): void {
  let rule;
  try {
    rule = ruleFromFlags(f);
  } catch (err) {
    if (!(err instanceof McrctlError)) throw err;
    if (err.exitCode !== EXIT_USAGE || (err.code !== 'ERR_MCR_BAD_RULE' && err.code !== 'ERR_MCR_USAGE')) {
      fail(`ruleFromFlags threw ${err.code} with exit status ${err.exitCode}, not a usage error`, { flags: f, message: err.message });
    }
    if (!err.message.startsWith('--')) fail('a usage error that does not name the flag at fault', { flags: f, message: err.message });
    return;
  }
  const port = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
  if (rule.inputInterface !== f.inputInterface || !isIPv4(rule.inputGroup) || !port(rule.inputPort)) fail('a rule with bad input fields', { flags: f, rule });
  if (!Array.isArray(rule.outputs) || rule.outputs.length < 1 || rule.outputs.length > 64) fail('a rule with a bad output list', { flags: f, rule });
  for (const o of rule.outputs) {
    if (!isIPv4(o.group) || !port(o.port) || typeof o.interface !== 'string' || (o.ttl !== undefined && !(Number.isInteger(o.ttl) && o.ttl >= 1 && o.ttl <= 255))) {
      fail('a rule with a bad output', { flags: f, rule });
    }
  }
  if ((f.name === undefined) !== (rule.name === undefined) || (f.source === undefined) !== (rule.source === undefined)) fail('name or source lost or invented', { flags: f, rule });
  // What mcrd makes of it: the request on the wire, then the rule table's check.
  const request = decodeRequest(encodeRequest({ id: 1, body: { kind: 'addRule', rule } }));
  if (request.body.kind !== 'addRule') fail('an add request decoded as another kind', request);
  let stored;
  try {
    stored = checkRule(request.body.rule);
  } catch (err) {
    fail(`mcrd refuses a rule mcrctl accepted: ${(err as Error).message}`, { flags: f, rule });
  }
  if (!isDeepStrictEqual({ ...stored }, { ...rule })) fail('mcrd stores another rule than mcrctl validated', { flags: f, rule, stored });
}

export async function fuzz(data: Buffer): Promise<void> {
  const p = new FuzzedDataProvider(data);
  if (p.consumeBoolean()) await checkProgram(argv(p));
  else checkRuleFromFlags(flags(p));
}
