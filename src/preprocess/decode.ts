/**
 * Image bytes → full-size 8-bit RGB with sharp, matching what torchvision sees after
 * `Image.open(path).convert('RGB')`: no resizing here (Pillow-exact resampling happens in TypeScript, resample.ts).
 *
 * Decisions, each measured with sharp 0.35 / libvips 8.18:
 * - Embedded ICC profiles are ignored (Pillow's convert('RGB') ignores them too); CMYK has no RGB meaning without a
 *   profile, so libvips converts it to sRGB through its generic CMYK profile (Pillow's naive 255−C−K formula differs).
 * - Alpha is dropped without compositing, as Pillow's RGBA→RGB and LA→L conversions do; palette images expand to
 *   their palette colours (transparency dropped); greyscale is replicated to three channels.
 * - 16-bit images keep their high byte (v >> 8): the same as Pillow for 16-bit RGB. Pillow clips 16-bit greyscale to
 *   255 instead of scaling it; we scale, so a 16-bit grey photo stays a photo.
 * - Truncated files fail (failOn 'truncated'), as Pillow raises "image file is truncated"; benign decoder warnings
 *   that Pillow also tolerates do not.
 * - Animated images (GIF, WebP): first frame.
 * - EXIF orientation is applied only when asked (torchvision ignores it).
 */
import sharp from 'sharp';
import type { OutputInfo } from 'sharp';
import { ConvfeatError } from '../util/errors';
import type { ExifMode } from './spec';

export const DEFAULT_MAX_PIXELS = 100_000_000;

/** The image could not be decoded; `reason` is a short human sentence fit for a "path: reason" line. */
export class ImageDecodeError extends ConvfeatError {
  readonly reason: string;
  /** libvips' own message, for debugging; not shown to users. */
  readonly detail: string | undefined;
  constructor(reason: string, detail?: string) {
    super(reason, 1);
    this.name = 'ImageDecodeError';
    this.reason = reason;
    this.detail = detail;
  }
}

export interface DecodeOptions {
  exif: ExifMode;
  /** Decompression-bomb guard: width × height above this fails before decoding (default 100 megapixels). */
  maxPixels?: number;
}

export interface DecodedImage {
  /** width × height × 3, RGB interleaved, row-major. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
  /** Container format from the magic bytes, lower case ('jpeg', 'png', …); 'unknown' when not recognised. */
  info: { format: string };
}

/** Container format from magic bytes, so a file whose header is too broken for libvips still gets a name. */
export function sniffFormat(bytes: Uint8Array): string | undefined {
  const at = (i: number, s: string) =>
    bytes.length >= i + s.length && Buffer.from(bytes.buffer, bytes.byteOffset + i, s.length).toString('latin1') === s;
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'JPEG';
  if (at(0, '\x89PNG')) return 'PNG';
  if (at(0, 'GIF8')) return 'GIF';
  if (at(0, 'RIFF') && at(8, 'WEBP')) return 'WebP';
  if (at(0, 'II*\x00') || at(0, 'MM\x00*')) return 'TIFF';
  if (at(4, 'ftyp')) {
    // ISO-BMFF: HEIF/AVIF images and MP4/MOV videos share the box layout; the major brand tells them apart.
    if (at(8, 'avif') || at(8, 'avis')) return 'AVIF';
    if (HEIF_BRANDS.some((b) => at(8, b))) return 'HEIF';
    return undefined;
  }
  if (at(0, 'BM') && bytes.length >= 14) return 'BMP';
  if (looksLikeSvg(bytes)) return 'SVG';
  return undefined;
}

const HEIF_BRANDS = ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs', 'mif1', 'msf1'];

/** SVG is text: after an optional byte-order mark and white space it opens with `<` (`<?xml`, `<svg`, a comment). */
function looksLikeSvg(bytes: Uint8Array): boolean {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return bytes[i] === 0x3c && i + 1 < bytes.length && /[?!a-zA-Z]/.test(String.fromCharCode(bytes[i + 1]!));
}

/** How many leading bytes sniffFormat needs: a file can be judged from this much before it is read whole. */
export const SNIFF_BYTES = 256;

/**
 * Formats recognised from their magic bytes that this build of sharp/libvips cannot decode, with the sentence to
 * show (libvips' own message for them, "unsupported image format", reads as if the file were damaged).
 */
export const UNDECODABLE: Readonly<Record<string, string>> = {
  BMP: 'BMP is not supported (sharp cannot decode it); convert it to PNG',
};

/** The reason a file is refused from its first bytes alone, or undefined when it may be a decodable image. */
export function refusalFromHead(head: Uint8Array): string | undefined {
  const format = sniffFormat(head);
  if (!format) return 'not an image or unsupported format';
  return UNDECODABLE[format];
}

/** libvips/loader messages that mean the file itself is damaged (cut short or with a broken structure). */
const DAMAGED =
  /premature end|unexpected end|end of (file|data)|truncated|read error|corrupt|invalid|bad seek|unable to parse|not a |no image|unsupported image format/i;

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

async function pixelLimitReason(bytes: Buffer, maxPixels: number): Promise<string> {
  try {
    const { width, height } = await sharp(bytes, { limitInputPixels: false }).metadata();
    if (width && height) return `image is ${width}×${height} pixels, over the ${maxPixels}-pixel limit`;
  } catch {
    // fall through to the generic sentence
  }
  return `image exceeds the ${maxPixels}-pixel limit`;
}

/**
 * Whether the file ends the way a complete file of its format must. libvips keeps its error text in one buffer
 * shared by every thread of the process, so with several decodes in flight a failure can come back as plain
 * "Unknown error" (another thread cleared the buffer). The file's own structure then still tells a cut-short file:
 * - JPEG: the EOI marker FF D9 near the end (FF D9 cannot occur inside entropy-coded data; an EXIF thumbnail's
 *   EOI sits at the start of the file, not in its last kilobyte).
 * - PNG: the IEND chunk. GIF: the 0x3B trailer. WebP: as many bytes as the RIFF header announces.
 * Other formats: unknown (undefined).
 */
export function endsCleanly(bytes: Uint8Array, format: string): boolean | undefined {
  const n = bytes.length;
  const tail = (k: number) => Buffer.from(bytes.buffer, bytes.byteOffset + Math.max(0, n - k), Math.min(k, n));
  switch (format) {
    case 'JPEG': {
      const t = tail(1024);
      for (let i = t.length - 2; i >= 0; i--) if (t[i] === 0xff && t[i + 1] === 0xd9) return true;
      return false;
    }
    case 'PNG':
      return tail(32).includes('IEND', 0, 'latin1');
    case 'GIF':
      return tail(16).includes(0x3b);
    case 'WebP':
      return n >= 12 && Buffer.from(bytes.buffer, bytes.byteOffset, 8).readUInt32LE(4) + 8 <= n;
    default:
      return undefined;
  }
}

/** libvips gave no words: another thread cleared its shared error buffer (see endsCleanly). */
function messageLost(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /unknown error/i.test(message) && !DAMAGED.test(message);
}

async function reasonFor(error: unknown, bytes: Buffer, maxPixels: number): Promise<ImageDecodeError> {
  const message = error instanceof Error ? error.message : String(error);
  if (/exceeds pixel limit/i.test(message))
    return new ImageDecodeError(await pixelLimitReason(bytes, maxPixels), message);
  const format = sniffFormat(bytes);
  const detail = firstLine(message);
  if (!format) return new ImageDecodeError('not an image or unsupported format', detail);
  if (UNDECODABLE[format]) return new ImageDecodeError(UNDECODABLE[format], detail);
  if (DAMAGED.test(message) || endsCleanly(bytes, format) === false)
    return new ImageDecodeError(`truncated or corrupt ${format}`, detail);
  // Anything else (out of memory, an unsupported variant of the format) is passed on in libvips' words.
  return new ImageDecodeError(`could not decode ${format}: ${detail}`, detail);
}

/**
 * Decode `bytes` to 8-bit RGB at full size. Throws ImageDecodeError with a short reason for empty, truncated,
 * corrupt, unsupported or over-limit images. Options are trusted (validated by the caller's door).
 */
export async function decodeImage(bytes: Buffer, options: DecodeOptions): Promise<DecodedImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (bytes.length === 0) throw new ImageDecodeError('empty file (0 bytes)');
  const run = (): Promise<{ data: Buffer; info: OutputInfo }> => {
    // No separate metadata() call: it would parse the header a second time (about 8 % of a small JPEG's decode).
    const image = sharp(bytes, { failOn: 'truncated', limitInputPixels: maxPixels, ignoreIcc: true, pages: 1 });
    const pipeline = options.exif === 'apply' ? image.autoOrient() : image;
    return pipeline.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  };
  let result: { data: Buffer; info: OutputInfo };
  try {
    result = await run();
  } catch (error) {
    const format = sniffFormat(bytes);
    // A failure without words on a file that looks whole: decode once more, and keep the result if it succeeds.
    if (!messageLost(error) || !format || endsCleanly(bytes, format) === false)
      throw await reasonFor(error, bytes, maxPixels);
    try {
      result = await run();
    } catch (again) {
      throw await reasonFor(again, bytes, maxPixels);
    }
  }
  const { data, info } = result;
  const rgb = info.channels === 3 ? data : greyToRgb(data, info.width, info.height, info.channels);
  return {
    data: new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength),
    width: info.width,
    height: info.height,
    channels: 3,
    info: { format: sniffFormat(bytes)?.toLowerCase() ?? 'unknown' },
  };
}

/** libvips hands back sRGB as 3 bands; should a one-band image slip through, replicate it as Pillow's L→RGB. */
function greyToRgb(data: Buffer, width: number, height: number, channels: number): Buffer {
  if (channels !== 1) throw new ImageDecodeError(`unsupported colour layout (${channels} channels after conversion)`);
  const n = width * height;
  const out = Buffer.allocUnsafe(n * 3);
  for (let i = 0; i < n; i++) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = data[i];
  return out;
}
