/** A small upright JPEG of a photo as a data: URI, for self-contained HTML pages (evaluation report, audit). */
import sharp from 'sharp';

export const THUMBNAIL_SIZE = 96;

/** null when the file moved or cannot be read since extraction: the page says so instead of a broken image. */
export async function thumbnailDataUri(file: string, size = THUMBNAIL_SIZE): Promise<string | null> {
  try {
    const jpeg = await sharp(file, { failOn: 'none' })
      .rotate() // upright by EXIF, as a person expects to see the photo
      .resize(size, size, { fit: 'cover' })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 72 })
      .toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch {
    return null;
  }
}
