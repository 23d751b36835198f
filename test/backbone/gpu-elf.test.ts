/** The ELF dynamic-section reader on synthetic libraries and on ONNX Runtime's real ones. */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readElfDynamic } from '../../src/backbone/runtime/gpu/elf';
import { ortRuntime } from '../../src/backbone/runtime/gpu/runtime';
import { ConvfeatError } from '../../src/util/errors';
import { buildElf } from '../support/elf';
import { tmpDir } from '../support/data';

const dir = tmpDir('gpu-elf');
function write(name: string, data: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
}

function readelfNeeded(file: string): string[] | null {
  try {
    const out = execFileSync('readelf', ['-dW', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
  } catch {
    return null;
  }
}

describe('readElfDynamic', () => {
  test.each([
    [64, true],
    [64, false],
    [32, true],
    [32, false],
  ] as const)('a synthetic %i-bit library (little endian: %p)', (bits, littleEndian) => {
    const file = write(
      `lib${bits}${littleEndian}.so`,
      buildElf({
        bits,
        littleEndian,
        machine: bits === 64 ? 62 : 3,
        needed: ['libcublasLt.so.13', 'libcudart.so.13', 'libc.so.6'],
        soname: 'libfake.so.1',
        runpath: '$ORIGIN:/opt/x',
      }),
    );
    expect(readElfDynamic(file)).toEqual({
      bits,
      littleEndian,
      machine: bits === 64 ? 62 : 3,
      needed: ['libcublasLt.so.13', 'libcudart.so.13', 'libc.so.6'],
      soname: 'libfake.so.1',
      runpath: ['$ORIGIN', '/opt/x'],
    });
    const viaReaddelf = readelfNeeded(file);
    if (viaReaddelf !== null) expect(viaReaddelf).toEqual(['libcublasLt.so.13', 'libcudart.so.13', 'libc.so.6']);
  });

  test('not an ELF file, a truncated one and a missing one are one sentence each', () => {
    const text = write('text.so', Buffer.from('not a library at all, just text'));
    expect(() => readElfDynamic(text)).toThrow(new ConvfeatError(`${text} is not an ELF file (no \\x7fELF magic).`));
    const whole = buildElf({ needed: ['libcudart.so.13'] });
    const cut = write('cut.so', whole.subarray(0, 100));
    expect(() => readElfDynamic(cut)).toThrow(
      /is not a readable ELF library \(a table at byte \d+ of length \d+ lies outside the 100-byte file\)/,
    );
    expect(() => readElfDynamic(path.join(dir, 'nope.so'))).toThrow(/^Cannot read .*nope\.so \(ENOENT\)\.$/);
  });

  test("onnxruntime-node's own core library: its real dependencies, soname and $ORIGIN runpath", () => {
    const core = path.join(ortRuntime().binDir, 'libonnxruntime.so.1');
    const info = readElfDynamic(core);
    expect(info).toMatchObject({ bits: 64, littleEndian: true, machine: 62, soname: 'libonnxruntime.so.1' });
    expect(info.runpath).toEqual(['$ORIGIN']);
    expect(info.needed).toEqual(expect.arrayContaining(['libstdc++.so.6', 'libc.so.6', 'libdl.so.2']));
    const viaReaddelf = readelfNeeded(core);
    if (viaReaddelf !== null) expect(info.needed).toEqual(viaReaddelf);
  });

  const provider = path.join(ortRuntime().binDir, 'libonnxruntime_providers_cuda.so');
  (fs.existsSync(provider) ? test : test.skip)(
    'the installed CUDA provider (after `convfeat gpu install`): CUDA 13 libraries among 13 dependencies',
    () => {
      const info = readElfDynamic(provider);
      expect(info.needed).toEqual(
        expect.arrayContaining([
          'libcublasLt.so.13',
          'libcublas.so.13',
          'libcurand.so.10',
          'libcudart.so.13',
          'libcuda.so.1',
        ]),
      );
      const viaReaddelf = readelfNeeded(provider);
      if (viaReaddelf !== null) expect(info.needed).toEqual(viaReaddelf);
    },
  );
});
