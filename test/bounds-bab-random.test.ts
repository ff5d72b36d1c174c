import fc from 'fast-check';
import { makeBox, Rng, type Box } from '@nnmax/core';
import { branchAndBound, DomainBounder, evaluateSpec, reluLayout, type BabDomain, type InputPolytope, type MaxMinSpec, type PruneState } from '@nnmax/bounds';
import { forwardAll, type IrGraph } from '@nnmax/onnx';
import { describe, expect, it } from 'vitest';
import { campaignRuns, campaignSeed } from './helpers/campaign.js';
import { inThreadHelper } from './helpers/in-thread-helper.js';
import { boxArb, buildNet, densePoints, maxMinSpecOf, netSpec, type NetSpec } from './helpers/random-nets.js';

/**
 * Branch-and-bound's bookkeeping on random small networks (every activation, DAG blocks), checked
 * domain by domain: after every bounding round, each domain's bound is above the objective at
 * dense points of the domain (its corners, centre, the maximiser of its linear bound, and uniform
 * samples), for both split modes, with and without alpha-CROWN. This covers what the single-box
 * property tests of bounds-random.test.ts do not: what children inherit from their parents
 * (bounds, intervals, alpha slopes, stable signs), ReLU split constraints, dropped disjuncts and
 * the combined rows of multi-term disjuncts, at every depth of the tree; and domains smaller than
 * their boxes (linear rows, an integer input), where only points of the domain count. No
 * tolerance: the bounds carry a rounding slack larger than the float64 reference forward's error.
 */

const POINTS_PER_DOMAIN = 48;
/** fast-check runs; NNMAX_SOUNDNESS_RUNS raises it for a long campaign (with FC_SEED for other cases). */
const RUNS = campaignRuns(60);

interface Case {
  readonly graph: IrGraph;
  readonly spec: MaxMinSpec;
  readonly roots: readonly Box[];
  /** 'auto' with 13 to 15 inputs: ReLU mode, with input splits once at most 6 are free or an integer is open. */
  readonly split: 'input' | 'relu' | 'auto';
  readonly alphaIterations: number;
  /** 'bare': no incumbent (nothing is pruned, every domain keeps every disjunct); 'real': the default evaluation, pruning and targets. */
  readonly mode: 'bare' | 'real';
  readonly target: number | undefined;
  readonly tol: number;
  /** A helper (in-thread, replies after this many ms, domains copied as to a worker), or none. */
  readonly helperDelayMs: number | undefined;
  /** Linear rows the domain must meet, and integer inputs (see `BabOptions`). */
  readonly polytope: InputPolytope | undefined;
  readonly integers: readonly number[];
}

/** Whether x (at offset o) meets the case's rows and is integral on its integer inputs. */
function inCaseDomain(c: Case, x: Float64Array, o: number): boolean {
  const n = c.graph.nIn;
  for (const k of c.integers) if (!Number.isInteger(x[o + k])) return false;
  const P = c.polytope;
  if (P === undefined) return true;
  for (let j = 0; j < P.m; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += P.A[j * n + k] * x[o + k];
    if (!(s <= P.b[j])) return false;
  }
  return true;
}

/** Dense points of a box, with the integer inputs moved to an integer of their interval (when it holds one). */
function domainPoints(c: Case, lo: Float64Array, hi: Float64Array, count: number, seed: number): { x: Float64Array; n: number } {
  const pts = densePoints(lo, hi, count, seed);
  const nIn = c.graph.nIn;
  for (let s = 0; s < pts.n; s++) {
    for (const k of c.integers) {
      const v = Math.min(Math.floor(hi[k]), Math.max(Math.ceil(lo[k]), Math.round(pts.x[s * nIn + k])));
      if (v >= lo[k] && v <= hi[k]) pts.x[s * nIn + k] = v;
    }
  }
  return pts;
}

/**
 * Every violation found in the domains bounded while `run` runs: points of a domain's box that
 * break a sign the domain claims as inherited (input splitting), domains dropped as empty that
 * hold a point, and points whose objective exceeds what the domain's bound (or the pruning
 * threshold, for what was pruned or dropped) allows.
 */
async function violationsDuring(c: Case, seed: number, run: () => Promise<unknown>): Promise<string[]> {
  const violations: string[] = [];
  const layout = reluLayout(c.graph);
  const rng = new Rng(seed);
  const original = DomainBounder.prototype.bound;
  DomainBounder.prototype.bound = function (this: DomainBounder, domains: BabDomain[], prune: PruneState) {
    const signsBefore = domains.map((d) => Int8Array.from(d.signs));
    const out = original.call(this, domains, prune);
    const kept = new Set(out.kept);
    const floor = Math.max(prune.threshold, prune.target ?? -Infinity);
    domains.forEach((d, i) => {
      const { x, n } = domainPoints(c, d.lo, d.hi, POINTS_PER_DOMAIN, rng.int(2 ** 30));
      const pts = d.candidate === undefined ? x : Float64Array.of(...x, ...d.candidate);
      const nPts = d.candidate === undefined ? n : n + 1;
      const all = forwardAll(c.graph, pts, nPts);
      const v = evaluateSpec(c.spec, all[c.graph.output], nPts);
      for (let s = 0; s < nPts; s++) {
        // a point is in the domain when it meets the sign constraints the round started with
        // (ReLU splits, and stability inferred on ancestors: a claim about the whole box)
        let inDomain = true;
        const broken: string[] = [];
        for (const [t, node] of layout.nodes.entries()) {
          const offset = layout.offsets[t];
          const pre = all[c.graph.nodes[node].inputs[0]];
          const size = c.graph.nodes[node].size;
          for (let j = 0; j < size; j++) {
            const z = pre[s * size + j];
            const before = signsBefore[i][offset + j];
            const now = d.signs[offset + j];
            if ((before > 0 && z < 0) || (before < 0 && z > 0)) inDomain = false;
            else if ((now > 0 && z < 0) || (now < 0 && z > 0)) broken.push(`neuron ${j} of node ${node} inferred stable (${now}) but is ${z}`);
          }
        }
        const where = `domain [${Array.from(d.lo)}]..[${Array.from(d.hi)}] (${kept.has(d) ? 'kept' : 'closed'})`;
        // without ReLU splits every sign is inferred stability: it holds on every point of the box
        if (!inDomain && c.split === 'input') violations.push(`${where}: a point breaks a sign inferred on an ancestor`);
        if (!inDomain || !inCaseDomain(c, pts, s * c.graph.nIn)) continue;
        for (const b of broken) violations.push(`${where}: ${b}`);
        const allowed = kept.has(d) ? Math.max(d.ub, floor) : floor;
        if (v[s] > allowed) violations.push(`${where}: objective ${v[s]} at a point above the allowed ${allowed} (bound ${d.ub}, floor ${floor})`);
      }
    });
    return out;
  };
  try {
    await run();
  } finally {
    DomainBounder.prototype.bound = original;
  }
  return violations;
}

const caseArb: fc.Arbitrary<Case> = fc
  .constantFrom<'input' | 'relu' | 'auto'>('input', 'relu', 'auto')
  .chain((split) => (split === 'auto' ? netSpec.map((s) => ({ ...s, nIn: 13 + (s.seed % 3) })) : netSpec).map((s) => [split, s] as const))
  .chain(([split, s]: readonly ['input' | 'relu' | 'auto', NetSpec]) =>
    fc.tuple(
      fc.constant(s),
      fc.array(boxArb(s.nIn), { minLength: 1, maxLength: 2 }),
      fc.array(fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: s.nOut + 1, maxLength: s.nOut + 1 }), { minLength: 1, maxLength: 5 }),
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
      fc.constant(split),
      fc.constantFrom(0, 4),
      fc.constantFrom<'bare' | 'real'>('bare', 'real'),
      fc.option(fc.double({ min: -3, max: 3, noNaN: true }), { nil: undefined }),
      fc.constantFrom(0, 1e-3),
      fc.option(fc.constantFrom(0, 1, 3), { nil: undefined }),
      fc.integer({ min: 0, max: 2 }),
      fc.boolean(),
    ),
  )
  .map(([s, boxes, terms, groupSizes, split, alphaIterations, mode, target, tol, helperDelayMs, nRows, hasInteger]) => {
    const graph = buildNet(s);
    const hasPwl = reluLayout(graph).total > 0;
    // with an integer input 0, its interval spans up to 6 integers (splits must cover every one)
    const roots = boxes.map((b) => {
      const lo = Array.from(b.lo);
      const hi = Array.from(b.hi);
      if (hasInteger) [lo[0], hi[0]] = [Math.floor(lo[0]), Math.floor(lo[0]) + (s.seed % 7)];
      return makeBox(lo, hi);
    });
    // rows that cut the first box between its least and largest value there (or a little outside)
    const rng = new Rng(s.seed + 17);
    const n = s.nIn;
    const A = Float64Array.from({ length: nRows * n }, () => rng.normal());
    const b = Float64Array.from({ length: nRows }, (_, j) => {
      let min = 0;
      let max = 0;
      for (let k = 0; k < n; k++) {
        const t = [A[j * n + k] * roots[0].lo[k], A[j * n + k] * roots[0].hi[k]];
        min += Math.min(...t);
        max += Math.max(...t);
      }
      return min + rng.uniform(-0.05, 1) * (max - min);
    });
    // input 0 integral, when every box holds an integer there
    const integers = hasInteger ? [0] : [];
    return {
      graph,
      spec: maxMinSpecOf(terms, groupSizes, graph.nOut),
      roots,
      split: hasPwl ? split : 'input',
      alphaIterations,
      mode,
      target: mode === 'real' ? target : undefined,
      tol,
      helperDelayMs,
      polytope: nRows > 0 ? { m: nRows, A, b } : undefined,
      integers,
    };
  });

describe('branch-and-bound on random networks: every domain bound is above the objective on the domain', () => {
  let seed = 0;

  it('bare (no incumbent, nothing pruned) and real (pruning, targets) runs, input, ReLU and auto splits, with and without alpha-CROWN and a helper', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        seed++;
        let result: Awaited<ReturnType<typeof branchAndBound>> | undefined;
        const violations = await violationsDuring(c, seed, async () => {
          result = await branchAndBound(c.graph, c.spec, c.roots, {
            split: c.split,
            alphaIterations: c.alphaIterations,
            tol: c.tol,
            target: c.target,
            batchSize: 4,
            maxFrontier: 24,
            helper: c.helperDelayMs === undefined ? undefined : inThreadHelper({ delayMs: c.helperDelayMs }),
            polytope: c.polytope,
            integers: c.integers,
            timeLimitMs: 2000,
            ...(c.mode === 'bare' ? { evaluate: (pts: readonly Float64Array[]) => new Float64Array(pts.length).fill(-Infinity), ascentIterations: 0 } : {}),
          });
        });
        expect(violations.slice(0, 3)).toEqual([]);
        const r = result as NonNullable<typeof result>;
        // the final bound is above every sample of every root, and the incumbent is what it claims
        let best = -Infinity;
        c.roots.forEach((b, i) => {
          const { x, n } = domainPoints(c, b.lo, b.hi, 200, seed + i);
          const v = evaluateSpec(c.spec, forwardAll(c.graph, x, n)[c.graph.output], n);
          v.forEach((value, s) => {
            if (inCaseDomain(c, x, s * c.graph.nIn)) best = Math.max(best, value);
          });
        });
        if (r.targetOutcome === 'excluded') expect(best).toBeLessThan(c.target as number);
        if (r.targetOutcome === 'reached') expect(r.incumbent?.value).toBeGreaterThanOrEqual(c.target as number);
        else expect(r.upperBound).toBeGreaterThanOrEqual(best);
        if (r.incumbent !== undefined) {
          const at = evaluateSpec(c.spec, forwardAll(c.graph, r.incumbent.x, 1)[c.graph.output], 1)[0];
          expect(at).toBe(r.incumbent.value);
          expect(c.roots.some((b) => b.lo.every((l, k) => l <= (r.incumbent as { x: Float64Array }).x[k] && (r.incumbent as { x: Float64Array }).x[k] <= b.hi[k]))).toBe(true);
          expect(inCaseDomain(c, r.incumbent.x, 0)).toBe(true);
          if (r.targetOutcome !== 'excluded') expect(r.upperBound).toBeGreaterThanOrEqual(r.incumbent.value);
        }
      }),
      { numRuns: RUNS, seed: campaignSeed(20261203) },
    );
  }, Math.max(120_000, 100 * RUNS)); // about 20 ms a case
});
