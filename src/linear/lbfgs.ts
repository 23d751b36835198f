// Limited-memory BFGS: Nocedal 1980 (Math. Comp. 35), Liu & Nocedal 1989 (Math. Prog. 45); line search: Nocedal & Wright, Numerical Optimization, Alg. 3.5/3.6.
/**
 * Unconstrained L-BFGS with the two-loop recursion and a strong-Wolfe line search (bracketing, then zoom by
 * safeguarded cubic interpolation). Tolerances are named as in scipy's L-BFGS-B: `m` correction pairs, `gtol`
 * on the infinity norm of the gradient, `ftol` on the relative reduction (f_k − f_{k+1}) / max(|f_k|, |f_{k+1}|, 1).
 */

/** Writes the gradient at x into g and returns f(x). */
export type ObjectiveFn = (x: Float64Array, g: Float64Array) => number;

export interface LbfgsOptions {
  m: number;
  gtol: number;
  ftol: number;
  maxIter: number;
  /** Most function evaluations one line search may spend. */
  maxLineSearch: number;
  /** Sufficient decrease (Armijo) and curvature constants of the strong Wolfe conditions. */
  c1: number;
  c2: number;
}

export const LBFGS_DEFAULTS: LbfgsOptions = {
  m: 10,
  gtol: 1e-5,
  ftol: 2.220446049250313e-9, // scipy's factr 1e7 × machine epsilon
  maxIter: 500,
  maxLineSearch: 20,
  c1: 1e-4,
  c2: 0.9,
};

export type LbfgsStop = 'gtol' | 'ftol' | 'maxIter' | 'lineSearch' | 'callback';

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  iterations: number;
  evaluations: number;
  stop: LbfgsStop;
}

function dotv(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function infNorm(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m) m = v;
  }
  return m;
}

/** Minimiser of the cubic through (a, fa, da) and (b, fb, db), kept inside the interval's central 80 %. */
function cubicStep(a: number, fa: number, da: number, b: number, fb: number, db: number): number {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  const d1 = da + db - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - da * db;
  let t = (a + b) / 2;
  if (disc >= 0) {
    const d2 = Math.sign(b - a) * Math.sqrt(disc);
    const c = b - ((b - a) * (db + d2 - d1)) / (db - da + 2 * d2);
    if (Number.isFinite(c)) t = c;
  }
  const margin = 0.1 * (hi - lo);
  return Math.min(Math.max(t, lo + margin), hi - margin);
}

/**
 * @param onIteration called after each accepted step with (iteration, x, f); returning true stops the solver.
 */
export function minimizeLbfgs(
  fg: ObjectiveFn,
  x0: Float64Array,
  options: Partial<LbfgsOptions> = {},
  onIteration?: (iteration: number, x: Float64Array, f: number) => boolean | void,
): LbfgsResult {
  const o = { ...LBFGS_DEFAULTS, ...options };
  const n = x0.length;
  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let xNew = new Float64Array(n);
  let gNew = new Float64Array(n);
  const d = new Float64Array(n);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const alphaBuf = new Float64Array(o.m);
  let f = fg(x, g);
  let evaluations = 1;
  let iterations = 0;
  let stop: LbfgsStop = 'maxIter';
  if (infNorm(g) <= o.gtol) return { x, f, iterations, evaluations, stop: 'gtol' };

  while (iterations < o.maxIter) {
    // Two-loop recursion: d = −H g.
    for (let i = 0; i < n; i++) d[i] = -g[i];
    const k = S.length;
    for (let j = k - 1; j >= 0; j--) {
      alphaBuf[j] = rho[j] * dotv(S[j], d);
      const yj = Y[j];
      const a = alphaBuf[j];
      for (let i = 0; i < n; i++) d[i] -= a * yj[i];
    }
    if (k > 0) {
      const gamma = dotv(S[k - 1], Y[k - 1]) / dotv(Y[k - 1], Y[k - 1]);
      for (let i = 0; i < n; i++) d[i] *= gamma;
    }
    for (let j = 0; j < k; j++) {
      const beta = rho[j] * dotv(Y[j], d);
      const sj = S[j];
      const c = alphaBuf[j] - beta;
      for (let i = 0; i < n; i++) d[i] += c * sj[i];
    }
    let dg0 = dotv(g, d);
    if (!(dg0 < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i];
      dg0 = dotv(g, d);
    }
    const step0 = S.length === 0 ? Math.min(1, 1 / Math.sqrt(-dg0)) : 1;

    // Strong-Wolfe line search along d; the last evaluation always leaves (xNew, gNew) at the returned step.
    let evalsHere = 0;
    const phi = (a: number): [number, number] => {
      for (let i = 0; i < n; i++) xNew[i] = x[i] + a * d[i];
      const fa = fg(xNew, gNew);
      evaluations++;
      evalsHere++;
      return [fa, dotv(gNew, d)];
    };
    const armijo = (a: number, fa: number): boolean => fa <= f + o.c1 * a * dg0;
    const curvature = (da: number): boolean => Math.abs(da) <= -o.c2 * dg0;
    const zoom = (
      lo: number,
      flo: number,
      dlo: number,
      hi: number,
      fhi: number,
      dhi: number,
    ): [number, number] | null => {
      while (evalsHere < o.maxLineSearch) {
        const a = cubicStep(lo, flo, dlo, hi, fhi, dhi);
        const [fa, da] = phi(a);
        if (!armijo(a, fa) || fa >= flo) {
          hi = a;
          fhi = fa;
          dhi = da;
        } else {
          if (curvature(da)) return [a, fa];
          if (da * (hi - lo) >= 0) {
            hi = lo;
            fhi = flo;
            dhi = dlo;
          }
          lo = a;
          flo = fa;
          dlo = da;
        }
      }
      // Out of budget: accept the best point with sufficient decrease, if any.
      if (lo > 0) return [lo, phi(lo)[0]];
      return null;
    };
    let accepted: [number, number] | null = null;
    let aPrev = 0;
    let fPrev = f;
    let dPrev = dg0;
    let a = step0;
    while (evalsHere < o.maxLineSearch) {
      const [fa, da] = phi(a);
      if (!Number.isFinite(fa)) {
        a = (aPrev + a) / 2;
        continue;
      }
      if (!armijo(a, fa) || (evalsHere > 1 && fa >= fPrev)) {
        accepted = zoom(aPrev, fPrev, dPrev, a, fa, da);
        break;
      }
      if (curvature(da)) {
        accepted = [a, fa];
        break;
      }
      if (da >= 0) {
        accepted = zoom(a, fa, da, aPrev, fPrev, dPrev);
        break;
      }
      aPrev = a;
      fPrev = fa;
      dPrev = da;
      a *= 2;
    }
    if (!accepted) {
      stop = 'lineSearch';
      break;
    }
    const fNew = accepted[1];
    // Curvature pair; skipped when yᵀs is not safely positive (keeps H positive definite).
    const s = new Float64Array(n);
    const yv = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i] - x[i];
      yv[i] = gNew[i] - g[i];
    }
    const ys = dotv(yv, s);
    if (ys > 1e-10 * dotv(yv, yv)) {
      if (S.length === o.m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(yv);
      rho.push(1 / ys);
    }
    [x, xNew] = [xNew, x];
    [g, gNew] = [gNew, g];
    const fOld = f;
    f = fNew;
    iterations++;
    if (onIteration && onIteration(iterations, x, f) === true) {
      stop = 'callback';
      break;
    }
    if (infNorm(g) <= o.gtol) {
      stop = 'gtol';
      break;
    }
    if ((fOld - f) / Math.max(Math.abs(fOld), Math.abs(f), 1) <= o.ftol) {
      stop = 'ftol';
      break;
    }
  }
  return { x, f, iterations, evaluations, stop };
}
