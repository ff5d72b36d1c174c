import { InvalidOptionError, type Box } from '@nnmax/core';
import type { IrGraph } from '@nnmax/onnx';
import type { Domain } from 'nnmax';
import highsModule, { type Highs } from 'highs';

/**
 * Exact maximisation of `c . F(x)` over a box for ReLU networks in the nnmax IR, by mixed-integer
 * linear programming (HiGHS, through its CPLEX LP text reader). A test and benchmark oracle: it is
 * exact up to HiGHS tolerances and exponential in the number of unstable ReLUs.
 *
 * Encoding (the standard big-M form, e.g. Tjeng, Xiao & Tedrake, "Evaluating robustness of neural
 * networks with mixed integer programming", ICLR 2019): interval arithmetic gives every
 * pre-activation p bounds [l, u]. A ReLU with u <= 0 is the constant 0 and one with l >= 0 is the
 * identity, so neither needs a binary. Otherwise h = max(p, 0) is
 *   h >= p,  h <= p - l (1 - z),  h <= u z,  0 <= h <= u,  z in {0, 1}.
 * Affine, add and concat nodes are equalities. After the MILP, its activation pattern is fixed
 * (z held at its rounded value) and the LP over that linear region is solved again: on a fixed
 * pattern F is affine, so the reported x and value carry only LP tolerances, not the integrality
 * slack of the big-M rows.
 */

/** 'highs' ships CommonJS typings (default import = module.exports); its ESM build exports the loader itself. */
const highsLoader: typeof highsModule.default =
  (highsModule as Partial<typeof highsModule>).default ?? (highsModule as unknown as typeof highsModule.default);

export interface MilpOptions {
  /** Wall-clock limit for the whole call (MILP, then the polishing LP in what is left); default none. */
  readonly timeLimitMs?: number;
  /** Linear constraints on the inputs beside the box: A x <= b (`A` `[m, nIn]` row-major). */
  readonly inputRows?: { readonly m: number; readonly A: ArrayLike<number>; readonly b: ArrayLike<number> };
  /** Inputs that take integer values only (the box's bounds on them should be integers). */
  readonly integerInputs?: readonly number[];
}

export interface MilpResult {
  /** `optimal`: proved optimum; `timeout`: the limit stopped HiGHS (value is its incumbent, if any). */
  readonly status: 'optimal' | 'timeout' | 'infeasible' | 'failed';
  /** HiGHS's own model status, for messages. */
  readonly highsStatus: string;
  /** `c . F(x)` at `x` (the polished LP objective); NaN without a solution. */
  readonly value: number;
  readonly x: Float64Array | undefined; // [nIn]
  readonly timeMs: number;
  /** Number of binary variables (unstable ReLUs). */
  readonly binaries: number;
}

export interface MilpEncoding {
  /** The model in CPLEX LP format. */
  readonly lp: string;
  /** LP column names of the inputs, in input order. */
  readonly inputNames: readonly string[];
  /** LP column names of the binaries. */
  readonly binaryNames: readonly string[];
}

/**
 * Interval-bound slack added to every big-M constant and variable bound: interval arithmetic is
 * done in float64 rounded to nearest, so an exact bound may lie beyond the computed one by a few
 * ulps times the magnitudes summed (far below 1e-9 relative for these small nets). The slack only
 * loosens the relaxation; it never cuts off a feasible point.
 */
const BOUND_SLACK = 1e-7;

/** Tight HiGHS tolerances so that the MILP optimum is the maximum, not a 1e-4-gap incumbent. */
const HIGHS_OPTIONS = {
  output_flag: false,
  mip_rel_gap: 0,
  mip_abs_gap: 1e-12,
  mip_feasibility_tolerance: 1e-9,
  primal_feasibility_tolerance: 1e-9,
  dual_feasibility_tolerance: 1e-9,
  small_matrix_value: 1e-12,
} as const;

export class MilpOracle {
  constructor(private readonly highs: Highs) {}

  /** Maximises `c . F(x)` over `box`. HiGHS (WebAssembly) blocks the thread while it runs. */
  maximize(graph: IrGraph, c: ArrayLike<number>, box: Box, options: MilpOptions = {}): MilpResult {
    const { timeLimitMs } = options;
    if (timeLimitMs !== undefined && !(timeLimitMs >= 0)) throw new InvalidOptionError('timeLimitMs', timeLimitMs, 'a number of milliseconds >= 0');
    const start = performance.now();
    const enc = encodeReluMilp(graph, c, box, options);
    const limits = timeLimitMs === undefined ? {} : { time_limit: timeLimitMs / 1000 };
    const mip = this.highs.solve(enc.lp, { ...HIGHS_OPTIONS, ...limits });
    const status = mapStatus(mip.Status);
    const columns = mip.Columns as Record<string, { Primal?: number }>;
    const hasSolution = enc.inputNames.every((n) => columns[n] === undefined || typeof columns[n].Primal === 'number');
    if (status === 'infeasible' || status === 'failed' || !hasSolution || !Number.isFinite(mip.ObjectiveValue)) {
      return { status, highsStatus: mip.Status, value: Number.NaN, x: undefined, timeMs: performance.now() - start, binaries: enc.binaryNames.length };
    }
    let value = mip.ObjectiveValue;
    let x = readInputs(enc, columns, box);
    // Polish: fix the activation pattern and solve the LP of that linear region.
    // (integer inputs too, held at their MILP values)
    const pattern = new Map([...enc.binaryNames, ...(options.integerInputs ?? []).map((i) => enc.inputNames[i])].map((n) => [n, Math.round(columns[n]?.Primal ?? 0)]));
    const left = timeLimitMs === undefined ? {} : { time_limit: Math.max(0, timeLimitMs - (performance.now() - start)) / 1000 };
    const lp = this.highs.solve(fixBinaries(enc, pattern), { ...HIGHS_OPTIONS, ...left });
    if (lp.Status === 'Optimal' && lp.ObjectiveValue >= value - 1e-6) {
      value = lp.ObjectiveValue;
      x = readInputs(enc, lp.Columns as Record<string, { Primal?: number }>, box);
    }
    return { status, highsStatus: mip.Status, value, x, timeMs: performance.now() - start, binaries: enc.binaryNames.length };
  }
}

/** Loads the HiGHS WebAssembly module once and returns an oracle over it. */
/** A HiGHS instance (WebAssembly), for tests that solve LPs of their own. */
export function loadHighs(): Promise<Highs> {
  return highsLoader();
}

export async function createMilpOracle(): Promise<MilpOracle> {
  return new MilpOracle(await loadHighs());
}

/** Writes the big-M MILP of `max c . F(x), x in box` for a ReLU network in CPLEX LP format. */
export function encodeReluMilp(graph: IrGraph, c: ArrayLike<number>, box: Box, extra: Pick<MilpOptions, 'inputRows' | 'integerInputs'> = {}): MilpEncoding {
  if (c.length !== graph.nOut) throw new InvalidOptionError('c', `${c.length} weights`, `${graph.nOut} weights (one per output)`);
  if (box.lo.length !== graph.nIn) throw new InvalidOptionError('box', `${box.lo.length} inputs`, `${graph.nIn} inputs`);

  const rows: string[] = [];
  const bounds: string[] = [];
  const binaryNames: string[] = [];
  const names: string[][] = []; // per node: LP column per element
  const lo: Float64Array[] = [];
  const hi: Float64Array[] = [];
  let hasZero = false;
  let rowId = 0;
  const addRow = (coeffs: Map<string, number>, sense: '<=' | '>=' | '=', rhs: number): void => {
    rows.push(` r${rowId++}: ${linear(coeffs)} ${sense} ${num(rhs)}`);
  };
  const declare = (name: string, l: number, u: number): void => {
    bounds.push(` ${num(l)} <= ${name} <= ${num(u)}`);
  };

  for (const node of graph.nodes) {
    const size = node.size;
    const nl = new Float64Array(size);
    const nh = new Float64Array(size);
    const nn: string[] = [];
    switch (node.kind) {
      case 'input':
        for (let i = 0; i < size; i++) {
          nn.push(`x${i}`);
          nl[i] = box.lo[i];
          nh[i] = box.hi[i];
          declare(nn[i], nl[i], nh[i]);
        }
        break;
      case 'affine': {
        const src = node.inputs[0];
        const [sn, sl, sh] = [names[src], lo[src], hi[src]];
        for (let j = 0; j < size; j++) {
          // centre/radius interval arithmetic: W mid +- |W| rad
          let mid = node.b[j];
          let rad = 0;
          const coeffs = new Map<string, number>();
          const v = `v${node.id}_${j}`;
          coeffs.set(v, 1);
          for (let k = 0; k < node.nIn; k++) {
            const w = node.W[j * node.nIn + k];
            if (w === 0) continue;
            mid += w * 0.5 * (sl[k] + sh[k]);
            rad += Math.abs(w) * 0.5 * (sh[k] - sl[k]);
            coeffs.set(sn[k], (coeffs.get(sn[k]) ?? 0) - w);
          }
          nl[j] = widenDown(mid - rad);
          nh[j] = widenUp(mid + rad);
          nn.push(v);
          declare(v, nl[j], nh[j]);
          addRow(coeffs, '=', node.b[j]);
        }
        break;
      }
      case 'add':
        for (let j = 0; j < size; j++) {
          const v = `v${node.id}_${j}`;
          const coeffs = new Map<string, number>([[v, 1]]);
          let l = 0;
          let u = 0;
          for (const id of node.inputs) {
            coeffs.set(names[id][j], (coeffs.get(names[id][j]) ?? 0) - 1);
            l += lo[id][j];
            u += hi[id][j];
          }
          nl[j] = widenDown(l);
          nh[j] = widenUp(u);
          nn.push(v);
          declare(v, nl[j], nh[j]);
          addRow(coeffs, '=', 0);
        }
        break;
      case 'concat': {
        let o = 0;
        for (const id of node.inputs) {
          for (let k = 0; k < names[id].length; k++, o++) {
            nn.push(names[id][k]);
            nl[o] = lo[id][k];
            nh[o] = hi[id][k];
          }
        }
        break;
      }
      case 'relu': {
        const src = node.inputs[0];
        for (let j = 0; j < size; j++) {
          const p = names[src][j];
          const l = lo[src][j];
          const u = hi[src][j];
          if (u <= 0) {
            // stable inactive: the constant 0
            hasZero = true;
            nn.push('zero');
          } else if (l >= 0) {
            // stable active: the identity
            nn.push(p);
            nl[j] = l;
            nh[j] = u;
          } else {
            const h = `h${node.id}_${j}`;
            const z = `z${node.id}_${j}`;
            nn.push(h);
            nh[j] = u;
            declare(h, 0, u);
            declare(z, 0, 1);
            binaryNames.push(z);
            addRow(pair(h, 1, p, -1), '>=', 0); // h >= p
            addRow(new Map([[h, 1], [p, -1], [z, -l]]), '<=', -l); // h <= p - l (1 - z)
            addRow(pair(h, 1, z, -u), '<=', 0); // h <= u z
          }
        }
        break;
      }
      default:
        throw new InvalidOptionError('graph', `node '${node.name}' (${node.kind})`, 'a ReLU network: input, affine, add, concat and relu nodes only');
    }
    names.push(nn);
    lo.push(nl);
    hi.push(nh);
  }
  if (hasZero) declare('zero', 0, 0);
  const rowsIn = extra.inputRows;
  for (let j = 0; j < (rowsIn?.m ?? 0); j++) {
    const coeffs = new Map<string, number>();
    for (let k = 0; k < graph.nIn; k++) if (rowsIn!.A[j * graph.nIn + k] !== 0) coeffs.set(`x${k}`, rowsIn!.A[j * graph.nIn + k]);
    if (coeffs.size === 0) coeffs.set('x0', 0);
    addRow(coeffs, '<=', rowsIn!.b[j]);
  }
  const generals = [...binaryNames, ...(extra.integerInputs ?? []).map((k) => `x${k}`)];

  const objective = new Map<string, number>();
  const out = names[graph.output];
  for (let j = 0; j < graph.nOut; j++) if (c[j] !== 0) objective.set(out[j], (objective.get(out[j]) ?? 0) + c[j]);
  // An objective with no term still needs a column: 0 x0.
  if (objective.size === 0) objective.set('x0', 0);

  const lp = [
    'Maximize',
    ` obj: ${linear(objective)}`,
    'Subject To',
    ...(rows.length > 0 ? rows : [' r0: x0 - x0 = 0']),
    'Bounds',
    ...bounds,
    ...(generals.length > 0 ? ['General', ...wrap(generals)] : []),
    'End',
    '',
  ].join('\n');
  return { lp, inputNames: names[graph.input], binaryNames };
}

/** The LP of one activation pattern: every binary (and integer input) fixed to its value, integrality dropped. */
function fixBinaries(enc: MilpEncoding, pattern: ReadonlyMap<string, number>): string {
  const lines = enc.lp.split('\n');
  const general = lines.indexOf('General');
  const body = general < 0 ? lines : [...lines.slice(0, general), 'End', ''];
  return body
    .map((line) => {
      const m = /^ \S+ <= ([a-z]\d+(?:_\d+)?) <= \S+$/.exec(line);
      if (m === null || !pattern.has(m[1])) return line;
      const v = pattern.get(m[1]) as number;
      return ` ${v} <= ${m[1]} <= ${v}`;
    })
    .join('\n');
}

function readInputs(enc: MilpEncoding, columns: Record<string, { Primal?: number }>, box: Box): Float64Array {
  // An input that no row mentions may be absent from the solution; any value in its range is optimal.
  return Float64Array.from(enc.inputNames, (n, i) => {
    const v = columns[n]?.Primal ?? box.lo[i];
    return Math.min(box.hi[i], Math.max(box.lo[i], v));
  });
}

function mapStatus(s: string): MilpResult['status'] {
  if (s === 'Optimal') return 'optimal';
  if (s === 'Time limit reached') return 'timeout';
  if (s === 'Infeasible') return 'infeasible';
  return 'failed';
}

function pair(a: string, ca: number, b: string, cb: number): Map<string, number> {
  return new Map([
    [a, ca],
    [b, cb],
  ]);
}

/** `+ 2 a - 0.5 b ...` with at most 8 terms a line (LP readers limit line length). */
function linear(coeffs: ReadonlyMap<string, number>): string {
  const terms: string[] = [];
  for (const [name, v] of coeffs) {
    if (v === 0 && coeffs.size > 1) continue;
    terms.push(`${v < 0 ? '-' : '+'} ${num(Math.abs(v))} ${name}`);
  }
  if (terms.length === 0) terms.push(`+ 0 ${coeffs.keys().next().value as string}`);
  return wrap(terms).join('\n');
}

function wrap(items: readonly string[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < items.length; i += 8) lines.push(`  ${items.slice(i, i + 8).join(' ')}`);
  return lines;
}

/** Shortest round-trip decimal; HiGHS's LP reader accepts exponents (1e-7, 2.5e+21). */
function num(v: number): string {
  return String(v + 0);
}

function widenDown(v: number): number {
  return v - BOUND_SLACK * (1 + Math.abs(v));
}

function widenUp(v: number): number {
  return v + BOUND_SLACK * (1 + Math.abs(v));
}

/**
 * The input rows of an nnmax domain for `MilpOptions.inputRows`: its linear rows, and each one-hot
 * group's sum = 1 as two rows (<= 1 and >= 1). Written here, apart from nnmax's own, so that the
 * oracle checks that encoding rather than shares it.
 */
export function domainInputRows(d: Domain): { m: number; A: Float64Array; b: Float64Array } {
  const n = d.box.lo.length;
  const m0 = d.linear.b.length;
  const m = m0 + 2 * d.oneHot.length;
  const A = new Float64Array(m * n);
  const b = new Float64Array(m);
  A.set(d.linear.A);
  b.set(d.linear.b);
  d.oneHot.forEach((grp, t) => {
    for (const k of grp) {
      A[(m0 + 2 * t) * n + k] = 1;
      A[(m0 + 2 * t + 1) * n + k] = -1;
    }
    b[m0 + 2 * t] = 1;
    b[m0 + 2 * t + 1] = -1;
  });
  return { m, A, b };
}
