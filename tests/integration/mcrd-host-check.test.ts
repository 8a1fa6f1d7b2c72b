/**
 * `mcrd --check-host` in the namespace lab: an output veth with MULTICAST
 * off fails with the exact fix and exit 1, and passes once it is on; a
 * veth input's missing ring and IRQs are reported as facts, not failures;
 * without CAP_NET_ADMIN (setpriv) an rmem_max below the 32 MiB the packet
 * sockets ask for fails. (A tiny rmem_max inside the namespace cannot be
 * made: these kernels show net.core.*mem_max read-only there, so the
 * host's own values are what is checked; the expected verdicts are
 * computed from them.)
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { MCRD, mcrdLab } from './mcrd-harness.js';
import type { Finding } from '../../supervisor/host-check/finding.js';

const RULE = `{ inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000, outputs: [{ group: "239.2.2.2", port: 6000, interface: "out0" }] }`;

/** --check-host --json, and with `text` the plain output too (a second run). */
async function checkHost(ns: string, config: string, prefix: string[] = [], text = false): Promise<{ exitCode: number | undefined; findings: Finding[]; text: string }> {
  const args = ['netns', 'exec', ns, ...prefix, process.execPath, MCRD, '--check-host', '--config', config, '--workers', '2'];
  const json = await execa('ip', [...args, '--json'], { reject: false, timeout: 30_000 });
  const plain = text ? await execa('ip', args, { reject: false, timeout: 30_000 }) : undefined;
  const parsed = JSON.parse(json.stdout) as { ok: boolean; findings: Finding[] };
  return { exitCode: json.exitCode, findings: parsed.findings, text: plain === undefined ? '' : `${plain.stdout}\n(exit ${String(plain.exitCode)})` };
}

const sysctl = (key: string): number => Number(readFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8').trim());

t.test('check-host: multicast off fails with its fix, veth facts are info, the exit code follows', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'hostchk');
  const config = join(dir, 'mcrd.json5');
  writeFileSync(config, `{ rules: [ ${RULE} ] }\n`);
  const hostFails = (f: Finding): boolean => f.subject === 'host' && f.verdict === 'fail';

  await rl.lab.exec(rl.relay.ns, 'ip', ['link', 'set', 'out0', 'multicast', 'off']);
  const off = await checkHost(rl.relay.ns, config, [], true);
  t.comment(off.text);
  const mc = off.findings.find((f) => f.subject === 'out0 (output)' && f.check === 'multicast flag');
  t.match(mc, { verdict: 'fail', fix: 'ip link set out0 multicast on' }, 'out0 without MULTICAST fails with the exact fix');
  t.equal(off.exitCode, 1, 'exit 1 with a failure');
  t.match(off.text, /^FAIL {2}out0 \(output\): multicast flag: .*; fix: ip link set out0 multicast on$/m, 'the text line says the same');
  t.match(off.text, /^\d+ of \d+ checks fail$/m, 'and counts the failures');
  t.match(off.findings.find((f) => f.subject === 'in0 (input)' && f.check === 'ring size'), { verdict: 'info', detail: /a veth has none/ }, 'a veth has no ring: info');
  t.match(off.findings.find((f) => f.subject === 'in0 (input)' && f.check === 'receive placement'), { verdict: /info|pass/ }, 'placement reported');

  await rl.lab.exec(rl.relay.ns, 'ip', ['link', 'set', 'out0', 'multicast', 'on']);
  const on = await checkHost(rl.relay.ns, config);
  t.match(on.findings.find((f) => f.subject === 'out0 (output)'), { verdict: 'pass' }, 'passes once MULTICAST is on');
  const others = on.findings.filter((f) => f.verdict === 'fail');
  t.equal(on.exitCode, others.length === 0 ? 0 : 1, `exit code follows the remaining failures (${others.map((f) => f.check).join(', ') || 'none'})`);
  t.ok(others.every(hostFails), 'what still fails is host-wide, from this host\'s own settings');

  // Without CAP_NET_ADMIN the packet sockets' 32 MiB is capped at rmem_max.
  const noAdmin = await checkHost(rl.relay.ns, config, ['setpriv', '--inh-caps=-net_admin', '--bounding-set=-net_admin']);
  const rmem = noAdmin.findings.find((f) => f.check === 'net.core.rmem_max');
  if (sysctl('net.core.rmem_max') < 32 * 1024 * 1024) {
    t.match(rmem, { verdict: 'fail', fix: /^sysctl -w net\.core\.rmem_max=33554432, .*\/usr\/lib\/sysctl\.d\/60-mcr\.conf/ }, 'rmem_max below 32 MiB fails without CAP_NET_ADMIN');
    t.equal(noAdmin.exitCode, 1);
  } else t.match(rmem, { verdict: 'pass' }, 'this host\'s rmem_max is already 32 MiB or more');
});
