/**
 * The search worker: owns the loaded model and runs loadModel, maximize/minimize, verify and the
 * plot surfaces off the main thread. Progress is posted at most every PROGRESS_INTERVAL_MS, and a
 * 'cancel' message aborts the running request through its AbortController (the request still
 * answers, with the incumbent it has).
 */
import {
  formatVnncompResult,
  loadModel,
  maximize,
  minimize,
  parseObjective,
  parseVnnlib,
  validateProperty,
  verify,
  type Model,
  type ProgressEvent,
} from 'nnmax';
import { configureWasm } from 'nnmax/web';
import {
  linspace,
  toErrorReport,
  type LoadedModel,
  type ProgressPoint,
  type PropertySummary,
  type RunSpec,
  type Surface,
  type SurfaceSpec,
  type Verdict,
  type VerifySpec,
  type WorkerReply,
  type WorkerRequest,
} from './protocol.js';

const PROGRESS_INTERVAL_MS = 100;

interface WorkerScope {
  readonly name: string;
  readonly crossOriginIsolated: boolean;
  postMessage(msg: WorkerReply): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent<WorkerRequest>) => void): void;
}
const scope = self as unknown as WorkerScope;

let model: Model | undefined;
let threads: number | undefined;
const running = new Map<number, AbortController>();

function reply(msg: WorkerReply): void {
  scope.postMessage(msg);
}

/**
 * onnxruntime-web's wasm thread count, fixed at its first session. More than one needs
 * cross-origin isolation (SharedArrayBuffer). `requested` 0 means automatic: one thread, the
 * faster choice on nnmax's small graphs (ACAS Xu in Chromium, 2 cores: 1 thread 61k points/s at
 * batch 64 and 440k at 1024; 2 threads 19k and 300k). `?threads=N` on the page asks for more.
 */
function wasmThreads(requested: number): number {
  if (threads !== undefined) return threads;
  threads = scope.crossOriginIsolated && requested > 1 ? requested : 1;
  configureWasm({ numThreads: threads });
  return threads;
}

async function handle(req: WorkerRequest): Promise<WorkerReply | undefined> {
  switch (req.type) {
    case 'cancel':
      running.get(req.id)?.abort();
      return undefined;
    case 'load':
      return { type: 'loaded', id: req.id, model: await load(req.bytes, req.file, req.threads) };
    case 'property':
      return { type: 'property', id: req.id, property: property(req.text, req.file) };
    case 'surface':
      return { type: 'surface', id: req.id, surface: await surface(requireModel(), req.spec) };
    case 'run':
      return { type: 'result', id: req.id, result: await withAbort(req.id, (signal) => run(req.id, req.spec, signal)) };
    case 'verify':
      return { type: 'verdict', id: req.id, verdict: await withAbort(req.id, (signal) => verdict(req.id, req.spec, signal)) };
  }
}

async function load(bytes: ArrayBuffer, file: string, requestedThreads: number): Promise<LoadedModel> {
  const nThreads = wasmThreads(requestedThreads);
  const previous = model;
  model = undefined;
  await previous?.dispose();
  const t0 = performance.now();
  model = await loadModel(new Uint8Array(bytes), { file });
  return { info: model.info(), backend: model.evaluator.backend, threads: nThreads, isolated: scope.crossOriginIsolated, loadMs: performance.now() - t0 };
}

function property(text: string, file: string): PropertySummary {
  const m = requireModel();
  const p = parseVnnlib(text, file);
  validateProperty(p, m.nIn, m.nOut);
  const box = p.cases[0].box;
  return { file, cases: p.cases.length, lo: Array.from(box.lo), hi: Array.from(box.hi) };
}

function run(id: number, spec: RunSpec, signal: AbortSignal): ReturnType<typeof maximize> {
  const m = requireModel();
  const progress = throttledProgress(id);
  return (spec.sense === 'max' ? maximize : minimize)(m, {
    objective: spec.objective,
    box: { lo: spec.lo, hi: spec.hi },
    method: spec.method,
    certify: spec.certify,
    tol: spec.tol,
    timeLimitMs: spec.timeLimitMs,
    seed: spec.seed,
    signal,
    onProgress: progress.push,
  }).finally(progress.flush);
}

async function verdict(id: number, spec: VerifySpec, signal: AbortSignal): Promise<Verdict> {
  const m = requireModel();
  const p = parseVnnlib(spec.text, spec.file);
  const progress = throttledProgress(id);
  const r = await verify(m, p, { timeLimitMs: spec.timeLimitMs, seed: spec.seed, signal, onProgress: progress.push }).finally(progress.flush);
  return {
    status: r.status,
    text: r.status === 'sat' ? formatVnncompResult('sat', r.x, r.y) : formatVnncompResult(r.status),
    reason: r.reason,
    caseBounds: r.caseBounds,
    x: r.x,
    timeMs: r.timeMs,
  };
}

function requireModel(): Model {
  if (!model) throw new Error('no model is loaded: open an ONNX file or pick an example first');
  return model;
}

async function withAbort<T>(id: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    return await work(controller.signal);
  } finally {
    running.delete(id);
  }
}

/** Forwards progress events to the page, at most one every PROGRESS_INTERVAL_MS (the last one always). */
function throttledProgress(id: number): { push: (e: ProgressEvent & { readonly caseIndex?: number }) => void; flush: () => void } {
  let last = -Infinity;
  let pending: ProgressPoint | undefined;
  const send = (p: ProgressPoint): void => {
    last = performance.now();
    pending = undefined;
    reply({ type: 'progress', id, progress: p });
  };
  return {
    push: (e) => {
      const p: ProgressPoint = {
        elapsedMs: e.elapsedMs,
        evaluations: e.evaluations,
        value: e.value,
        x: Array.from(e.x),
        bound: e.bound,
        gap: e.gap,
        phase: e.phase,
        caseIndex: e.caseIndex,
      };
      if (performance.now() - last >= PROGRESS_INTERVAL_MS) send(p);
      else pending = p;
    },
    flush: () => {
      if (pending) send(pending);
    },
  };
}

/** Evaluates the objective on the heat-map grid and on every 1-D slice in one evaluator batch. */
async function surface(m: Model, spec: SurfaceSpec): Promise<Surface> {
  const { c, offset } = parseObjective(spec.objective, m.nOut);
  const through = m.checkPoint(spec.through, 'x*');
  const nIn = m.nIn;
  const nHeat = spec.heat ? spec.heatSteps * spec.heatSteps : 0;
  const n = nHeat + spec.slices.length * spec.sliceSteps;
  const x = new Float64Array(n * nIn); // [n, nIn] row-major
  for (let p = 0; p < n; p++) x.set(through, p * nIn);
  if (spec.heat) {
    const [i, j] = spec.heat;
    const xi = linspace(spec.lo[i], spec.hi[i], spec.heatSteps);
    const xj = linspace(spec.lo[j], spec.hi[j], spec.heatSteps);
    for (let r = 0; r < spec.heatSteps; r++) {
      for (let q = 0; q < spec.heatSteps; q++) {
        const p = r * spec.heatSteps + q;
        x[p * nIn + i] = xi[q];
        x[p * nIn + j] = xj[r];
      }
    }
  }
  spec.slices.forEach((i, s) => {
    const xs = linspace(spec.lo[i], spec.hi[i], spec.sliceSteps);
    for (let q = 0; q < spec.sliceSteps; q++) x[(nHeat + s * spec.sliceSteps + q) * nIn + i] = xs[q];
  });
  const y = await m.evaluator.values(x, n); // [n, nOut]
  const v = new Float64Array(n);
  for (let p = 0; p < n; p++) {
    let s = offset;
    for (let k = 0; k < m.nOut; k++) s += c[k] * y[p * m.nOut + k];
    v[p] = s;
  }
  return {
    spec,
    heat: spec.heat ? v.slice(0, nHeat) : null,
    slices: spec.slices.map((_, s) => v.slice(nHeat + s * spec.sliceSteps, nHeat + (s + 1) * spec.sliceSteps)),
    points: n,
  };
}

// onnxruntime's wasm thread workers may re-import this bundle under the name 'em-pthread': only
// the search worker itself answers the page.
if (!scope.name.startsWith('em-pthread')) {
  scope.addEventListener('message', (ev) => {
    const req = ev.data;
    handle(req).then(
      (msg) => {
        if (msg) reply(msg);
      },
      (e: unknown) => reply({ type: 'error', id: req.id, error: toErrorReport(e) }),
    );
  });
}
