/**
 * The dynamic section of an ELF shared library: which libraries it needs (DT_NEEDED), its own name (DT_SONAME) and
 * its search paths (DT_RUNPATH / DT_RPATH). `convfeat gpu check` reads the CUDA provider with it to name every
 * library the loader will look for, without running the loader (a failed dlopen names only the first one missing).
 *
 * Only the ELF header, the program headers, the dynamic segment and the string table are read (a few kB of the
 * 230 MB provider). Layout per the System V ABI (gABI "Object Files" and "Dynamic Linking" chapters): the string
 * table is found through DT_STRTAB, a virtual address, mapped back to a file offset through the PT_LOAD segments.
 */
import * as fs from 'fs';
import { ConvfeatError } from '../../../util/errors';

export interface ElfDynamicInfo {
  /** 32 or 64. */
  bits: 32 | 64;
  littleEndian: boolean;
  /** e_machine: 62 x86-64, 183 AArch64, 3 i386, … */
  machine: number;
  needed: string[];
  soname?: string;
  runpath?: string[];
  rpath?: string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_RUNPATH = 29;
/** Refuse absurd sizes from a damaged header instead of allocating them. */
const MAX_TABLE_BYTES = 64 * 1024 * 1024;

export const ELF_MACHINES: Record<number, string> = { 3: 'i386', 40: 'arm', 62: 'x86-64', 183: 'aarch64' };

class Reader {
  constructor(
    private readonly fd: number,
    private readonly file: string,
    private readonly size: number,
  ) {}
  read(offset: number, length: number): Buffer {
    if (offset < 0 || length < 0 || length > MAX_TABLE_BYTES || offset + length > this.size) {
      throw new ConvfeatError(
        `${this.file} is not a readable ELF library (a table at byte ${offset} of length ${length} lies outside the ${this.size}-byte file).`,
      );
    }
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, buf, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return buf;
  }
}

/** Reads the dynamic section of `file`; throws a ConvfeatError naming the file when it is not an ELF library. */
export function readElfDynamic(file: string): ElfDynamicInfo {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new ConvfeatError(`Cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)}).`, 1, {
      cause: e,
    });
  }
  try {
    return parse(new Reader(fd, file, fs.fstatSync(fd).size), file);
  } finally {
    fs.closeSync(fd);
  }
}

function parse(r: Reader, file: string): ElfDynamicInfo {
  const ident = r.read(0, 16);
  if (ident.readUInt32BE(0) !== 0x7f454c46) throw new ConvfeatError(`${file} is not an ELF file (no \\x7fELF magic).`);
  const bits = ident[4] === 1 ? 32 : ident[4] === 2 ? 64 : null;
  const little = ident[5] === 1 ? true : ident[5] === 2 ? false : null;
  if (bits === null || little === null)
    throw new ConvfeatError(`${file} has an unknown ELF class ${ident[4]} or data encoding ${ident[5]}.`);
  const is64 = bits === 64;
  const header = r.read(0, is64 ? 64 : 52);
  const u16 = (b: Buffer, o: number): number => (little ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number): number => (little ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const addr = (b: Buffer, o: number): number =>
    is64 ? Number(little ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o);
  const machine = u16(header, 18);
  const phoff = addr(header, is64 ? 32 : 28);
  const phentsize = u16(header, is64 ? 54 : 42);
  const phnum = u16(header, is64 ? 56 : 44);
  const phdrs = r.read(phoff, phentsize * phnum);

  const loads: Array<{ offset: number; vaddr: number; filesz: number }> = [];
  let dynamic: { offset: number; filesz: number } | null = null;
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    const type = u32(phdrs, o);
    const offset = addr(phdrs, o + (is64 ? 8 : 4));
    const vaddr = addr(phdrs, o + (is64 ? 16 : 8));
    const filesz = addr(phdrs, o + (is64 ? 32 : 16));
    if (type === PT_LOAD) loads.push({ offset, vaddr, filesz });
    else if (type === PT_DYNAMIC) dynamic = { offset, filesz };
  }
  const info: ElfDynamicInfo = { bits, littleEndian: little, machine, needed: [] };
  if (dynamic === null) return info; // statically linked: needs nothing

  const entrySize = is64 ? 16 : 8;
  const dyn = r.read(dynamic.offset, dynamic.filesz - (dynamic.filesz % entrySize));
  const entries: Array<[number, number]> = [];
  let strtab: number | undefined;
  let strsz: number | undefined;
  for (let o = 0; o + entrySize <= dyn.length; o += entrySize) {
    const tag = is64 ? Number(little ? dyn.readBigInt64LE(o) : dyn.readBigInt64BE(o)) : u32(dyn, o);
    const value = addr(dyn, o + (is64 ? 8 : 4));
    if (tag === DT_NULL) break;
    if (tag === DT_STRTAB) strtab = value;
    else if (tag === DT_STRSZ) strsz = value;
    else entries.push([tag, value]);
  }
  if (strtab === undefined || strsz === undefined) {
    if (entries.some(([t]) => t === DT_NEEDED))
      throw new ConvfeatError(`${file} names needed libraries but has no string table (DT_STRTAB/DT_STRSZ).`);
    return info;
  }
  const segment = loads.find((s) => strtab! >= s.vaddr && strtab! + strsz! <= s.vaddr + s.filesz);
  if (!segment) throw new ConvfeatError(`${file}'s string table lies outside its loadable segments.`);
  const strings = r.read(strtab - segment.vaddr + segment.offset, strsz);
  const str = (at: number): string => {
    if (at >= strings.length) throw new ConvfeatError(`${file} has a string offset ${at} past its string table.`);
    const end = strings.indexOf(0, at);
    return strings.toString('utf8', at, end < 0 ? strings.length : end);
  };
  for (const [tag, value] of entries) {
    if (tag === DT_NEEDED) info.needed.push(str(value));
    else if (tag === DT_SONAME) info.soname = str(value);
    else if (tag === DT_RUNPATH) info.runpath = str(value).split(':').filter(Boolean);
    else if (tag === DT_RPATH) info.rpath = str(value).split(':').filter(Boolean);
  }
  return info;
}
