// Tries to take a cache lock and prints what happened (one line). Run as another user by lock.test.ts, so that
// kill(pid, 0) on the lock's owner answers EPERM as it does for every non-root user. argv: lockModule cacheDir.
'use strict';
const [lockModule, dir] = process.argv.slice(2);
const { CacheLock } = require(lockModule);
try {
  const warnings = [];
  CacheLock.acquire(dir, (m) => warnings.push(m)).release();
  process.stdout.write(`taken${warnings.length ? ` (${warnings.join('; ')})` : ''}\n`);
} catch (e) {
  process.stdout.write(`refused: ${e.message}\n`);
}
