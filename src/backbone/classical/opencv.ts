/**
 * OpenCV's JavaScript build (@techstark/opencv-js, WebAssembly), loaded on first use: 7 MB of script that only the
 * bag-of-visual-words backbone needs. The Emscripten runtime installs process-wide `uncaughtException` and
 * `unhandledRejection` handlers that abort the process; convfeat handles its own errors, so those are removed again.
 */
import { ConvfeatError, describeError } from '../../util/errors';

// The module has no usable types for what we call; keep the surface we use typed at the call sites.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type OpenCv = any;

let loading: Promise<{ cv: OpenCv }> | undefined;

/**
 * Resolves to `{ cv }`, never to the module itself: the module has a `then` method, so a promise resolved with it
 * would call that `then` forever (the microtask queue never empties and the process hangs).
 */
export function loadOpenCv(): Promise<{ cv: OpenCv }> {
  loading ??= new Promise<{ cv: OpenCv }>((resolve, reject) => {
    const events = ['uncaughtException', 'unhandledRejection'];
    const listeners = (e: string): Function[] => process.listeners(e as 'uncaughtException');
    const before = new Map(events.map((e) => [e, new Set(listeners(e))]));
    let cv: OpenCv;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      cv = require('@techstark/opencv-js');
    } catch (e) {
      reject(new ConvfeatError(`OpenCV's JavaScript build could not be loaded (${describeError(e)}); run npm ci.`));
      return;
    } finally {
      for (const e of events)
        for (const l of listeners(e)) if (!before.get(e)!.has(l)) process.removeListener(e, l as never);
    }
    // The module object is a thenable: resolve with a wrapper, or the promise machinery would recurse into it.
    if (cv.Mat) resolve({ cv });
    else {
      const previous = cv.onRuntimeInitialized;
      cv.onRuntimeInitialized = () => {
        if (typeof previous === 'function') previous();
        resolve({ cv });
      };
    }
  });
  return loading;
}

/** OpenCV throws numbers (C++ exception pointers) or errors carrying the whole script; keep one short line. */
export function openCvError(e: unknown): string {
  if (typeof e === 'number') return `OpenCV exception ${e}`;
  return describeError(e).slice(0, 200);
}
