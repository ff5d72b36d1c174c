import fc from 'fast-check';
import { Rng } from '@nnmax/core';
import { ACTIVATION_KINDS, type ActivationKind, type IrGraph, type IrNode } from '@nnmax/onnx';

/** A random small IR network: a chain of dense + activation layers, optionally with a residual add and a concat. */
export interface RandomNetSpec {
  readonly nIn: number;
  readonly widths: number[];
  readonly activations: ActivationKind[];
  readonly residual: boolean;
  readonly concat: boolean;
  readonly seed: number;
}

export const randomNetSpec = (kinds: readonly ActivationKind[] = ACTIVATION_KINDS): fc.Arbitrary<RandomNetSpec> =>
  fc.record({
    nIn: fc.integer({ min: 1, max: 5 }),
    widths: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 3 }),
    activations: fc.array(fc.constantFrom(...kinds), { minLength: 3, maxLength: 3 }),
    residual: fc.boolean(),
    concat: fc.boolean(),
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
  });

/** Builds the IR of a spec with deterministic weights (uniform in [-1, 1)). */
export function buildRandomNet(spec: RandomNetSpec, nOut = 2): IrGraph {
  let s = spec.seed >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
  const nodes: IrNode[] = [];
  const push = (n: Omit<IrNode, 'id'>): number => {
    const id = nodes.length;
    nodes.push({ ...n, id } as IrNode);
    return id;
  };
  const dense = (from: number, nIn: number, size: number): number =>
    push({ kind: 'affine', name: `dense${nodes.length}`, nIn, size, inputs: [from], W: Float64Array.from({ length: size * nIn }, rnd), b: Float64Array.from({ length: size }, rnd) } as Omit<IrNode, 'id'>);
  const act = (from: number, size: number, kind: ActivationKind): number => {
    const extra = kind === 'leakyrelu' ? { alpha: 0.1 } : kind === 'elu' ? { alpha: 0.7 } : kind === 'gelu' ? { approximate: 'none' } : {};
    return push({ kind, name: `${kind}${nodes.length}`, size, inputs: [from], ...extra } as Omit<IrNode, 'id'>);
  };
  let cur = push({ kind: 'input', name: 'x', size: spec.nIn, inputs: [] });
  let width = spec.nIn;
  spec.widths.forEach((w, i) => {
    const kind = spec.activations[i % spec.activations.length];
    let h = act(dense(cur, width, w), w, kind);
    if (spec.residual && i > 0) {
      const skip = dense(cur, width, w);
      h = push({ kind: 'add', name: `add${nodes.length}`, size: w, inputs: [h, skip] });
    }
    cur = h;
    width = w;
  });
  if (spec.concat) {
    const side = act(dense(0, spec.nIn, 2), 2, spec.activations[2]);
    cur = push({ kind: 'concat', name: `concat${nodes.length}`, size: width + 2, inputs: [cur, side] });
    width += 2;
  }
  const out = dense(cur, width, nOut);
  return { nodes, input: 0, output: out, nIn: spec.nIn, nOut };
}

/**
 * A seeded dense ReLU chain: sizes[0] inputs, a ReLU after every layer but the last. Weights are
 * standard normal (divided by sqrt(fan-in) when `fanInScaled`), biases 0.3 x normal.
 */
export function denseReluNet(seed: number, sizes: readonly number[], fanInScaled: boolean): IrGraph {
  const rng = new Rng(seed);
  const nodes: IrNode[] = [{ id: 0, name: 'x', kind: 'input', size: sizes[0], inputs: [] }];
  let cur = 0;
  for (let l = 1; l < sizes.length; l++) {
    const nIn = sizes[l - 1];
    const size = sizes[l];
    const W = Float64Array.from({ length: size * nIn }, () => (fanInScaled ? rng.normal() / Math.sqrt(nIn) : rng.normal()));
    const b = Float64Array.from({ length: size }, () => 0.3 * rng.normal());
    const prev = cur;
    cur = nodes.length;
    nodes.push({ id: cur, name: `dense${cur}`, kind: 'affine', size, inputs: [prev], nIn, W, b } as IrNode);
    if (l < sizes.length - 1) {
      nodes.push({ id: cur + 1, name: `relu${cur + 1}`, kind: 'relu', size, inputs: [cur] } as IrNode);
      cur++;
    }
  }
  return { nodes, input: 0, output: cur, nIn: sizes[0], nOut: sizes[sizes.length - 1] };
}
