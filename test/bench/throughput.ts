import { join } from 'node:path';
import { encodeModel, parameterCount } from '@nnmax/onnx';
import { loadModel } from 'nnmax/node';
import { createEvaluator, type Evaluator } from '@nnmax/runtime/node';
import { BENCHMARKS } from '../helpers/corpus.js';
import { bestOf, table } from './readme-table.js';

/** GFLOP/s of onnxruntime-node on one [N,1024] x [1024,1024] MatMul: the machine's peak for this runtime. */
async function matmulPeak(threads: number): Promise<number> {
  const k = 1024;
  const w = new Float32Array(k * k).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const bytes = encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'peak',
      node: [{ opType: 'MatMul', input: ['X', 'W'], output: ['Y'], name: 'mm' }],
      initializer: [{ name: 'W', dims: [k, k], dataType: 1, rawData: new Uint8Array(w.buffer) }],
      input: [{ name: 'X', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: k }] } } } }],
      output: [{ name: 'Y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: k }] } } } }],
    },
  });
  const ev = await createEvaluator({ nIn: k, nOut: k, forward: bytes }, { intraOpThreads: threads });
  let best = 0;
  for (const n of [256, 1024, 4096]) {
    const x = new Float64Array(n * k).fill(0.5);
    const ms = await bestOf(8, () => ev.values(x, n));
    best = Math.max(best, (2 * n * k * k) / (ms * 1e6));
  }
  await ev.dispose();
  return best;
}

interface Config {
  readonly label: string;
  readonly options: { intraOpThreads: number; lanes: number };
}

const CONFIGS: Config[] = [
  { label: '1 thread', options: { intraOpThreads: 1, lanes: 1 } },
  { label: '2 intra-op threads', options: { intraOpThreads: 2, lanes: 1 } },
  { label: '2 worker lanes', options: { intraOpThreads: 1, lanes: 2 } },
];

const BATCHES = [1, 64, 1024, 16384];

async function samplesPerSecond(ev: Evaluator, n: number, gradient: boolean): Promise<number> {
  const x = new Float64Array(n * ev.nIn).map((_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
  const c = new Float64Array(ev.nOut).fill(1);
  const calls = Math.max(1, Math.round(20000 / n));
  const ms = await bestOf(3, async () => {
    for (let i = 0; i < calls; i++) await (gradient ? ev.valuesAndGradients(x, n, c) : ev.values(x, n));
  });
  return (n * calls) / (ms / 1000);
}

export async function throughputBench(): Promise<{ markdown: string; summary: Record<string, number> }> {
  const peak1 = await matmulPeak(1);
  const peak2 = await matmulPeak(2);
  const nets: [string, string][] = [
    ['ACAS Xu 1_1', join(BENCHMARKS, 'acasxu/ACASXU_run2a_1_1_batch_2000.onnx')],
    ['mnist 256x6', join(BENCHMARKS, 'mnistfc/mnist-net_256x6.onnx')],
  ];
  const rows: (string | number)[][] = [];
  const summary: Record<string, number> = { peak1, peak2 };
  for (const [name, path] of nets) {
    for (const cfg of CONFIGS) {
      const model = await loadModel(path, cfg.options); // the library's own evaluator and batching policy
      const flops = 2 * parameterCount(model.requireIr());
      const ev = model.evaluator;
      for (const gradient of [false, true]) {
        const cells: (string | number)[] = [name, cfg.label, gradient ? 'values + gradients' : 'values'];
        for (const n of BATCHES) {
          const sps = await samplesPerSecond(ev, n, gradient);
          const peak = cfg.options.intraOpThreads * cfg.options.lanes > 1 ? peak2 : peak1;
          const frac = gradient ? '' : ` (${Math.round((100 * sps * flops) / (peak * 1e9))}%)`;
          cells.push(`${formatRate(sps)}${frac}`);
          summary[`${name}|${cfg.label}|${gradient ? 'grad' : 'val'}|${n}`] = sps;
          if (n === 1) summary[`${name}|${cfg.label}|${gradient ? 'grad' : 'val'}|callUs`] = 1e6 / sps;
        }
        rows.push(cells);
      }
      await model.dispose();
    }
  }
  const md = [
    `onnxruntime-node peak on one [1024,1024]x[1024,1024] MatMul: **${peak1.toFixed(0)} GFLOP/s** (1 thread), **${peak2.toFixed(0)} GFLOP/s** (2 threads).`,
    `Samples/s (forward: % of the matching peak, counting 2 FLOP per weight). Per-call overhead at batch 1: ACAS Xu ${summary['ACAS Xu 1_1|1 thread|val|callUs'].toFixed(0)} us (values), ${summary['ACAS Xu 1_1|1 thread|grad|callUs'].toFixed(0)} us (values + gradients).`,
    '',
    table(['network', 'runtime', 'output', ...BATCHES.map((b) => `batch ${b}`)], rows),
  ].join('\n');
  return { markdown: md, summary };
}

function formatRate(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0);
}

