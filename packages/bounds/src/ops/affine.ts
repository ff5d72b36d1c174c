import { nextDown, nextUp } from '@nnmax/core';
import type { AffineNode } from '@nnmax/onnx';
import type { BackwardOptions, BackwardStep, BoundOp } from '../bound-op.js';
import { makeIntervalBatch, magnitudeSums, magnitudes, type IntervalBatch } from '../interval-batch.js';
import { absolute, absRowSums, rowsTimesMatrix, rowsTimesRowsT } from '../kernels.js';
import type { LinearCoeffs } from '../linear-coeffs.js';
import { SLOT, scratchF64 } from '../scratch.js';
import { UNDERFLOW_FLOOR } from '../soundness.js';

/** y = W x + b. */
export class AffineBound implements BoundOp<AffineNode> {
  /**
   * Centre/radius form: y in W mid + b +- |W| rad, where [mid - rad, mid + rad] encloses [lo, hi]
   * (rad is rounded up, so the enclosure is exact). The float error of the dot products
   * c = W mid + b and r = |W| rad is at most gamma (|b| + |W_j| . (|mid| + rad)) (Higham eq. 3.5),
   * which is at most gamma (|b| + max(|mid| + rad) sum |W_j|): that bound costs no third matrix
   * product and is looser by at most a factor nIn on a term of order 1e-14 relative. `errorFactor`
   * >= 2 gamma also covers the rounding of that error term and of the final c - r - err and
   * c + r + err; both ends then step one ulp outward. A sum that overflows makes the interval
   * (-inf, inf), which the traversal marks as overflow.
   */
  interval(node: AffineNode, inputs: readonly IntervalBatch[], errorFactor: number): IntervalBatch {
    const inp = inputs[0];
    const { W, b, nIn, size } = node;
    const nBoxes = inp.nBoxes;
    const out = makeIntervalBatch(nBoxes, size);
    const mid = scratchF64(SLOT.affineMid, nBoxes * nIn); // [nBoxes, nIn]
    const rad = scratchF64(SLOT.affineRad, nBoxes * nIn); // [nBoxes, nIn]
    const magMax = scratchF64(SLOT.affineMagMax, nBoxes); // [nBoxes] max over inputs of |mid| + rad
    for (let q = 0; q < nBoxes; q++) {
      let mx = 0;
      for (let k = 0; k < nIn; k++) {
        const i = q * nIn + k;
        const l = inp.lo[i];
        const h = inp.hi[i];
        const m = 0.5 * l + 0.5 * h;
        const d = nextUp(Math.max(h - m, m - l));
        mid[i] = m;
        rad[i] = d;
        if (Math.abs(m) + d > mx) mx = Math.abs(m) + d;
      }
      magMax[q] = mx;
    }
    const absW = absolute(W);
    const rowAbs = absRowSums(W, size, nIn);
    const c = scratchF64(SLOT.affineC, nBoxes * size); // [nBoxes, size]
    const r = scratchF64(SLOT.affineR, nBoxes * size); // [nBoxes, size]
    rowsTimesRowsT(mid, nBoxes, W, size, nIn, c);
    rowsTimesRowsT(rad, nBoxes, absW, size, nIn, r);
    for (let s = 0; s < nBoxes; s++) {
      const oo = s * size;
      for (let j = 0; j < size; j++) {
        const q = oo + j;
        const cj = c[q] + b[j];
        const err = errorFactor * (Math.abs(b[j]) + magMax[s] * rowAbs[j]) + UNDERFLOW_FLOOR;
        if (!Number.isFinite(err) || !Number.isFinite(cj)) {
          out.lo[q] = -Infinity;
          out.hi[q] = Infinity;
          continue;
        }
        out.lo[q] = nextDown(cj - r[q] - err);
        out.hi[q] = nextUp(cj + r[q] + err);
      }
    }
    return out;
  }

  /**
   * A . y = (A W) . x + A . b. The computed A W is off by at most gamma |A| |W| per entry, so as
   * a coefficient on x (|x| <= xMax) it errs by at most gamma |A| (|W| xMax); with the error of
   * A . b, the slack is G |A| (|W| xMax + |b|) (G = errorFactor >= 2 gamma covers the rounding
   * of the slack expression), plus the underflow floor scaled by 1 + sum xMax.
   */
  backward(
    node: AffineNode,
    coeffs: LinearCoeffs,
    inputs: readonly IntervalBatch[],
    _self: IntervalBatch,
    options: BackwardOptions,
  ): BackwardStep {
    const inp = inputs[0];
    const { W, b, nIn, size } = node;
    const { nRows, A, rowBox } = coeffs;
    const G = options.errorFactor;
    const nBoxes = inp.nBoxes;
    const memo = options.memo ?? ((_key: string, compute: () => Float64Array) => compute());
    // v[box, j] = |W_j| . xMax(box) + |b_j|, and the underflow floor's multiplier per box
    const v = memo('v', () => {
      const xMax = magnitudes(inp); // [nBoxes, nIn]
      const out = new Float64Array(nBoxes * size); // [nBoxes, size]
      rowsTimesRowsT(xMax, nBoxes, absolute(W), size, nIn, out);
      for (let s = 0; s < nBoxes; s++) for (let j = 0; j < size; j++) out[s * size + j] += Math.abs(b[j]);
      return out;
    });
    const floor = memo('floor', () => magnitudeSums(magnitudes(inp), nBoxes, nIn));
    const out = options.allocate?.(nRows * nIn) ?? new Float64Array(nRows * nIn); // [nRows, nIn]
    rowsTimesMatrix(A, nRows, size, W, nIn, out, options.deadInput === undefined ? undefined : { rowBox, dead: options.deadInput });
    const bias = options.allocate?.(nRows) ?? new Float64Array(nRows);
    const slack = options.allocate?.(nRows) ?? new Float64Array(nRows);
    affineBackwardRows(A, nRows, size, rowBox, b, v, floor, G, bias, slack);
    return { inputCoeffs: [out], bias, slack };
  }
}

/**
 * The bias and rounding slack of the affine backward step, row by row: a kernel of typed arrays
 * and numbers only, outside the method (see `backwardRows` in activation-bound.ts for why).
 */
function affineBackwardRows(
  A: Float64Array,
  nRows: number,
  size: number,
  rowBox: Int32Array,
  b: Float64Array,
  v: Float64Array,
  floor: Float64Array,
  G: number,
  bias: Float64Array,
  slack: Float64Array,
): void {
  for (let r = 0; r < nRows; r++) {
    const ro = r * size;
    const box = rowBox[r];
    const vo = box * size;
    let bsum = 0;
    let err = 0;
    for (let j = 0; j < size; j++) {
      const a = A[ro + j];
      if (a === 0) continue;
      bsum += a * b[j];
      err += Math.abs(a) * v[vo + j];
    }
    bias[r] = bsum;
    slack[r] = G * err + UNDERFLOW_FLOOR * floor[box];
  }
}
