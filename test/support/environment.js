// onnxruntime-node builds output tensors with the outer realm's typed-array constructors and checks
// `instanceof` against them; jest's default node environment runs tests in a separate vm realm, so the
// test's Float32Array differs from ORT's. Share the outer constructors with the test realm.
const fs = require('fs');
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Int16Array',
  'Int32Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Uint16Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
];

class ConvfeatEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
    // onnxruntime-node 1.29's binding registers its cleanup hook again each time its JS wrapper is loaded, and Node
    // aborts the process on the duplicate (napi_add_env_cleanup_hook assertion). Jest loads the wrapper afresh for
    // every test file a worker runs, so every file shares the one instance loaded here (see sharedOrt.js).
    Object.defineProperty(this.global, '__convfeatSharedOrt', { get: () => require('onnxruntime-node') });
  }

  // Removes the temp folders the test file made with test/support/data.ts's tmpDir, whatever the tests' outcome.
  async teardown() {
    const dirs = this.global.__convfeatTmpDirs ?? [];
    if (!/^(1|true|yes)$/i.test(process.env.CONVFEAT_KEEP_TMP ?? '')) {
      for (const dir of dirs) {
        try {
          fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
        } catch (e) {
          process.stderr.write(`[convfeat tests] could not remove ${dir}: ${e.message}\n`);
        }
      }
    }
    await super.teardown();
  }
}

module.exports = ConvfeatEnvironment;
