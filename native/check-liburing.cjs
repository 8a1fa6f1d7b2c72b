// Pre-build check run by `npm ci` / `npm install` before node-gyp: the native
// core needs liburing's header from Debian's liburing-dev. Failing here with one
// actionable line beats a page of compiler errors.
'use strict';
const fs = require('node:fs');
if (!fs.existsSync('/usr/include/liburing.h')) {
  console.error('mcr: liburing.h not found: run `apt-get install -y liburing-dev` (as root), then `npm ci` again');
  process.exit(1);
}
