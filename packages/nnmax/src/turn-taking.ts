/**
 * Turn taking between the search portfolio and branch-and-bound when both compute on one thread.
 *
 * With onnxruntime-node a search step blocks the thread too (1.30's `run` is synchronous behind a
 * setImmediate), but Node's timers are exact: a sleep after each bounding round, as long as the
 * search's share asks, is all the sharing they need, the search's steps running during it (see
 * solve.ts). With onnxruntime-web's wasm backend in a browser a timer-based sleep is clamped to
 * 4 ms: it leaves the thread idle or hands it to the search for far longer than its share. Here
 * each side reports the time of its last step and, when it is ahead of its share, waits on a
 * promise that the other side resolves once it has caught up or finished: the thread is never
 * idle and the shares hold.
 *
 * Exactly one side is owed time at any moment (the search when its time is below `searchShare` of
 * the total, else branch-and-bound), and only the side that is not owed waits, so the two never
 * wait on each other; `finish` releases a waiter for good.
 */
export class TurnTaking {
  private searchMs = 0;
  private babMs = 0;
  private searchDone = false;
  private babDone = false;
  private wakeSearch: (() => void) | undefined;
  private wakeBab: (() => void) | undefined;

  constructor(private readonly searchShare: SearchShare) {}

  /** Time each side has had so far (ms). */
  get spent(): { readonly searchMs: number; readonly babMs: number } {
    return { searchMs: this.searchMs, babMs: this.babMs };
  }

  private searchOwed(): boolean {
    const total = this.searchMs + this.babMs;
    return this.searchMs < shareAt(this.searchShare, total) * total;
  }

  /** After a search step of `ms`: hands the thread to branch-and-bound while it is owed time. */
  async afterSearch(ms: number): Promise<void> {
    this.searchMs += ms;
    if (this.searchOwed() || this.babDone) return;
    this.release('bab');
    await new Promise<void>((resolve) => {
      this.wakeSearch = resolve;
    });
  }

  /** After a round of branch-and-bound of `ms`: hands the thread to the search while it is owed time. */
  async afterBab(ms: number): Promise<void> {
    this.babMs += ms;
    if (!this.searchOwed() || this.searchDone) return;
    this.release('search');
    await new Promise<void>((resolve) => {
      this.wakeBab = resolve;
    });
  }

  /** The side has stopped: the other never waits for it again. */
  finish(side: 'search' | 'bab'): void {
    if (side === 'search') this.searchDone = true;
    else this.babDone = true;
    this.release(side === 'search' ? 'bab' : 'search');
  }

  private release(side: 'search' | 'bab'): void {
    const wake = side === 'search' ? this.wakeSearch : this.wakeBab;
    if (side === 'search') this.wakeSearch = undefined;
    else this.wakeBab = undefined;
    wake?.();
  }
}

/** A share of the thread, constant or as a function of the time the two sides have had so far. */
export type SearchShare = number | ((elapsedMs: number) => number);

/** The share at a moment. */
export function shareAt(share: SearchShare, elapsedMs: number): number {
  return typeof share === 'number' ? share : share(elapsedMs);
}

/**
 * A share that follows the search's progress: `active` while the search has improved its incumbent
 * (by more than `minGain`) within the last max(`windowMs`, a quarter of the elapsed time), else
 * `idle`. `incumbent()` reads the search's current incumbent value each time the share is read
 * (once per bounding round in Node, after every step of either side with TurnTaking).
 */
export function improvementShare(
  incumbent: () => number,
  { active, idle, minGain, windowMs }: { readonly active: number; readonly idle: number; readonly minGain: number; readonly windowMs: number },
): (elapsedMs: number) => number {
  let seen = -Infinity;
  let gainedAt = 0;
  return (elapsedMs) => {
    const v = incumbent();
    if (v > seen + minGain) {
      seen = v;
      gainedAt = elapsedMs;
    }
    return elapsedMs - gainedAt < Math.max(windowMs, 0.25 * elapsedMs) ? active : idle;
  };
}
