import { DomainBounder, type BabOptions, type BounderInit, type BoundingHelper } from '@nnmax/bounds';

export interface InThreadHelperOptions {
  /** Milliseconds before each batch is bounded and answered (batches stay in flight meanwhile). */
  readonly delayMs?: number;
  /** Every request fails with 'helper broke'. */
  readonly fail?: boolean;
  /** Called on every request. */
  readonly onBound?: () => void;
}

/**
 * A stand-in for the worker-thread helper of branch-and-bound, on this thread: it copies each
 * batch when it is sent (as posting it to a worker does), bounds it with its own `DomainBounder`
 * after `delayMs`, and answers a copy; batches still in flight once it is closed are never
 * bounded (a worker's replies after close are dropped). `closed` counts its helpers' closes.
 */
export function inThreadHelper(options: InThreadHelperOptions = {}): NonNullable<BabOptions['helper']> & { closed: number } {
  const factory = Object.assign(
    (init: BounderInit): BoundingHelper => {
      const bounder = new DomainBounder(init.graph, init.spec, init.settings);
      let isClosed = false;
      return {
        isReady: true,
        bound: async (domains, prune) => {
          options.onBound?.();
          if (options.fail) throw new Error('helper broke');
          const copies = structuredClone(domains);
          if (options.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
          if (isClosed) throw new Error('helper closed');
          return structuredClone(bounder.bound(copies, prune));
        },
        close: () => {
          isClosed = true;
          factory.closed++;
        },
      };
    },
    { closed: 0 },
  );
  return factory;
}
