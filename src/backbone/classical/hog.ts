/**
 * Histograms of Oriented Gradients — Dalal & Triggs, "Histograms of Oriented Gradients for Human Detection", CVPR 2005.
 *
 * Written here rather than taken from npm: OpenCV's JavaScript build cannot construct its HOGDescriptor (an unbound
 * enum type in @techstark/opencv-js 4.5.2), and `hog-features` has no orientation/spatial interpolation and no L2-Hys,
 * both of which the paper shows matter. The defaults are the paper's best: centred [-1, 0, 1] derivatives, the colour
 * channel with the largest gradient per pixel, 9 unsigned orientation bins over 0–180°, 8×8-pixel cells, 2×2-cell
 * blocks with a one-cell stride, trilinear vote interpolation, L2-Hys block normalisation (clip at 0.2).
 */

export interface HogParams {
  /** Cell side in pixels. */
  cell: number;
  /** Block side in cells. */
  block: number;
  /** Orientation bins over 0–180°. */
  bins: number;
  /** L2-Hys clipping threshold. */
  clip: number;
}

export const DALAL_TRIGGS: HogParams = { cell: 8, block: 2, bins: 9, clip: 0.2 };

export function hogDimension(height: number, width: number, p: HogParams = DALAL_TRIGGS): number {
  const cellsY = Math.floor(height / p.cell);
  const cellsX = Math.floor(width / p.cell);
  const blocksY = cellsY - p.block + 1;
  const blocksX = cellsX - p.block + 1;
  if (blocksY < 1 || blocksX < 1) return 0;
  return blocksY * blocksX * p.block * p.block * p.bins;
}

/** Per-pixel gradient magnitude and unsigned orientation (degrees in [0, 180)) of an interleaved RGB image. */
function gradients(rgb: Float32Array, height: number, width: number): { mag: Float32Array; angle: Float32Array } {
  const mag = new Float32Array(height * width);
  const angle = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    const up = Math.max(0, y - 1);
    const down = Math.min(height - 1, y + 1);
    for (let x = 0; x < width; x++) {
      const left = Math.max(0, x - 1);
      const right = Math.min(width - 1, x + 1);
      let best = -1;
      let bgx = 0;
      let bgy = 0;
      for (let c = 0; c < 3; c++) {
        const gx = rgb[(y * width + right) * 3 + c]! - rgb[(y * width + left) * 3 + c]!;
        const gy = rgb[(down * width + x) * 3 + c]! - rgb[(up * width + x) * 3 + c]!;
        const m = gx * gx + gy * gy;
        if (m > best) {
          best = m;
          bgx = gx;
          bgy = gy;
        }
      }
      const i = y * width + x;
      mag[i] = Math.sqrt(best);
      let a = (Math.atan2(bgy, bgx) * 180) / Math.PI;
      if (a < 0) a += 180;
      if (a >= 180) a -= 180;
      angle[i] = a;
    }
  }
  return { mag, angle };
}

/**
 * The HOG descriptor of one interleaved RGB image (values 0–255, height × width × 3), written into `out` at `offset`
 * (hogDimension values). Blocks are emitted row by row, cells within a block row-major, bins within a cell.
 */
export function hog(
  rgb: Float32Array,
  height: number,
  width: number,
  out: Float32Array,
  offset = 0,
  p: HogParams = DALAL_TRIGGS,
): void {
  const cellsY = Math.floor(height / p.cell);
  const cellsX = Math.floor(width / p.cell);
  const { mag, angle } = gradients(rgb, height, width);
  const hist = new Float64Array(cellsY * cellsX * p.bins);
  const binWidth = 180 / p.bins;
  // Trilinear voting: each pixel splits its magnitude between the two nearest orientation bins and the four nearest
  // cell centres, so a small shift of an edge moves weight smoothly instead of jumping between bins.
  for (let y = 0; y < cellsY * p.cell; y++) {
    const cy = (y + 0.5) / p.cell - 0.5;
    const y0 = Math.floor(cy);
    const fy = cy - y0;
    for (let x = 0; x < cellsX * p.cell; x++) {
      const i = y * width + x;
      const m = mag[i]!;
      if (m === 0) continue;
      const cx = (x + 0.5) / p.cell - 0.5;
      const x0 = Math.floor(cx);
      const fx = cx - x0;
      const pos = angle[i]! / binWidth - 0.5;
      const b0 = Math.floor(pos);
      const fb = pos - b0;
      const bA = (b0 + p.bins) % p.bins;
      const bB = (b0 + 1) % p.bins;
      for (let dy = 0; dy < 2; dy++) {
        const yy = y0 + dy;
        if (yy < 0 || yy >= cellsY) continue;
        const wy = dy === 0 ? 1 - fy : fy;
        for (let dx = 0; dx < 2; dx++) {
          const xx = x0 + dx;
          if (xx < 0 || xx >= cellsX) continue;
          const w = wy * (dx === 0 ? 1 - fx : fx) * m;
          const base = (yy * cellsX + xx) * p.bins;
          hist[base + bA] += w * (1 - fb);
          hist[base + bB] += w * fb;
        }
      }
    }
  }
  const blockLen = p.block * p.block * p.bins;
  const v = new Float64Array(blockLen);
  const eps2 = 1e-6;
  let o = offset;
  for (let by = 0; by + p.block <= cellsY; by++) {
    for (let bx = 0; bx + p.block <= cellsX; bx++) {
      let k = 0;
      for (let j = 0; j < p.block; j++)
        for (let i = 0; i < p.block; i++) {
          const base = ((by + j) * cellsX + (bx + i)) * p.bins;
          for (let b = 0; b < p.bins; b++) v[k++] = hist[base + b]!;
        }
      // L2-Hys: L2-normalise, clip, renormalise.
      let ss = 0;
      for (let t = 0; t < blockLen; t++) ss += v[t]! * v[t]!;
      let norm = Math.sqrt(ss + eps2);
      ss = 0;
      for (let t = 0; t < blockLen; t++) {
        const c = Math.min(v[t]! / norm, p.clip);
        v[t] = c;
        ss += c * c;
      }
      norm = Math.sqrt(ss + eps2);
      for (let t = 0; t < blockLen; t++) out[o++] = v[t]! / norm;
    }
  }
}
