import { Worker } from 'node:worker_threads';
import type { BabDomain, BounderInit, BoundingHelper, BoundOutcome, PruneState } from '@nnmax/bounds';
import { InternalError } from '@nnmax/core';

/**
 * From its TypeScript sources (tsx, vitest) the worker must load `.ts` files: it registers tsx
 * (a dev dependency of the workspace) before importing them. From `dist`, it is plain JavaScript.
 */
const IS_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(IS_SOURCE ? './bound-worker.ts' : './bound-worker.js', import.meta.url);

type Reply = { id: number; out?: BoundOutcome; error?: { name: string; message: string } };

/**
 * The thread of the last helper closed without a failure, kept (unreferenced, its bounder and scratch
 * memory dropped) for the next helper: a new thread is ready after about 140 ms from dist and
 * 420 ms from the TypeScript sources, a reused one after about 1 ms, and a verification often
 * takes under a second. One at most.
 */
let spare: Worker | undefined;
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

/** A helper's handle: the `BoundingHelper` interface, and the worker thread it runs on. */
export interface ThreadBoundingHelper extends BoundingHelper {
  readonly threadId: number;
}

/**
 * A branch-and-bound helper on a worker thread: it holds its own `DomainBounder` for the graph and
 * spec of `init`, becomes ready once built, and bounds the batches it is given. An idle helper does
 * not keep the process alive; branch-and-bound closes it when it returns, and a helper closed
 * without a failure leaves its thread to the next one. A helper that fails to start is never
 * ready (branch-and-bound then runs on one thread); one that fails while bounding rejects the
 * request, and branch-and-bound stops with that error.
 */
export function startBoundingHelper(init: BounderInit): ThreadBoundingHelper {
  const worker = spare ?? newWorker();
  spare = undefined;
  worker.unref();
  let isReady = false;
  let failure: Error | undefined;
  const pending = new Map<number, { resolve: (out: BoundOutcome | undefined) => void; reject: (e: Error) => void }>();
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
    if (msg.error !== undefined) p.reject(new InternalError(`bounding helper thread: ${msg.error.name}: ${msg.error.message}`));
    else p.resolve(msg.out);
  };
  const onError = (e: Error): void => fail(new InternalError(`bounding helper thread failed: ${e.message}`, { cause: e }));
  const onExit = (code: number): void => fail(new InternalError(`bounding helper thread exited (code ${code})`));
  worker.on('message', onMessage);
  worker.on('error', onError);
  worker.on('exit', onExit);
  const request = (msg: Record<string, unknown>): Promise<BoundOutcome | undefined> => {
    if (failure !== undefined) return Promise.reject(failure);
    const id = nextId++;
    worker.ref();
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...msg, id });
    });
  };
  request({ type: 'init', init }).then(
    () => {
      isReady = true;
    },
    () => undefined, // never ready: branch-and-bound stays on its own thread
  );
  return {
    threadId: worker.threadId,
    get isReady() {
      return isReady && failure === undefined;
    },
    async bound(domains: BabDomain[], prune: PruneState): Promise<BoundOutcome> {
      const out = await request({ type: 'bound', domains, prune });
      if (out === undefined) throw new InternalError('bounding helper thread: empty reply');
      return out;
    },
    close(): void {
      // a thread that never failed is reusable even with requests in flight: it answers them
      // first (FIFO), and their replies match no later request id
      const reusable = failure === undefined && spare === undefined;
      fail(new InternalError('bounding helper closed'));
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (reusable) {
        worker.postMessage({ id: -1, type: 'reset' }); // drops the bounder; no reply
        worker.unref();
        spare = worker;
      } else {
        void worker.terminate();
      }
    },
  };
}
