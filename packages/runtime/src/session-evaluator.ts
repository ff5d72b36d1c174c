import { InvalidOptionError, RuntimeAdapterError, ShapeError } from '@nnmax/core';
import type { InferenceSession, Tensor, TypedTensor } from 'onnxruntime-common';
import { EVALUATOR_DEFAULTS, type Evaluator, type EvaluatorOptions, type ModelGraphs, type ValuesAndGradients } from './evaluator.js';

/** What an adapter hands the shared code: how to make a session and a float32 tensor. */
export interface RuntimeBackend {
  readonly name: string;
  createSession(model: Uint8Array, options: InferenceSession.SessionOptions): Promise<InferenceSession>;
  float32Tensor(data: Float32Array, dims: readonly number[]): TypedTensor<'float32'>;
}

/**
 * The shared `Evaluator` over onnxruntime sessions: validation, batching and float64/float32
 * conversion happen here, once, for every backend.
 */
export class SessionEvaluator implements Evaluator {
  readonly backend: string;
  readonly nIn: number;
  readonly nOut: number;
  private readonly maxBatch: number;

  private constructor(
    private readonly rt: RuntimeBackend,
    private readonly graphs: ModelGraphs,
    private readonly forward: InferenceSession,
    private readonly gradient: InferenceSession | undefined,
    options: Required<EvaluatorOptions>,
  ) {
    this.backend = rt.name;
    this.nIn = graphs.nIn;
    this.nOut = graphs.nOut;
    this.maxBatch = options.maxBatch;
  }

  static async create(rt: RuntimeBackend, graphs: ModelGraphs, options: EvaluatorOptions = {}): Promise<SessionEvaluator> {
    const opts = { ...EVALUATOR_DEFAULTS, ...options };
    if (!Number.isInteger(opts.intraOpThreads) || opts.intraOpThreads < 0) {
      throw new InvalidOptionError('intraOpThreads', opts.intraOpThreads, 'a non-negative integer (0 = runtime default)');
    }
    if (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1) {
      throw new InvalidOptionError('maxBatch', opts.maxBatch, 'a positive integer');
    }
    const sessionOptions: InferenceSession.SessionOptions = {
      intraOpNumThreads: opts.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3, // errors only: a lenient shape merge is not the user's business
    };
    const make = async (bytes: Uint8Array, what: string): Promise<InferenceSession> => {
      try {
        return await rt.createSession(bytes, sessionOptions);
      } catch (cause) {
        throw new RuntimeAdapterError(rt.name, `could not create the ${what} session: ${messageOf(cause)}`, { cause });
      }
    };
    const forward = await make(graphs.forward, 'forward');
    const gradient = graphs.gradient ? await make(graphs.gradient, 'gradient') : undefined;
    return new SessionEvaluator(rt, graphs, forward, gradient, opts);
  }

  get hasGradients(): boolean {
    return this.gradient !== undefined;
  }

  async values(x: Float64Array, n: number): Promise<Float64Array> {
    this.checkInput(x, n);
    const out = new Float64Array(n * this.nOut);
    const fi = this.graphs.forwardInput;
    if (fi && !fi.batched) {
      for (let s = 0; s < n; s++) out.set(await this.runForward(x.subarray(s * this.nIn, (s + 1) * this.nIn), 1), s * this.nOut);
      return out;
    }
    for (let start = 0; start < n; start += this.maxBatch) {
      const m = Math.min(this.maxBatch, n - start);
      out.set(await this.runForward(x.subarray(start * this.nIn, (start + m) * this.nIn), m), start * this.nOut);
    }
    return out;
  }

  private async runForward(x: Float64Array, m: number): Promise<Float32Array> {
    const fi = this.graphs.forwardInput;
    const dims = fi ? (fi.batched ? [m, ...fi.shape.slice(1)] : fi.shape) : [m, this.nIn];
    const feeds = { [fi ? fi.name : 'X']: this.rt.float32Tensor(Float32Array.from(x), dims) };
    const outName = fi ? fi.output : 'Y';
    const result = await this.run(this.forward, feeds, [outName]);
    const y = result[outName].data as Float32Array;
    if (y.length !== m * this.nOut) {
      throw new ShapeError(`${this.rt.name} output '${outName}'`, `${m * this.nOut} values`, `${y.length}`);
    }
    return y;
  }

  async valuesAndGradients(x: Float64Array, n: number, c: Float64Array): Promise<ValuesAndGradients> {
    this.checkInput(x, n);
    if (!this.gradient) {
      throw new RuntimeAdapterError(this.rt.name, 'this model has no gradient graph (some node is outside the IR); use values()');
    }
    if (c.length !== this.nOut && c.length !== n * this.nOut) {
      throw new ShapeError('objective weights c', `${this.nOut} or ${n * this.nOut} values`, `${c.length}`);
    }
    const outputs = new Float64Array(n * this.nOut);
    const values = new Float64Array(n);
    const gradients = new Float64Array(n * this.nIn);
    for (let start = 0; start < n; start += this.maxBatch) {
      const m = Math.min(this.maxBatch, n - start);
      const c32 = new Float32Array(m * this.nOut);
      if (c.length === this.nOut) for (let s = 0; s < m; s++) c32.set(c, s * this.nOut);
      else c32.set(c.subarray(start * this.nOut, (start + m) * this.nOut));
      const feeds = {
        X: this.rt.float32Tensor(Float32Array.from(x.subarray(start * this.nIn, (start + m) * this.nIn)), [m, this.nIn]),
        C: this.rt.float32Tensor(c32, [m, this.nOut]),
      };
      const r = await this.run(this.gradient, feeds, ['Y', 'V', 'G']);
      outputs.set(r.Y.data as Float32Array, start * this.nOut);
      values.set(r.V.data as Float32Array, start);
      gradients.set(r.G.data as Float32Array, start * this.nIn);
    }
    return { outputs, values, gradients };
  }

  private async run(session: InferenceSession, feeds: Record<string, Tensor>, outputs: string[]): Promise<InferenceSession.ReturnType> {
    try {
      return await session.run(feeds, outputs);
    } catch (cause) {
      throw new RuntimeAdapterError(this.rt.name, `run failed: ${messageOf(cause)}`, { cause });
    }
  }

  private checkInput(x: Float64Array, n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new InvalidOptionError('n', n, 'a non-negative integer number of points');
    if (x.length !== n * this.nIn) {
      throw new ShapeError('evaluator input', `${n} points x ${this.nIn} inputs = ${n * this.nIn} values`, `${x.length} values`);
    }
  }

  async dispose(): Promise<void> {
    await this.forward.release();
    await this.gradient?.release();
  }
}

function messageOf(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
