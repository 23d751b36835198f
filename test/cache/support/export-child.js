// Runs one `cache export` (argv: exportModule cacheDir outDir split); CONVFEAT_CRASH_AT may stop it midway.
'use strict';
const [exportModule, cacheDir, out, split] = process.argv.slice(2);
const { exportCache } = require(exportModule);
exportCache(cacheDir, { out, split });
process.stdout.write('exported\n');
