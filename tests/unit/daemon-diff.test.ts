/**
 * What a reload names as not applied (supervisor/config/daemon-diff.ts):
 * each daemon field that differs between the section mcrd started with and
 * the reloaded file's, before and after, unset on either side included;
 * nothing for equal sections, whatever their key order.
 */
import t from 'tap';
import { daemonChanges } from '../../supervisor/config/daemon-diff.js';

t.test('equal sections: nothing to name', async (t) => {
  t.same(daemonChanges({}, {}), []);
  t.same(daemonChanges({ workers: 2, user: 'mcr' }, { user: 'mcr', workers: 2 }), [], 'key order does not matter');
});

t.test('each changed, added and removed field, by name, before -> after', async (t) => {
  t.same(daemonChanges({ workers: 2, busyPollUs: 'auto', logDir: '/var/log/mcr' }, { workers: 4, busyPollUs: 0, consumeInputs: true }), [
    'busyPollUs auto -> 0',
    'consumeInputs (unset) -> true',
    'logDir /var/log/mcr -> (unset)',
    'workers 2 -> 4',
  ]);
});
