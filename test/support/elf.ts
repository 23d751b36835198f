/**
 * Builds minimal ELF shared objects for tests: an ELF header, a PT_LOAD segment covering the file (mapped at a
 * non-zero address so the reader must translate DT_STRTAB), a PT_DYNAMIC segment, a string table and the dynamic
 * entries (DT_NEEDED…, DT_SONAME, DT_RUNPATH, DT_STRTAB, DT_STRSZ, DT_NULL).
 */
export interface SyntheticElf {
  bits?: 32 | 64;
  littleEndian?: boolean;
  machine?: number;
  needed: string[];
  soname?: string;
  runpath?: string;
}

const BASE = 0x400000;

export function buildElf(spec: SyntheticElf): Buffer {
  const is64 = (spec.bits ?? 64) === 64;
  const le = spec.littleEndian ?? true;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const phnum = 2;
  // String table: offset 0 is the empty string.
  const strings: string[] = [''];
  const offsetOf = new Map<string, number>();
  let strsz = 1;
  const intern = (s: string): number => {
    if (!offsetOf.has(s)) {
      offsetOf.set(s, strsz);
      strings.push(s);
      strsz += Buffer.byteLength(s) + 1;
    }
    return offsetOf.get(s)!;
  };
  const DT_NEEDED = 1,
    DT_STRTAB = 5,
    DT_STRSZ = 10,
    DT_SONAME = 14,
    DT_RUNPATH = 29;
  const entries: Array<[number, number]> = spec.needed.map((n) => [DT_NEEDED, intern(n)]);
  if (spec.soname) entries.push([DT_SONAME, intern(spec.soname)]);
  if (spec.runpath) entries.push([DT_RUNPATH, intern(spec.runpath)]);
  const strOff = ehsize + phentsize * phnum;
  const dynOff = Math.ceil((strOff + strsz) / 8) * 8;
  entries.push([DT_STRTAB, BASE + strOff], [DT_STRSZ, strsz], [0, 0]);
  const entsize = is64 ? 16 : 8;
  const total = dynOff + entries.length * entsize;
  const b = Buffer.alloc(total);
  const u16 = (o: number, v: number): number => (le ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
  const u32 = (o: number, v: number): number => (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
  const word = (o: number, v: number): unknown =>
    is64 ? (le ? b.writeBigUInt64LE(BigInt(v), o) : b.writeBigUInt64BE(BigInt(v), o)) : u32(o, v);

  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = is64 ? 2 : 1;
  b[5] = le ? 1 : 2;
  b[6] = 1;
  u16(16, 3); // ET_DYN
  u16(18, spec.machine ?? 62);
  u32(20, 1);
  word(is64 ? 32 : 28, ehsize); // e_phoff
  u16(is64 ? 52 : 40, ehsize);
  u16(is64 ? 54 : 42, phentsize);
  u16(is64 ? 56 : 44, phnum);
  const phdr = (i: number, type: number, offset: number, size: number): void => {
    const o = ehsize + i * phentsize;
    u32(o, type);
    if (is64) {
      word(o + 8, offset);
      word(o + 16, BASE + offset);
      word(o + 24, BASE + offset);
      word(o + 32, size);
      word(o + 40, size);
    } else {
      u32(o + 4, offset);
      u32(o + 8, BASE + offset);
      u32(o + 12, BASE + offset);
      u32(o + 16, size);
      u32(o + 20, size);
    }
  };
  phdr(0, 1, 0, total);
  phdr(1, 2, dynOff, entries.length * entsize);
  let at = strOff;
  for (const s of strings) {
    b.write(s, at, 'utf8');
    at += Buffer.byteLength(s) + 1;
  }
  entries.forEach(([tag, value], i) => {
    const o = dynOff + i * entsize;
    word(o, tag);
    word(o + (is64 ? 8 : 4), value);
  });
  return b;
}
