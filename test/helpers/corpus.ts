import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared benchmark corpus beside the repository (`../shared/benchmarks`), or NNMAX_BENCHMARKS. */
export const BENCHMARKS = resolve(process.env.NNMAX_BENCHMARKS ?? join(dirname(fileURLToPath(import.meta.url)), '../../../shared/benchmarks'));
export const MAXIMIZE = resolve(BENCHMARKS, '../maximize');

if (!existsSync(BENCHMARKS)) {
  throw new Error(`benchmark corpus not found at ${BENCHMARKS}: clone shared/ beside the repository or set NNMAX_BENCHMARKS`);
}

export interface CorpusNetwork {
  readonly family: string;
  readonly path: string; // absolute
  readonly id: string; // family/file
  /** VNN-LIB properties listed for this network in the family's instances CSV (absolute paths). */
  readonly properties: readonly string[];
}

/** Every .onnx file of the corpus, with the properties its instances CSV pairs it with. */
export function corpusNetworks(): CorpusNetwork[] {
  const out: CorpusNetwork[] = [];
  for (const family of readdirSync(BENCHMARKS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    const dir = join(BENCHMARKS, family);
    const props = new Map<string, string[]>();
    for (const csv of readdirSync(dir).filter((f) => f.endsWith('_instances.csv'))) {
      for (const line of readFileSync(join(dir, csv), 'utf8').split('\n')) {
        const [onnx, vnnlib] = line.split(',').map((s) => s?.trim());
        if (!onnx || !vnnlib) continue;
        props.set(onnx, [...(props.get(onnx) ?? []), join(dir, vnnlib)]);
      }
    }
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.onnx')).sort()) {
      let properties = props.get(f) ?? [];
      if (properties.length === 0) properties = readdirSync(dir).filter((p) => p.endsWith('.vnnlib')).map((p) => join(dir, p));
      out.push({ family, path: join(dir, f), id: `${family}/${f}`, properties: [...new Set(properties)] });
    }
  }
  return out;
}

export interface ExpectedVerdict {
  readonly benchmark: string;
  readonly network: string;
  readonly property: string;
  readonly expected: 'holds' | 'violated';
}

export function expectedVerdicts(): ExpectedVerdict[] {
  const lines = readFileSync(join(BENCHMARKS, 'expected_vnncomp2021.csv'), 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => {
    const [benchmark, network, property, expected] = l.split(',');
    return { benchmark, network, property, expected: expected as 'holds' | 'violated' };
  });
}

export interface MaximizeProblem {
  readonly id: string;
  readonly family: string;
  readonly onnx: string; // absolute
  readonly vnnlib: string; // absolute
  readonly c: number[];
  readonly lo: number[];
  readonly hi: number[];
  readonly nIn: number;
  readonly nOut: number;
  readonly activation: string;
  /** `exact`: proved by the independent MILP; `best_known`: the best value any baseline found. */
  readonly kind: 'exact' | 'best_known';
  readonly optimum: number;
  readonly milpUpperBound: number;
}

/** The maximisation problems of ../shared/maximize with their optima (README there). */
export function maximizeProblems(): MaximizeProblem[] {
  const raw = JSON.parse(readFileSync(join(MAXIMIZE, 'problems.json'), 'utf8')) as {
    id: string; family: string; onnx: string; vnnlib: string; c: number[]; lo: number[]; hi: number[]; n_in: number; n_out: number; activation: string;
  }[];
  const optima = new Map(
    readFileSync(join(MAXIMIZE, 'optima.csv'), 'utf8').trim().split('\n').slice(1).map((line) => {
      const parts = line.split(',');
      const [value, ub] = parts.slice(-2).map(Number);
      return [parts.slice(0, -3).join(','), { kind: parts[parts.length - 3] as 'exact' | 'best_known', value, ub }] as const;
    }),
  );
  return raw.map((p) => {
    const o = optima.get(p.id);
    if (!o) throw new Error(`optima.csv has no row for ${p.id}`);
    return {
      id: p.id, family: p.family, onnx: resolve(MAXIMIZE, p.onnx), vnnlib: resolve(MAXIMIZE, p.vnnlib), c: p.c, lo: p.lo, hi: p.hi,
      nIn: p.n_in, nOut: p.n_out, activation: p.activation, kind: o.kind, optimum: o.value, milpUpperBound: o.ub,
    };
  });
}

/** The tolerance for "reached the optimum": within 1e-4 * max(1, |value|) (../shared/maximize/README.md). */
export function reachesOptimum(value: number, optimum: number): boolean {
  return value >= optimum - 1e-4 * Math.max(1, Math.abs(optimum));
}
