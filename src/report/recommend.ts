/**
 * From a learning curve to advice, with the numbers behind every sentence. The decision matrix (CS231n, "Transfer
 * Learning") has two axes: dataset size and similarity to ImageNet. Size is counted; similarity is not observable,
 * so the linear probe's accuracy stands in for it (frozen ImageNet features that separate the classes well are, in
 * effect, features of a similar domain). The curve's slope says whether more data of the same kind would help.
 */

/** Images per class above which fine-tuning a whole ConvNet is usually safe from overfitting (ImageNet: ~1,300). */
export const LARGE_PER_CLASS = 1000;
/** Accuracy gain per doubling of the training set (percentage points) above which more data is worth collecting. */
export const STEEP_SLOPE_PP = 1;
/** Linear-probe accuracy above which the domain counts as similar, and below which as dissimilar. */
export const SIMILAR_ACCURACY = 0.9;
export const DISSIMILAR_ACCURACY = 0.75;

export interface Recommendation {
  /** Slope of mean accuracy against log2(training images) over the last two points (the final doubling or so), in points per doubling. */
  slopePerDoubling: number;
  /** Mean accuracy at the largest fraction. */
  accuracy: number;
  size: 'small' | 'large';
  domain: 'similar' | 'partly similar' | 'dissimilar';
  moreData: 'likely to help' | 'unlikely to help';
  fineTune: 'not needed' | 'may help' | 'likely to help';
  /** Sentences for people, each with its numbers. */
  lines: string[];
}

const pct = (v: number): string => `${(100 * v).toFixed(1)} %`;
const pp = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(2)} points`;

/** Least-squares slope over the last `last` points: the end of the curve is what predicts the next doubling. */
export function slopePerDoubling(points: Array<{ trainSize: number; mean: number }>, last = 2): number {
  const tail = [...points].sort((a, b) => a.trainSize - b.trainSize).slice(-last);
  if (tail.length < 2) return 0;
  const xs = tail.map((p) => Math.log2(p.trainSize));
  const ys = tail.map((p) => 100 * p.mean);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * (ys[i] - my);
    den += (x - mx) ** 2;
  });
  return den > 0 ? num / den : 0;
}

export function recommend(
  points: Array<{ trainSize: number; mean: number; fraction: number }>,
  perClass: { min: number; median: number; max: number },
): Recommendation {
  const slope = slopePerDoubling(points);
  const full = [...points].sort((a, b) => a.trainSize - b.trainSize)[points.length - 1];
  const accuracy = full.mean;
  const errors = 1 - accuracy;
  const size = perClass.median >= LARGE_PER_CLASS ? 'large' : 'small';
  const domain =
    accuracy >= SIMILAR_ACCURACY ? 'similar' : accuracy >= DISSIMILAR_ACCURACY ? 'partly similar' : 'dissimilar';
  // Steep, and with errors left to remove: 0.5 % of errors cannot yield a point per doubling for long.
  const steep = slope >= STEEP_SLOPE_PP && 100 * errors >= STEEP_SLOPE_PP;
  const lines: string[] = [];

  lines.push(
    `Accuracy when training on the whole train split (${full.trainSize} images per fit; median ${perClass.median} per class, fewest ${perClass.min}): ${pct(accuracy)}; the last doubling of the training set changed it by ${pp(slope)}.`,
  );
  if (steep) {
    lines.push(
      `More data is likely to help: the last doubling added ${pp(slope)}; doubling again to about ${2 * full.trainSize} images per fit should add up to that much (curves flatten, and at most the remaining ${pct(errors)}), if the new images are like the current ones.`,
    );
  } else if (slope >= STEEP_SLOPE_PP) {
    lines.push(
      `More data can add little: the curve still rises ${pp(slope)} per doubling, but only ${pct(errors)} of the images are still misclassified.`,
    );
  } else {
    lines.push(
      `More data of the same kind is unlikely to help much: the curve is flat (${pp(slope)} per doubling, below the ${STEEP_SLOPE_PP}-point threshold).`,
    );
  }

  let fineTune: Recommendation['fineTune'];
  const sizeText = `${size} data (${perClass.median} images per class; ${size === 'small' ? 'below' : 'at or above'} ${LARGE_PER_CLASS})`;
  const domainText = `a ${domain} domain (the frozen features already reach ${pct(accuracy)})`;
  if (domain === 'similar') {
    fineTune = size === 'large' && errors > 0.02 ? 'may help' : 'not needed';
    lines.push(
      size === 'small'
        ? `Keep the fixed features: ${sizeText} and ${domainText} is the classic case for a linear classifier on a frozen ConvNet; fine-tuning would risk overfitting and can gain at most the remaining ${pct(errors)}.`
        : `Fixed features work well here (${domainText}); with ${sizeText} fine-tuning the top layers ${fineTune === 'may help' ? `could recover part of the remaining ${pct(errors)}` : `has little left to gain (${pct(errors)} errors)`}.`,
    );
  } else if (size === 'small') {
    fineTune = 'may help';
    lines.push(
      `With ${sizeText} and ${domainText}, fine-tuning the whole network would likely overfit: first try features from an earlier layer (--layer) or another backbone, then fine-tune only the top block with strong augmentation${steep ? ', and collect more images' : ''}.`,
    );
  } else {
    fineTune = 'likely to help';
    lines.push(
      `With ${sizeText} and ${domainText}, fine-tuning is likely to pay off: the frozen ImageNet features plateau at ${pct(accuracy)}, and there is enough data to adapt the whole network.`,
    );
  }
  return {
    slopePerDoubling: slope,
    accuracy,
    size,
    domain,
    moreData: steep ? 'likely to help' : 'unlikely to help',
    fineTune,
    lines,
  };
}
