/**
 * Decoding: every image kind the issue names becomes 8-bit RGB the way Pillow's convert('RGB') does (or better,
 * where documented), and every bad input yields a short human reason. Synthetic images are made with sharp here.
 */
import { tinyBmp } from '../support/bmp';
import * as fs from 'fs';
import * as zlib from 'zlib';
import sharp, { type Sharp } from 'sharp';
import { decodeImage, endsCleanly, ImageDecodeError, refusalFromHead, sniffFormat } from '../../src/preprocess';
import { photos } from '../support/data';

const IGNORE = { exif: 'ignore' } as const;

function raw8(width: number, height: number, channels: 1 | 2 | 3 | 4, fn: (i: number) => number): Sharp {
  const data = Buffer.alloc(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = fn(i);
  return sharp(data, { raw: { width, height, channels } });
}

async function reasonOf(bytes: Buffer, maxPixels?: number): Promise<string> {
  try {
    await decodeImage(bytes, { exif: 'ignore', maxPixels });
  } catch (error) {
    expect(error).toBeInstanceOf(ImageDecodeError);
    return (error as ImageDecodeError).reason;
  }
  throw new Error('expected the decode to fail');
}

/** A valid small PNG whose header claims width×height: a decompression bomb as far as the header goes. */
async function bombPng(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(
    await raw8(8, 8, 3, () => 0)
      .png()
      .toBuffer(),
  );
  const ihdr = png.indexOf('IHDR');
  png.writeUInt32BE(width, ihdr + 4);
  png.writeUInt32BE(height, ihdr + 8);
  png.writeUInt32BE(zlib.crc32(png.subarray(ihdr, ihdr + 17)) >>> 0, ihdr + 17);
  return png;
}

describe('decodeImage: colour layouts become RGB', () => {
  test('a real photo decodes at full size to width×height×3', async () => {
    const [file] = photos('train', 'airplane', 1);
    const bytes = fs.readFileSync(file);
    const meta = await sharp(bytes).metadata();
    const image = await decodeImage(bytes, IGNORE);
    expect([image.width, image.height, image.channels]).toEqual([meta.width, meta.height, 3]);
    expect(image.data.length).toBe(meta.width! * meta.height! * 3);
    expect(image.info.format).toBe('jpeg');
  });

  test('greyscale (one band) is replicated to three equal channels', async () => {
    const png = await raw8(5, 3, 1, (i) => i * 10)
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect((await sharp(png).metadata()).channels).toBe(1);
    const image = await decodeImage(png, IGNORE);
    expect(Array.from(image.data.subarray(0, 9))).toEqual([0, 0, 0, 10, 10, 10, 20, 20, 20]);
    expect(image.data.length).toBe(5 * 3 * 3);
  });

  test('CMYK JPEG becomes sRGB close to the RGB original', async () => {
    const [file] = photos('train', 'car', 1);
    const rgb = fs.readFileSync(file);
    const cmyk = await sharp(rgb).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const a = await decodeImage(cmyk, IGNORE);
    const b = await decodeImage(rgb, IGNORE);
    expect([a.width, a.height, a.channels]).toEqual([b.width, b.height, 3]);
    let sum = 0;
    for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
    // ICC round trip through libvips' generic CMYK profile: about 8 levels on average, not a channel inversion.
    expect(sum / a.data.length).toBeLessThan(20);
  });

  test('palette PNG expands to its palette colours', async () => {
    const colours = [
      [200, 10, 30],
      [0, 128, 255],
    ];
    const png = await raw8(4, 2, 3, (i) => colours[Math.floor(i / 3) % 2][i % 3])
      .png({ palette: true, colours: 2, dither: 0 })
      .toBuffer();
    expect((await sharp(png).metadata()).isPalette).toBe(true);
    const image = await decodeImage(png, IGNORE);
    expect(Array.from(image.data.subarray(0, 6))).toEqual([...colours[0], ...colours[1]]);
  });

  test('RGBA drops alpha without compositing, as Pillow RGBA→RGB (a fully transparent pixel keeps its colour)', async () => {
    const png = await raw8(2, 1, 4, (i) => [200, 10, 30, 0, 50, 60, 70, 255][i])
      .png()
      .toBuffer();
    expect((await sharp(png).metadata()).channels).toBe(4);
    const image = await decodeImage(png, IGNORE);
    expect(Array.from(image.data)).toEqual([200, 10, 30, 50, 60, 70]);
  });

  test('grey + alpha drops alpha and replicates the grey', async () => {
    const png = await raw8(2, 1, 2, (i) => [99, 0, 7, 255][i])
      .toColourspace('b-w')
      .png()
      .toBuffer();
    const image = await decodeImage(png, IGNORE);
    expect(Array.from(image.data)).toEqual([99, 99, 99, 7, 7, 7]);
  });

  test('16-bit PNG keeps the high byte (v >> 8), for RGB and for greyscale', async () => {
    const values = [0x12ff, 0x8080, 0xffff, 0x00ff, 0x7fff, 0x0100];
    const rgb16 = await sharp(Uint16Array.from(values), { raw: { width: 2, height: 1, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(rgb16).metadata()).depth).toBe('ushort');
    expect(Array.from((await decodeImage(rgb16, IGNORE)).data)).toEqual([0x12, 0x80, 0xff, 0x00, 0x7f, 0x01]);

    const grey16 = await sharp(Uint16Array.from(values), { raw: { width: 6, height: 1, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toBuffer();
    expect((await sharp(grey16).metadata()).space).toBe('grey16');
    const grey = (await decodeImage(grey16, IGNORE)).data;
    // Pillow would clip these to 255 (its I;16 → RGB conversion); scaling keeps the image.
    expect(Array.from(grey.filter((_, i) => i % 3 === 0))).toEqual([0x12, 0x80, 0xff, 0x00, 0x7f, 0x01]);
  });

  test('animated GIF: the first frame', async () => {
    const frames = Buffer.concat([Buffer.alloc(4 * 4 * 3, 10), Buffer.alloc(4 * 4 * 3, 200)]);
    const gif = await sharp(frames, { raw: { width: 4, height: 8, channels: 3, pageHeight: 4 } })
      .gif()
      .toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const image = await decodeImage(gif, IGNORE);
    expect([image.width, image.height]).toEqual([4, 4]);
    expect(image.data.every((v) => v === 10)).toBe(true);
  });

  test('lossless WebP decodes to the exact pixels', async () => {
    const webp = await raw8(6, 5, 3, (i) => (i * 29) % 256)
      .webp({ lossless: true })
      .toBuffer();
    const image = await decodeImage(webp, IGNORE);
    expect(Array.from(image.data)).toEqual(Array.from({ length: 6 * 5 * 3 }, (_, i) => (i * 29) % 256));
    expect(image.info.format).toBe('webp');
  });

  test('EXIF orientation 6: "apply" turns the photo upright (90° clockwise), "ignore" keeps the stored pixels', async () => {
    const [file] = photos('train', 'dog', 1);
    const stored = await sharp(fs.readFileSync(file)).resize(100, 60, { fit: 'fill' }).jpeg().toBuffer();
    const tagged = await sharp(stored).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const ignored = await decodeImage(tagged, IGNORE);
    const applied = await decodeImage(tagged, { exif: 'apply' });
    expect((await sharp(tagged).metadata()).orientation).toBe(6);
    expect([ignored.width, ignored.height]).toEqual([100, 60]);
    expect([applied.width, applied.height]).toEqual([60, 100]);
    // Rotating the ignored pixels by 90° clockwise gives exactly the applied ones (a lossless rotation).
    const { width: W, height: H } = ignored;
    let mismatches = 0;
    for (let y = 0; y < W; y++) {
      for (let x = 0; x < H; x++) {
        for (let c = 0; c < 3; c++) {
          if (applied.data[(y * H + x) * 3 + c] !== ignored.data[((H - 1 - x) * W + y) * 3 + c]) mismatches++;
        }
      }
    }
    expect(mismatches).toBe(0);
  });
});

describe('decodeImage: bad input gives one short reason', () => {
  test('zero-byte file', async () => {
    expect(await reasonOf(Buffer.alloc(0))).toBe('empty file (0 bytes)');
  });

  test('files of a few bytes, each in a buffer of its own size, are "not an image", not a RangeError', async () => {
    for (const text of ['x', 'ab', 'abc', 'RIFF', 'RIFF12', 'GIF8', '\x89PN']) {
      const own = Buffer.from(new Uint8Array(Buffer.from(text, 'latin1')).buffer); // no pooled slack after it
      expect(own.buffer.byteLength).toBe(own.length);
      expect(sniffFormat(own)).toBe(text === 'GIF8' ? 'GIF' : undefined);
      expect(await reasonOf(own)).toBe(
        text === 'GIF8' ? 'truncated or corrupt GIF' : 'not an image or unsupported format',
      );
    }
  });

  test('random bytes and text are not images', async () => {
    const random = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
    expect(await reasonOf(random)).toBe('not an image or unsupported format');
    expect(await reasonOf(Buffer.from('path,label\ncat.jpg,cat\n'))).toBe('not an image or unsupported format');
  });

  test('a truncated JPEG fails (as Pillow does), wherever it is cut', async () => {
    const [file] = photos('train', 'cat', 1);
    const bytes = fs.readFileSync(file);
    for (const keep of [0.02, 0.5, 0.95, 0.999]) {
      expect(await reasonOf(bytes.subarray(0, Math.floor(bytes.length * keep)))).toBe('truncated or corrupt JPEG');
    }
  });

  test('truncated PNG, GIF and WebP name their format', async () => {
    const [file] = photos('train', 'flower', 1);
    const source = sharp(fs.readFileSync(file));
    for (const [format, bytes] of [
      ['PNG', await source.clone().png().toBuffer()],
      ['GIF', await source.clone().gif().toBuffer()],
      ['WebP', await source.clone().webp().toBuffer()],
    ] as const) {
      expect(sniffFormat(bytes)).toBe(format);
      expect(await reasonOf(bytes.subarray(0, bytes.length >> 1))).toBe(`truncated or corrupt ${format}`);
    }
  });

  test('endsCleanly tells complete files from cut-short ones in every format it knows', async () => {
    const [file] = photos('train', 'flower', 1);
    const jpeg = fs.readFileSync(file);
    const source = sharp(jpeg);
    for (const [format, bytes] of [
      ['JPEG', jpeg],
      ['PNG', await source.clone().png().toBuffer()],
      ['GIF', await source.clone().gif().toBuffer()],
      ['WebP', await source.clone().webp().toBuffer()],
    ] as const) {
      expect([format, endsCleanly(bytes, format)]).toEqual([format, true]);
      for (const keep of [0.1, 0.5, 0.99]) {
        const cut = bytes.subarray(0, Math.floor(bytes.length * keep));
        expect([format, keep, endsCleanly(cut, format)]).toEqual([format, keep, false]);
      }
    }
    expect(endsCleanly(jpeg, 'TIFF')).toBeUndefined();
  });

  test('many truncated files decoded at once all get their reason (libvips shares one error buffer)', async () => {
    const files = photos('train', 'cat', 8);
    const cut = files.map((f) => {
      const bytes = fs.readFileSync(f);
      return bytes.subarray(0, bytes.length >> 1);
    });
    const reasons = await Promise.all([...cut, ...cut, ...cut, ...cut].map((b) => reasonOf(b)));
    expect(new Set(reasons)).toEqual(new Set(['truncated or corrupt JPEG']));
  });

  test('a decompression bomb (20000×20000 header) is refused before decoding, with its size', async () => {
    const bomb = await bombPng(20000, 20000);
    expect(await reasonOf(bomb)).toBe('image is 20000×20000 pixels, over the 100000000-pixel limit');
  });

  test('maxPixels applies to real images too', async () => {
    const [file] = photos('train', 'car', 1); // 100×100
    expect(await reasonOf(fs.readFileSync(file), 5000)).toBe('image is 100×100 pixels, over the 5000-pixel limit');
    await expect(decodeImage(fs.readFileSync(file), { exif: 'ignore', maxPixels: 10000 })).resolves.toMatchObject({
      width: 100,
    });
  });
});

describe('sniffing from the first bytes (what extract checks before reading a file whole)', () => {
  const box = (brand: string): Buffer =>
    Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from(`ftyp${brand}\0\0\0\0mif1`, 'latin1')]);

  test('MP4/MOV videos share HEIF’s box layout but are not images; HEIF and AVIF brands are', () => {
    for (const brand of ['isom', 'mp42', 'qt  ', 'M4V ']) expect(sniffFormat(box(brand))).toBeUndefined();
    for (const brand of ['heic', 'mif1', 'heix']) expect(sniffFormat(box(brand))).toBe('HEIF');
    expect(sniffFormat(box('avif'))).toBe('AVIF');
    expect(refusalFromHead(box('isom'))).toBe('not an image or unsupported format');
  });

  test('SVG is recognised (with a BOM, white space, an XML declaration or a comment); other text is not', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>';
    for (const text of [svg, `\ufeff  \n<?xml version="1.0"?>${svg}`, `<!-- c -->${svg}`])
      expect(sniffFormat(Buffer.from(text))).toBe('SVG');
    expect(sniffFormat(Buffer.from('path,label\n'))).toBeUndefined();
    expect(sniffFormat(Buffer.from('< not markup'))).toBeUndefined();
    await expect(decodeImage(Buffer.from(svg), { exif: 'ignore' })).resolves.toMatchObject({ width: 4, height: 4 });
  });

  test('a valid BMP is "BMP is not supported", not "truncated or corrupt BMP" (sharp has no BMP loader)', async () => {
    const bmp = tinyBmp();
    expect(sharp.format.magick?.input?.buffer ?? false).toBe(false); // if a build gains a BMP loader, revisit
    expect(await reasonOf(bmp)).toBe('BMP is not supported (sharp cannot decode it); convert it to PNG');
    expect(refusalFromHead(bmp)).toBe('BMP is not supported (sharp cannot decode it); convert it to PNG');
  });
});
