// The one onnxruntime-node instance of this jest worker process (test/support/environment.js explains why).
module.exports = globalThis.__convfeatSharedOrt;
