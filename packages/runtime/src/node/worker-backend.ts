import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Float32Feed, RuntimeBackend, RuntimeSession, SessionSettings } from '../session-evaluator.js';
import { ortSessionOptions } from '../session-evaluator.js';

/**
 * The worker's code, plain CommonJS so it runs from source and from dist alike: it holds one
 * onnxruntime-node session and answers run requests. Buffers are transferred, not copied.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session;
parentPort.on('message', async (msg) => {
  try {
    if (msg.type === 'create') {
      session = await ort.InferenceSession.create(msg.model, msg.options);
      parentPort.postMessage({ id: msg.id });
    } else if (msg.type === 'run') {
      const feeds = {};
      for (const [k, v] of Object.entries(msg.feeds)) feeds[k] = new ort.Tensor('float32', v.data, v.dims);
      const r = await session.run(feeds, msg.outputs);
      const out = {};
      const transfer = [];
      for (const k of msg.outputs) {
        const d = r[k].data;
        out[k] = d;
        transfer.push(d.buffer);
      }
      parentPort.postMessage({ id: msg.id, out }, transfer);
    } else if (msg.type === 'release') {
      if (session) await session.release();
      parentPort.postMessage({ id: msg.id });
    }
  } catch (e) {
    parentPort.postMessage({ id: msg.id, error: String(e && e.message || e) });
  }
});
`;

let ortPath: string | undefined;

class WorkerSession implements RuntimeSession {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(private readonly worker: Worker) {
    worker.on('message', (msg: { id: number; error?: string; out?: unknown }) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (this.pending.size === 0) this.worker.unref();
      if (msg.error !== undefined) p.reject(new Error(msg.error));
      else p.resolve(msg.out);
    });
    worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
    worker.unref();
  }

  request(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const id = this.nextId++;
    // An idle worker must not keep the process alive, a busy one must.
    this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  async run(feeds: Record<string, Float32Feed>, outputs: readonly string[]): Promise<Record<string, Float32Array>> {
    const transfer = Object.values(feeds).map((f) => f.data.buffer as ArrayBuffer);
    return (await this.request({ type: 'run', feeds, outputs: [...outputs] }, transfer)) as Record<string, Float32Array>;
  }

  async release(): Promise<void> {
    await this.request({ type: 'release' }).catch(() => undefined);
    await this.worker.terminate();
  }
}

/** onnxruntime-node sessions, each in its own worker thread. */
export const WORKER_BACKEND: RuntimeBackend = {
  name: 'onnxruntime-node',
  computesOnCallingThread: false,
  async createSession(model: Uint8Array, settings: SessionSettings): Promise<RuntimeSession> {
    ortPath ??= createRequire(import.meta.url).resolve('onnxruntime-node');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath } });
    const session = new WorkerSession(worker);
    try {
      await session.request({ type: 'create', model: Uint8Array.from(model), options: ortSessionOptions(settings) });
    } catch (e) {
      await worker.terminate();
      throw e;
    }
    return session;
  },
};
