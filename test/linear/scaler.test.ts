import { Scaler } from '../../src/linear/scaler';

describe('Scaler', () => {
  const X = Float32Array.of(3, 4, 5, 0, 0, 0, 1, 4, 5);
  test('l2 normalises rows and leaves a zero row at zero', () => {
    const s = new Scaler('l2').fit(X, 3);
    const out = s.transform(X);
    expect(Array.from(out.subarray(0, 3)).map((v) => +v.toFixed(6))).toEqual([0.424264, 0.565685, 0.707107]);
    expect(Array.from(out.subarray(3, 6))).toEqual([0, 0, 0]);
  });

  test('standard: zero mean, unit std, a constant column stays finite; JSON round trip', () => {
    const s = new Scaler('standard').fit(X, 3);
    const out = s.transform(X);
    expect(out.every(Number.isFinite)).toBe(true);
    let mean = 0;
    let sq = 0;
    for (let i = 0; i < 3; i++) mean += out[i * 3] / 3;
    for (let i = 0; i < 3; i++) sq += (out[i * 3] - mean) ** 2 / 3;
    expect(mean).toBeCloseTo(0, 6);
    expect(sq).toBeCloseTo(1, 5);
    const constant = new Scaler('standard').fit(Float32Array.of(2, 1, 2, 3), 2).transform(Float32Array.of(2, 5));
    expect(Array.from(constant)).toEqual([0, 3]);
    const back = Scaler.fromJSON(JSON.parse(JSON.stringify(s.toJSON())));
    expect(Array.from(back.transform(X))).toEqual(Array.from(out));
  });

  test('none copies; the input is never modified', () => {
    const copy = Float32Array.from(X);
    const out = new Scaler('none').fit(X, 3).transform(X);
    expect(out).not.toBe(X);
    expect(Array.from(out)).toEqual(Array.from(copy));
    new Scaler('l2').fit(X, 3).transform(X);
    expect(Array.from(X)).toEqual(Array.from(copy));
  });
});
