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
 * A branch-and-bound helper on a worker thread: it holds its own `DomainBounder` for the graph and
 * spec of `init`, becomes ready once built, and bounds the batches it is given. An idle helper does
 * not keep the process alive; branch-and-bound closes it when it returns. A helper that fails to
 * start is never ready (branch-and-bound then runs on one thread); one that fails while bounding
 * rejects the request, and branch-and-bound stops with that error.
 */
export function startBoundingHelper(init: BounderInit): BoundingHelper {
  const worker = IS_SOURCE
    ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`, {
        eval: true,
        execArgv: ['--conditions=@nnmax/source'],
      })
    : new Worker(WORKER_URL);
  worker.unref();
  let nextId = 0;
  let isReady = false;
  let failure: Error | undefined;
  const pending = new Map<number, { resolve: (out: BoundOutcome | undefined) => void; reject: (e: Error) => void }>();
  const fail = (e: Error): void => {
    failure ??= e;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  worker.on('message', (msg: Reply) => {
    const p = pending.get(msg.id);
    if (p === undefined) return;
    pending.delete(msg.id);
    if (pending.size === 0) worker.unref();
    if (msg.error !== undefined) p.reject(new InternalError(`bounding helper thread: ${msg.error.name}: ${msg.error.message}`));
    else p.resolve(msg.out);
  });
  worker.on('error', (e) => fail(new InternalError(`bounding helper thread failed: ${e.message}`, { cause: e })));
  worker.on('exit', (code) => fail(new InternalError(`bounding helper thread exited (code ${code})`)));
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
    get isReady() {
      return isReady && failure === undefined;
    },
    async bound(domains: BabDomain[], prune: PruneState): Promise<BoundOutcome> {
      const out = await request({ type: 'bound', domains, prune });
      if (out === undefined) throw new InternalError('bounding helper thread: empty reply');
      return out;
    },
    close(): void {
      failure ??= new InternalError('bounding helper closed');
      void worker.terminate();
    },
  };
}
