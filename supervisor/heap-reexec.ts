/**
 * The side effect of heap-flags.ts, alone so that importing the pure part
 * never execs: imported first by mcrd.ts, it execs node again with
 * `--max-semi-space-size` when node was not given it (same PID, same
 * descriptors), before anything else of mcrd is loaded.
 */
import { native } from '../native/index.js';
import { heapReexecArgv, SEMI_SPACE_FLAG } from './heap-flags.js';

const argv = heapReexecArgv({ execPath: process.execPath, execArgv: process.execArgv, argv: process.argv, env: process.env });
if (argv !== undefined) {
  try {
    native.execSelf(argv);
  } catch (err) {
    // Not fatal: mcrd runs with node's own heap sizing.
    process.stderr.write(`mcrd: ${(err as { code?: string }).code ?? 'ERR_MCR_EXEC'}: could not restart node with ${SEMI_SPACE_FLAG} (${(err as Error).message}); running with V8's default young generation\n`);
  }
}
