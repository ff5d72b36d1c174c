import { Rng, isInBox, makeBox } from '@nnmax/core';
import { describe, expect, it } from 'vitest';
import { MAX_CORNERS, QuasiRandomSampler, ScrambledHalton, quasiRandomPoints } from './quasi-random.js';

const MAX_CORNERS_DIM = Math.log2(MAX_CORNERS);

/** Centred L2 discrepancy squared (Hickernell 1998, eq. 5.1c) of points in [0, 1]^d. */
function centredL2Discrepancy2(points: readonly Float64Array[]): number {
  const n = points.length;
  const d = points[0].length;
  let a = 0;
  for (const x of points) {
    let p = 1;
    for (let k = 0; k < d; k++) {
      const z = Math.abs(x[k] - 0.5);
      p *= 1 + 0.5 * z - 0.5 * z * z;
    }
    a += p;
  }
  let b = 0;
  for (const x of points) {
    for (const y of points) {
      let p = 1;
      for (let k = 0; k < d; k++) {
        p *= 1 + 0.5 * Math.abs(x[k] - 0.5) + 0.5 * Math.abs(y[k] - 0.5) - 0.5 * Math.abs(x[k] - y[k]);
      }
      b += p;
    }
  }
  return (13 / 12) ** d - (2 / n) * a + b / (n * n);
}

function pseudoRandom(n: number, d: number, rng: Rng): Float64Array[] {
  return Array.from({ length: n }, () => Float64Array.from({ length: d }, () => rng.next()));
}

function unitBox(d: number) {
  return makeBox(new Float64Array(d), new Float64Array(d).fill(1));
}

describe('ScrambledHalton', () => {
  it('puts exactly one point in each cell of the 8 x 9 grid, for any block of 72 consecutive points', () => {
    for (const seed of [1, 2, 3]) {
      const h = new ScrambledHalton(2, new Rng(seed));
      for (let block = 0; block < 3; block++) {
        const counts = new Int32Array(72);
        for (let i = 0; i < 72; i++) {
          const u = h.next();
          counts[Math.floor(u[0] * 8) * 9 + Math.floor(u[1] * 9)]++;
        }
        expect(Array.from(counts).every((c) => c === 1)).toBe(true);
      }
    }
  });

  it('pseudo-random points leave grid cells empty where the Halton design has none empty', () => {
    const rng = new Rng(7);
    const counts = new Int32Array(72);
    for (const u of pseudoRandom(72, 2, rng)) counts[Math.floor(u[0] * 8) * 9 + Math.floor(u[1] * 9)]++;
    // Expected number of empty cells for 72 balls in 72 bins is 72 (1 - 1/72)^72 ~ 26.
    expect(counts.filter((c) => c === 0).length).toBeGreaterThan(10);
  });

  it('has a much smaller centred L2 discrepancy than pseudo-random points (d = 2 and d = 6, n = 256)', () => {
    for (const d of [2, 6]) {
      let halton = 0;
      let random = 0;
      const seeds = [1, 2, 3, 4];
      for (const seed of seeds) {
        const h = new ScrambledHalton(d, new Rng(seed));
        halton += centredL2Discrepancy2(Array.from({ length: 256 }, () => h.next()));
        random += centredL2Discrepancy2(pseudoRandom(256, d, new Rng(100 + seed)));
      }
      expect(halton).toBeLessThan((d === 2 ? 0.1 : 0.5) * random);
    }
  });

  it('gives the same points one at a time as in one batch, across the carries of every digit', () => {
    // 300 points of bases 2, 3, 5, 7 carry into a new digit at 256, 243, 125 and 49
    const one = new ScrambledHalton(4, new Rng(11));
    const all = new ScrambledHalton(4, new Rng(11)).nextBatch(300);
    const split = new ScrambledHalton(4, new Rng(11));
    const parts = [split.nextBatch(124), split.nextBatch(2), split.nextBatch(117), split.nextBatch(57)].flat();
    for (let i = 0; i < 300; i++) {
      const u = one.next();
      expect(Array.from(u)).toEqual(Array.from(all[i]));
      expect(Array.from(parts[i])).toEqual(Array.from(all[i]));
    }
    // and the van der Corput coordinate (base 2) stays a permutation of the dyadic cells
    const cells = new Set(all.slice(0, 256).map((u) => Math.floor(u[0] * 256)));
    expect(cells.size).toBe(256);
  });

  it('scrambling removes the correlation of the highest coordinates of 800-D Halton (bases 6121 and 6133)', () => {
    const h = new ScrambledHalton(800, new Rng(5));
    const pts = Array.from({ length: 256 }, () => h.next());
    const pairs = pts.map((u) => Float64Array.of(u[798], u[799]));
    let random = 0;
    for (const seed of [1, 2, 3, 4]) random += centredL2Discrepancy2(pseudoRandom(256, 2, new Rng(seed))) / 4;
    // Unscrambled, these coordinates are i/6121 and i/6133: all 256 points on one line.
    expect(centredL2Discrepancy2(pairs)).toBeLessThan(2 * random);
    expect(pts.every((u) => u.every((v) => v >= 0 && v < 1))).toBe(true);
  });
});

describe('QuasiRandomSampler', () => {
  it('asks batches of batchSize inside the box and stops exhausted after total points', () => {
    const box = makeBox([-3, 0, 2, 5], [1, 1e-9, 2, 1000]);
    const s = new QuasiRandomSampler({ box, rng: new Rng(1), batchSize: 100, total: 250 });
    const sizes: number[] = [];
    while (s.stop().length === 0) {
      const pts = s.ask();
      sizes.push(pts.length);
      for (const p of pts) {
        expect(isInBox(p, box)).toBe(true);
        expect(p[2]).toBe(2);
      }
      s.tell(pts, Float64Array.from(pts, (p) => p[0] + p[3]));
    }
    expect(sizes).toEqual([100, 100, 50]);
    expect(s.stop()).toEqual(['exhausted']);
    expect(s.ask()).toEqual([]);
    expect(s.best!.value).toBeGreaterThan(1 + 990 - 1);
  });

  it('gives the same points for the same seed, whatever the batch size, and quasiRandomPoints agrees', () => {
    const box = unitBox(5);
    const a = new QuasiRandomSampler({ box, rng: new Rng(42), batchSize: 7 });
    const b = new QuasiRandomSampler({ box, rng: new Rng(42), batchSize: 50 });
    const pa: Float64Array[] = [];
    while (pa.length < 50) {
      const p = a.ask();
      a.tell(p, new Float64Array(p.length));
      pa.push(...p);
    }
    const pb = b.ask();
    const pc = quasiRandomPoints(box, 50, new Rng(42));
    for (let i = 0; i < 50; i++) {
      expect(Array.from(pa[i])).toEqual(Array.from(pb[i]));
      expect(Array.from(pc[i])).toEqual(Array.from(pb[i]));
    }
    const other = quasiRandomPoints(box, 1, new Rng(43));
    expect(Array.from(other[0])).not.toEqual(Array.from(pb[0]));
  });

  it('with corners, the first batch also holds every corner over the free inputs (up to MAX_CORNERS), then the same Halton points', () => {
    const box = makeBox([-3, 0, 2, 5], [1, 1e-9, 2, 1000]); // input 2 fixed: 8 corners
    const s = new QuasiRandomSampler({ box, rng: new Rng(1), batchSize: 10, total: 20, corners: true });
    const plain = new QuasiRandomSampler({ box, rng: new Rng(1), batchSize: 10, total: 20 });
    const first = s.ask();
    expect(first).toHaveLength(18);
    const keys = new Set(first.slice(0, 8).map((p) => Array.from(p).join(',')));
    expect(keys.size).toBe(8);
    for (const p of first.slice(0, 8)) {
      expect([-3, 1]).toContain(p[0]);
      expect([0, 1e-9]).toContain(p[1]);
      expect(p[2]).toBe(2);
      expect([5, 1000]).toContain(p[3]);
    }
    expect(first.slice(8).map((p) => Array.from(p))).toEqual(plain.ask().map((p) => Array.from(p)));
    s.tell(first, new Float64Array(first.length));
    expect(s.ask()).toHaveLength(10); // the corners come once, on top of total
    const wide = new QuasiRandomSampler({ box: unitBox(MAX_CORNERS_DIM + 1), rng: new Rng(1), batchSize: 4, corners: true });
    expect(wide.ask()).toHaveLength(4); // 128 corners: too many
    const six = new QuasiRandomSampler({ box: unitBox(MAX_CORNERS_DIM), rng: new Rng(1), batchSize: 4, corners: true });
    expect(six.ask()).toHaveLength(MAX_CORNERS + 4);
  });
});

