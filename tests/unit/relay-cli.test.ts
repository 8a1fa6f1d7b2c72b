/**
 * mcr-relay's argument handling: bad arguments exit 2 with one line, a
 * failure to start exits 1 naming the error code. No namespaces needed: all
 * of these fail before any packet socket is opened (or at opening it).
 */
import t from 'tap';
import { execa } from 'execa';
import { join } from 'node:path';
import { ROOT } from '../integration/harness.js';

const CLI = join(ROOT, 'dist', 'worker', 'relay-cli.js');
const run = (args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false, timeout: 20_000 });

t.test('bad arguments exit 2 with one line', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /--input-interface/],
    [['--input-interface', 'lo', '--bogus'], /unknown option '--bogus'/],
    [['--input-interface', 'lo'], /no rules/],
    [['--input-interface', 'lo', '--input-group', '239.1.1.1'], /go together/],
    [['--input-interface', 'lo', '--input-group', '239.1.1.1', '--input-port', '99999', '--outputs', '239.2.2.2:1:lo'],
      /--input-port: expected an integer 1\.\.65535/],
    [['--input-interface', 'lo', '--input-group', '239.1.1.1', '--input-port', '5', '--outputs', '239.2.2.2:1'],
      /--outputs item 1/],
    [['--input-interface', 'lo', '--input-group', 'ff3e::1', '--input-port', '5', '--outputs', 'ff3e::2:6000:lo'],
      /--outputs item 1 "ff3e::2:6000:lo": put an IPv6 address in brackets, as in \[ff3e::1234\]:5000:eth1/],
    [['--input-interface', 'lo', '--input-group', 'ff3e::1', '--source', '10.0.0.1', '--input-port', '5', '--outputs', '[ff3e::2]:6000:lo'],
      /--source: 10\.0\.0\.1 is IPv4 but --input-group ff3e::1 is IPv6: give an IPv6 source/],
    [['--input-interface', 'lo', '--rules', '/nonexistent/rules.json'], /cannot read \(ENOENT\)/],
    [['--input-interface', 'lo', '--batch', '0', '--stdin-commands'], /--batch/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    t.equal(r.exitCode, 2, `exit 2 for ${args.join(' ')}`);
    const lines = r.stderr.trim().split('\n');
    t.equal(lines.length, 1, 'one line');
    t.match(lines[0], message);
  }
});

t.test('an unknown input interface exits 1 with ENODEV and a hint', async (t) => {
  const r = await run(['--input-interface', 'nosuch0', '--stdin-commands']);
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /^mcr-relay: ENODEV: .*nosuch0.* check the interface name/m);
});
