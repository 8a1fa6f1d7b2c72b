/**
 * One mcrd per network namespace (supervisor/control/namespace-guard.ts),
 * on a real abstract Unix socket under a name of the test's own: the first
 * claim holds it; a second is refused with EADDRINUSE naming the holder's
 * pid and control socket; a holder of another user (a squatter) does not
 * keep mcrd from starting, only gets a warning; the name is free again
 * after close().
 */
import t from 'tap';
import { ControlError } from '../../common/control-errors.js';
import { NamespaceGuard } from '../../supervisor/control/namespace-guard.js';

const name = `\0mcr-test-guard-${process.pid}-${Date.now()}`;

t.test('a second claim is refused, naming the holder; free again after close', async (t) => {
  const first = await NamespaceGuard.claim({ name, controlSocket: '/run/mcr/first.sock', onSquatter: () => t.fail('no squatter') });
  t.teardown(() => first.close());
  const err = await NamespaceGuard.claim({ name, controlSocket: '/run/mcr/second.sock', onSquatter: () => t.fail('not a squatter: the same user') })
    .then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof ControlError, 'refused');
  t.equal((err as ControlError).code, 'EADDRINUSE');
  t.match((err as ControlError).message, new RegExp(`another mcrd \\(pid ${process.pid}, control socket /run/mcr/first\\.sock\\) runs in this network namespace: one mcrd per network namespace`));
  t.match((err as ControlError).message, /give that mcrd these rules .* or stop it first/);
  await first.close();
  const again = await NamespaceGuard.claim({ name, controlSocket: '/run/mcr/second.sock', onSquatter: () => t.fail('no squatter') });
  t.pass('claimed once the first let go');
  await again.close();
});

t.test('a holder of another user is a squatter: mcrd starts without the guard, told who', async (t) => {
  const first = await NamespaceGuard.claim({ name: `${name}-sq`, controlSocket: '/x.sock', onSquatter: () => undefined });
  t.teardown(() => first.close());
  const told: number[] = [];
  const uid = (process.getuid?.() ?? 0) + 4242;
  const guard = await NamespaceGuard.claim({ name: `${name}-sq`, controlSocket: '/y.sock', onSquatter: (h) => told.push(h.uid),
    peerLookup: () => ({ pid: 1, uid, gid: uid }) });
  t.same(told, [uid], 'the squatter\'s uid reported');
  await guard.close();
});
