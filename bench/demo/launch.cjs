// `npm run demo` starts here: plain CommonJS, so that a checkout whose
// TypeScript was never compiled gets one line saying what to do instead of
// Node's module-not-found trace. Everything else is in main.ts.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const main = join(__dirname, '..', '..', 'dist', 'bench', 'demo', 'main.js');
if (!existsSync(main)) {
  process.stderr.write(`demo: ENOENT: not built: ${main} missing: run \`npm ci\` (or \`npm run build\`) first\n`);
  process.exit(1);
}
import(pathToFileURL(main).href).catch((err) => {
  process.stderr.write(`demo: ${err && err.code ? err.code : 'ERR_MCR_INTERNAL'}: ${err && err.message ? err.message : String(err)}\n`);
  process.exit(1);
});
