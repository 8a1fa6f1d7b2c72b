/**
 * The interface monitor (native/core/netlink_parser.cc) on a real kernel: a
 * port that leaves its bridge (`ip link set v0 nomaster`) is not reported
 * as removed. The kernel sends the port an AF_BRIDGE RTM_DELLINK then, while
 * the device lives on; read as the device's own, it made mcrd forget the
 * interface's addresses (an output there refused with EADDRNOTAVAIL until
 * the next address event). Deleting the device is still reported. A child
 * process in a namespace of its own runs the monitor and prints what it
 * saw, as JSON lines.
 */
import t from 'tap';
import { execa } from 'execa';
import { join } from 'node:path';
import { ROOT } from '../integration/harness.js';

const NATIVE = join(ROOT, 'dist', 'native', 'index.js');
const NS = `mcr-brmon-${process.pid}`;

// The child: reports every link event after the first dump, until stdin ends.
const CHILD = `
import { native } from '${NATIVE}';
let synced = false;
const mon = new native.InterfaceMonitor((err, events) => {
  if (err) { console.log(JSON.stringify({ error: err.code })); process.exit(1); }
  for (const e of events ?? []) {
    if (e.type === 'synced') { synced = true; console.log(JSON.stringify({ synced: true })); continue; }
    if (synced && (e.type === 'link' || e.type === 'linkRemoved')) console.log(JSON.stringify({ type: e.type, name: e.name, ifindex: e.ifindex }));
  }
});
process.stdin.resume();
process.stdin.on('end', () => { mon.close(); process.exit(0); });
`;

const ip = (...args: string[]) => execa('ip', ['-n', NS, ...args]);

t.test('a port leaving its bridge is not reported as removed; a deleted device is', { skip: process.getuid?.() === 0 ? false : 'needs root (a network namespace)' }, async (t) => {
  await execa('ip', ['netns', 'add', NS]);
  t.teardown(() => execa('ip', ['netns', 'del', NS], { reject: false }));
  await ip('link', 'add', 'br0', 'type', 'bridge');
  await ip('link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
  await ip('link', 'set', 'v0', 'master', 'br0');
  await ip('link', 'set', 'v0', 'up');
  const child = execa('ip', ['netns', 'exec', NS, process.execPath, '--input-type=module', '-e', CHILD], { reject: false, timeout: 30_000 });
  const lines: Array<Record<string, unknown>> = [];
  let buffered = '';
  child.stdout?.on('data', (b: Buffer) => {
    buffered += b.toString();
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      lines.push(JSON.parse(buffered.slice(0, i)) as Record<string, unknown>);
      buffered = buffered.slice(i + 1);
    }
  });
  const until = async (ok: () => boolean): Promise<boolean> => {
    for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
    return ok();
  };
  t.ok(await until(() => lines.some((l) => l.synced === true)), 'the monitor has the interface list');
  await ip('link', 'set', 'v0', 'nomaster');
  t.ok(await until(() => lines.some((l) => l.type === 'link' && l.name === 'v0')), 'the port\'s own change is reported');
  await ip('link', 'del', 'v1');  // takes v0, its peer, with it
  t.ok(await until(() => lines.some((l) => l.type === 'linkRemoved' && l.name === 'v0')), 'a deleted device is reported removed');
  const removals = lines.filter((l) => l.type === 'linkRemoved' && l.name === 'v0');
  t.equal(removals.length, 1, `v0 reported removed once, when it was deleted, not when it left the bridge (${JSON.stringify(lines)})`);
  child.stdin?.end();
  await child;
});
