/**
 * LIBLINEAR as a peer: writes data in its sparse text format (every feature listed, so it sees exactly our numbers),
 * runs the Debian `liblinear-train` (or `train`) binary, and reads the weight matrix back from its model file.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';

export function findLiblinear(): string | undefined {
  for (const bin of ['liblinear-train', 'train']) {
    const r = spawnSync(bin, [], { encoding: 'utf8' });
    if (!r.error && /liblinear|L2-regularized/i.test(`${r.stdout}${r.stderr}`)) return bin;
  }
  return undefined;
}

export function writeLibsvm(file: string, X: Float32Array, y: Int32Array, dim: number): void {
  const fd = fs.openSync(file, 'w');
  try {
    const n = y.length;
    let buf: string[] = [];
    for (let i = 0; i < n; i++) {
      const parts = [String(y[i])];
      for (let j = 0; j < dim; j++) parts.push(`${j + 1}:${X[i * dim + j]}`);
      buf.push(parts.join(' '));
      if (buf.length === 2000 || i === n - 1) {
        fs.writeSync(fd, `${buf.join('\n')}\n`);
        buf = [];
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Runs `train -s 1 -c C -B 1 [-e eps]`; returns wall milliseconds. */
export function runLiblinear(bin: string, dataFile: string, modelFile: string, C: number, eps?: number): number {
  const args = [
    '-s',
    '1',
    '-c',
    String(C),
    '-B',
    '1',
    '-q',
    ...(eps !== undefined ? ['-e', String(eps)] : []),
    dataFile,
    modelFile,
  ];
  const t = process.hrtime.bigint();
  execFileSync(bin, args, { stdio: 'ignore' });
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Reads LIBLINEAR's model into our K × (dim + 1) layout (bias last), assuming labels 0..K−1. */
export function readLiblinearModel(file: string, classes: number, dim: number): Float64Array {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const labelLine = lines.find((l) => l.startsWith('label '))!;
  const labels = labelLine.split(' ').slice(1).map(Number);
  const start = lines.indexOf('w') + 1;
  const stride = dim + 1;
  const W = new Float64Array(classes * stride);
  for (let j = 0; j < stride; j++) {
    const vals = lines[start + j].trim().split(/\s+/).map(Number);
    if (classes === 2) {
      // One separator, positive = the first label in the file.
      W[labels[0] * stride + j] = vals[0];
      W[labels[1] * stride + j] = -vals[0];
    } else {
      labels.forEach((lab, c) => (W[lab * stride + j] = vals[c]));
    }
  }
  return W;
}
