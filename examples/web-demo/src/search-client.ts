import type { MaximizeResult } from 'nnmax';
import type {
  ErrorReport,
  LoadedModel,
  ProgressPoint,
  PropertySummary,
  RunSpec,
  Surface,
  SurfaceSpec,
  Verdict,
  VerifySpec,
  WorkerReply,
  WorkerRequest,
} from './protocol.js';

/** An error raised in the worker, carried back to the page with its name and code. */
export class WorkerError extends Error {
  readonly code: string | null;
  constructor(report: ErrorReport) {
    super(report.message);
    this.name = report.name;
    this.code = report.code;
  }
}

interface Pending {
  resolve(reply: WorkerReply): void;
  reject(e: Error): void;
  onProgress?: (p: ProgressPoint) => void;
}

/** A request without its id (the client numbers requests). */
type Body = WorkerRequest extends infer R ? (R extends { readonly type: 'cancel' } ? never : Omit<R, 'id'>) : never;

/** A running request: its answer, and a way to stop it early (the answer then has what was found). */
export interface Running<T> {
  readonly done: Promise<T>;
  cancel(): void;
}

/** The page's side of the search worker: one promise per request, progress by callback. */
export class SearchClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor() {
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'nnmax-search' });
    this.worker.addEventListener('message', (ev: MessageEvent<WorkerReply>) => this.receive(ev.data));
    // A worker that fails to start (or dies) rejects everything in flight: never a silent hang.
    this.worker.addEventListener('error', (ev) => this.failAll(new Error(`the search worker failed: ${ev.message || 'it could not start'}`)));
    this.worker.addEventListener('messageerror', () => this.failAll(new Error('the search worker sent a message the page cannot read')));
  }

  /** Loads a model (the bytes are transferred). `threads` 0 lets the worker choose. */
  async load(bytes: ArrayBuffer, file: string, threads = 0): Promise<LoadedModel> {
    const r = await this.request({ type: 'load', bytes, file, threads }, [bytes]).done;
    if (r.type !== 'loaded') throw unexpected(r);
    return r.model;
  }

  async property(text: string, file: string): Promise<PropertySummary> {
    const r = await this.request({ type: 'property', text, file }).done;
    if (r.type !== 'property') throw unexpected(r);
    return r.property;
  }

  async surface(spec: SurfaceSpec): Promise<Surface> {
    const r = await this.request({ type: 'surface', spec }).done;
    if (r.type !== 'surface') throw unexpected(r);
    return r.surface;
  }

  run(spec: RunSpec, onProgress: (p: ProgressPoint) => void): Running<MaximizeResult> {
    const r = this.request({ type: 'run', spec }, [], onProgress);
    return {
      done: r.done.then((m) => {
        if (m.type !== 'result') throw unexpected(m);
        return m.result;
      }),
      cancel: r.cancel,
    };
  }

  verify(spec: VerifySpec, onProgress: (p: ProgressPoint) => void): Running<Verdict> {
    const r = this.request({ type: 'verify', spec }, [], onProgress);
    return {
      done: r.done.then((m) => {
        if (m.type !== 'verdict') throw unexpected(m);
        return m.verdict;
      }),
      cancel: r.cancel,
    };
  }

  private request(
    body: Body,
    transfer: Transferable[] = [],
    onProgress?: (p: ProgressPoint) => void,
  ): Running<WorkerReply> {
    const id = this.nextId++;
    const done = new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ ...body, id } as WorkerRequest, transfer);
    });
    return { done, cancel: () => this.worker.postMessage({ type: 'cancel', id } satisfies WorkerRequest) };
  }

  private receive(msg: WorkerReply): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'progress') {
      p.onProgress?.(msg.progress);
      return;
    }
    this.pending.delete(msg.id);
    if (msg.type === 'error') p.reject(new WorkerError(msg.error));
    else p.resolve(msg);
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

function unexpected(r: WorkerReply): Error {
  return new Error(`the search worker answered '${r.type}' out of turn`);
}
