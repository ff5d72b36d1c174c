import { Worker } from 'node:worker_threads';
import { InternalError } from '@nnmax/core';

/**
 * From its TypeScript sources (tsx, vitest) the worker must load `.ts` files: it registers tsx
 * (a dev dependency of the workspace) before importing them. From `dist`, it is plain JavaScript.
 */
const IS_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(IS_SOURCE ? './helper-worker.ts' : './helper-worker.js', import.meta.url);

type Reply = { id: number; out?: unknown; error?: { name: string; message: string } };

/**
 * The thread of the last helper closed without a failure, kept (unreferenced, its state dropped)
 * for the next helper of either kind: a new thread is ready after about 140 ms from dist and
 * 420 ms from the TypeScript sources, a reused one after about 1 ms, and a verification or a
 * search often takes under a second. One at most.
 */
let spare: Worker | undefined;
/** The graph id each thread holds (see connectHelperThread's `init`). */
const heldGraph = new WeakMap<Worker, number>();
/** Request ids, unique in the process: a reply to a closed helper's request can never match a later helper's. */
let nextId = 0;

function newWorker(): Worker {
  const worker = IS_SOURCE
    ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`, {
        eval: true,
        execArgv: ['--conditions=@nnmax/source'],
      })
    : new Worker(WORKER_URL);
  // for the thread's whole life: a spare that fails or exits is forgotten (and an 'error' event
  // always has a listener, so it can never throw in the caller's process)
  const forget = (): void => {
    if (spare === worker) spare = undefined;
  };
  worker.on('error', forget);
  worker.on('exit', forget);
  return worker;
}

/**
 * Sends a graph to the spare thread (see prestartHelperThread) for its next walk helper, which then
 * sends only the graph's id: the node entry calls it when a model loads, so that cloning and
 * rebuilding the graph on the thread (2-8 ms on ACAS Xu) happens then, not in the first search,
 * whose helper walks would wait for it. Nothing is sent when the spare holds the graph already.
 */
export function sendGraphToSpare(graphId: number, graph: unknown): void {
  if (spare === undefined || heldGraph.get(spare) === graphId) return;
  spare.postMessage({ id: -1, type: 'walkGraph', graphId, graph }); // no reply
  heldGraph.set(spare, graphId);
}

/** A connection to a helper thread (helper-worker.ts), set up by one 'init' request. */
export interface HelperThread {
  readonly threadId: number;
  /** The init request succeeded and nothing has failed since. */
  readonly isReady: boolean;
  /** Sends a request ({ type, ...fields }); resolves with the worker's `out`. */
  request(msg: Record<string, unknown>): Promise<unknown>;
  /** Drops the connection; a thread that never failed becomes the spare. */
  close(): void;
}

/**
 * Starts the spare thread if there is none, so that the first helper finds it started (a new
 * thread takes 140-420 ms, see `spare`): the node entry calls it when a model loads.
 */
export function prestartHelperThread(): void {
  if (spare !== undefined) return;
  spare = newWorker();
  spare.unref();
}

/**
 * Connects to the spare thread or a new one and sends the request `init(heldGraph)` makes (its
 * reply marks the helper ready); `heldGraph` is the id of the graph the thread kept from its last
 * init, if any, so that a graph is sent to a thread once (see helper-worker.ts). An idle helper does
 * not keep the process alive. A helper that fails to start is never ready; one that fails later
 * rejects its requests with an InternalError naming `label`.
 */
export function connectHelperThread(init: (heldGraph: number | undefined) => Record<string, unknown> & { readonly graphId?: number }, label: string): HelperThread {
  const worker = spare ?? newWorker();
  spare = undefined;
  worker.unref();
  let isReady = false;
  let failure: Error | undefined;
  const pending = new Map<number, { resolve: (out: unknown) => void; reject: (e: Error) => void }>();
  const fail = (e: Error): void => {
    failure ??= e;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  const onMessage = (msg: Reply): void => {
    const p = pending.get(msg.id);
    if (p === undefined) return;
    pending.delete(msg.id);
    if (pending.size === 0) worker.unref();
    if (msg.error !== undefined) p.reject(new InternalError(`${label} thread: ${msg.error.name}: ${msg.error.message}`));
    else p.resolve(msg.out);
  };
  const onError = (e: Error): void => fail(new InternalError(`${label} thread failed: ${e.message}`, { cause: e }));
  const onExit = (code: number): void => fail(new InternalError(`${label} thread exited (code ${code})`));
  worker.on('message', onMessage);
  worker.on('error', onError);
  worker.on('exit', onExit);
  const request = (msg: Record<string, unknown>): Promise<unknown> => {
    if (failure !== undefined) return Promise.reject(failure);
    const id = nextId++;
    worker.ref();
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...msg, id });
    });
  };
  const initMsg = init(heldGraph.get(worker));
  if (initMsg.graphId !== undefined) heldGraph.set(worker, initMsg.graphId);
  request(initMsg).then(
    () => {
      isReady = true;
    },
    () => undefined, // never ready: the caller works on its own thread
  );
  return {
    threadId: worker.threadId,
    get isReady() {
      return isReady && failure === undefined;
    },
    request,
    close(): void {
      // a thread that never failed is reusable even with requests in flight: it answers them
      // first (FIFO), and their replies match no later request id
      const reusable = failure === undefined && spare === undefined;
      fail(new InternalError(`${label} closed`));
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (reusable) {
        worker.postMessage({ id: -1, type: 'reset' }); // drops the thread's state; no reply
        worker.unref();
        spare = worker;
      } else {
        void worker.terminate();
      }
    },
  };
}
