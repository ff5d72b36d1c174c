import { InvalidOptionError, RuntimeAdapterError, ShapeError } from '@nnmax/core';
import type { InferenceSession, Tensor, TypedTensor } from 'onnxruntime-common';
import { EVALUATOR_DEFAULTS, type Evaluator, type EvaluatorOptions, type ModelGraphs, type ValuesAndGradients } from './evaluator.js';

/** A float32 tensor crossing the runtime boundary. */
export interface Float32Feed {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** The narrow session contract the shared evaluator needs. */
export interface RuntimeSession {
  run(feeds: Record<string, Float32Feed>, outputs: readonly string[]): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

export interface SessionSettings {
  readonly intraOpThreads: number;
}

/** What an adapter provides: a name and a way to make a session from ONNX bytes. */
export interface RuntimeBackend {
  readonly name: string;
  /** The session computes on the thread that calls `run` (see Evaluator.computesOnCallingThread). */
  readonly computesOnCallingThread: boolean;
  createSession(model: Uint8Array, settings: SessionSettings): Promise<RuntimeSession>;
}

/** onnxruntime session options for nnmax's small graphs (shared by every ORT adapter). */
export function ortSessionOptions(settings: SessionSettings): InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: settings.intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3, // errors only: a lenient shape merge is not the user's business
  };
}

/** Wraps an onnxruntime session (node or web: both implement onnxruntime-common's contract). */
export function wrapOrtSession(
  session: InferenceSession,
  makeTensor: (data: Float32Array, dims: readonly number[]) => TypedTensor<'float32'>,
): RuntimeSession {
  return {
    async run(feeds, outputs) {
      const ortFeeds: Record<string, Tensor> = {};
      for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = makeTensor(v.data, v.dims);
      const result = await session.run(ortFeeds, [...outputs]);
      const out: Record<string, Float32Array> = {};
      for (const k of outputs) out[k] = result[k].data as Float32Array;
      return out;
    },
    release: () => session.release(),
  };
}

interface Lane {
  readonly forward: RuntimeSession;
  readonly gradient: RuntimeSession | undefined;
}

/**
 * The shared `Evaluator`: validation, batching, lane splitting and float64/float32 conversion
 * happen here, once, for every backend.
 */
export class SessionEvaluator implements Evaluator {
  readonly backend: string;
  readonly nIn: number;
  readonly nOut: number;
  readonly computesOnCallingThread: boolean;

  private constructor(
    private readonly rt: RuntimeBackend,
    private readonly graphs: ModelGraphs,
    private readonly lanes: readonly Lane[],
    private readonly options: Required<EvaluatorOptions>,
  ) {
    this.backend = lanes.length > 1 ? `${rt.name} x${lanes.length}` : rt.name;
    this.computesOnCallingThread = rt.computesOnCallingThread;
    this.nIn = graphs.nIn;
    this.nOut = graphs.nOut;
  }

  static async create(rt: RuntimeBackend, graphs: ModelGraphs, options: EvaluatorOptions = {}): Promise<SessionEvaluator> {
    const opts = { ...EVALUATOR_DEFAULTS, ...options };
    const int = (name: keyof EvaluatorOptions, min: number): void => {
      const v = opts[name];
      if (!Number.isInteger(v) || v < min) throw new InvalidOptionError(name, v, `an integer >= ${min}`);
    };
    int('intraOpThreads', 0);
    int('maxBatch', 1);
    int('lanes', 1);
    int('minLaneBatch', 1);
    const settings = { intraOpThreads: opts.intraOpThreads };
    const make = async (bytes: Uint8Array, what: string): Promise<RuntimeSession> => {
      try {
        return await rt.createSession(bytes, settings);
      } catch (cause) {
        throw new RuntimeAdapterError(rt.name, `could not create the ${what} session: ${messageOf(cause)}`, { cause });
      }
    };
    const lanes: Lane[] = [];
    try {
      for (let i = 0; i < opts.lanes; i++) {
        const forward = await make(graphs.forward, 'forward');
        lanes.push({ forward, gradient: undefined });
        if (graphs.gradient) lanes[i] = { forward, gradient: await make(graphs.gradient, 'gradient') };
      }
    } catch (e) {
      await Promise.all(lanes.flatMap((l) => [l.forward.release(), l.gradient?.release()]));
      throw e;
    }
    return new SessionEvaluator(rt, graphs, lanes, opts);
  }

  get hasGradients(): boolean {
    return this.lanes[0].gradient !== undefined;
  }

  /** Splits [0, n) into contiguous chunks: across lanes when large enough, then by maxBatch. */
  private chunks(n: number): { start: number; m: number; lane: number }[] {
    const useLanes = n >= this.options.minLaneBatch ? this.lanes.length : 1;
    const per = Math.ceil(n / useLanes);
    const out: { start: number; m: number; lane: number }[] = [];
    for (let lane = 0; lane < useLanes; lane++) {
      const end = Math.min(n, (lane + 1) * per);
      for (let start = lane * per; start < end; start += this.options.maxBatch) {
        out.push({ start, m: Math.min(this.options.maxBatch, end - start), lane });
      }
    }
    return out;
  }

  /** Runs the chunks of each lane in order, the lanes concurrently. */
  private async perLane<T>(n: number, work: (c: { start: number; m: number; lane: number }) => Promise<T>): Promise<void> {
    const byLane = new Map<number, { start: number; m: number; lane: number }[]>();
    for (const c of this.chunks(n)) byLane.set(c.lane, [...(byLane.get(c.lane) ?? []), c]);
    await Promise.all(
      [...byLane.values()].map(async (cs) => {
        for (const c of cs) await work(c);
      }),
    );
  }

  async values(x: Float64Array, n: number): Promise<Float64Array> {
    this.checkInput(x, n);
    const out = new Float64Array(n * this.nOut);
    const fi = this.graphs.forwardInput;
    if (fi && !fi.batched) {
      for (let s = 0; s < n; s++) out.set(await this.runForward(0, x.subarray(s * this.nIn, (s + 1) * this.nIn), 1), s * this.nOut);
      return out;
    }
    await this.perLane(n, async ({ start, m, lane }) => {
      out.set(await this.runForward(lane, x.subarray(start * this.nIn, (start + m) * this.nIn), m), start * this.nOut);
    });
    return out;
  }

  private async runForward(lane: number, x: Float64Array, m: number): Promise<Float32Array> {
    const fi = this.graphs.forwardInput;
    const dims = fi ? (fi.batched ? [m, ...fi.shape.slice(1)] : fi.shape) : [m, this.nIn];
    const outName = fi ? fi.output : 'Y';
    const result = await this.run(this.lanes[lane].forward, { [fi ? fi.name : 'X']: { data: Float32Array.from(x), dims } }, [outName]);
    const y = result[outName];
    if (y.length !== m * this.nOut) {
      throw new ShapeError(`${this.rt.name} output '${outName}'`, `${m * this.nOut} values`, `${y.length}`);
    }
    return y;
  }

  async valuesAndGradients(x: Float64Array, n: number, c: Float64Array): Promise<ValuesAndGradients> {
    this.checkInput(x, n);
    if (!this.hasGradients) {
      throw new RuntimeAdapterError(this.rt.name, 'this model has no gradient graph (some node is outside the IR); use values()');
    }
    if (c.length !== this.nOut && c.length !== n * this.nOut) {
      throw new ShapeError('objective weights c', `${this.nOut} or ${n * this.nOut} values`, `${c.length}`);
    }
    const outputs = new Float64Array(n * this.nOut);
    const values = new Float64Array(n);
    const gradients = new Float64Array(n * this.nIn);
    await this.perLane(n, async ({ start, m, lane }) => {
      const c32 = new Float32Array(m * this.nOut);
      if (c.length === this.nOut) for (let s = 0; s < m; s++) c32.set(c, s * this.nOut);
      else c32.set(c.subarray(start * this.nOut, (start + m) * this.nOut));
      const feeds = {
        X: { data: Float32Array.from(x.subarray(start * this.nIn, (start + m) * this.nIn)), dims: [m, this.nIn] },
        C: { data: c32, dims: [m, this.nOut] },
      };
      const r = await this.run(this.lanes[lane].gradient!, feeds, ['Y', 'V', 'G']);
      outputs.set(r.Y, start * this.nOut);
      values.set(r.V, start);
      gradients.set(r.G, start * this.nIn);
    });
    return { outputs, values, gradients };
  }

  private async run(session: RuntimeSession, feeds: Record<string, Float32Feed>, outputs: string[]): Promise<Record<string, Float32Array>> {
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
    await Promise.all(this.lanes.flatMap((l) => [l.forward.release(), l.gradient?.release()]));
  }
}

function messageOf(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
