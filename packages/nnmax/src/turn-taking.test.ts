import { describe, expect, it } from 'vitest';
import { improvementShare, TurnTaking, type SearchShare } from './turn-taking.js';

/**
 * Two loops on one thread with a simulated clock: each "step" advances the clock synchronously
 * (as a wasm session call or a bounding round blocks the thread) and reports its length.
 */
function simulate(share: SearchShare, searchStep: (i: number) => number, babStep: (i: number) => number, babRounds: number, searchSteps: number) {
  const turns = new TurnTaking(share);
  let clock = 0;
  const order: string[] = [];
  const loop = async (side: 'search' | 'bab', steps: number, stepMs: (i: number) => number): Promise<void> => {
    for (let i = 0; i < steps; i++) {
      const ms = stepMs(i);
      clock += ms;
      order.push(side === 'search' ? 's' : 'b');
      await (side === 'search' ? turns.afterSearch(ms) : turns.afterBab(ms));
    }
    turns.finish(side);
  };
  const search = loop('search', searchSteps, searchStep);
  const bab = loop('bab', babRounds, babStep);
  return { turns, done: Promise.all([search, bab]), order, clock: () => clock };
}

describe('TurnTaking', () => {
  it('holds the search share when steps are much longer than rounds', async () => {
    // a search step of 10 ms against bounding rounds of 1 ms, 40% for the search
    const sim = simulate(0.4, () => 10, () => 1, 3000, 100);
    await sim.done;
    const { searchMs, babMs } = sim.turns.spent;
    expect(searchMs).toBe(1000);
    // until the search finished, branch-and-bound had its 60% (within one search step)
    const babBeforeSearchDone = sim.order.slice(0, sim.order.lastIndexOf('s') + 1).filter((o) => o === 'b').length;
    // (within one search step of 10 ms: 1485 to 1515 rounds of 1 ms)
    expect(babBeforeSearchDone).toBeGreaterThanOrEqual(1485);
    expect(babBeforeSearchDone).toBeLessThanOrEqual(1515);
    expect(babMs).toBe(3000);
  });

  it('holds the share with uneven steps on both sides', async () => {
    // 2000 search steps (8000 ms) against enough rounds that branch-and-bound outlasts the search
    const sim = simulate(0.2, (i) => 1 + (i % 7), (i) => 0.5 + (i % 3), 30_000, 2000);
    await sim.done;
    const sIdx = sim.order.lastIndexOf('s');
    const prefix = sim.order.slice(0, sIdx + 1);
    // recompute the time of each side up to the search's last step
    let s = 0;
    let b = 0;
    let si = 0;
    let bi = 0;
    for (const o of prefix) {
      if (o === 's') s += 1 + (si++ % 7);
      else b += 0.5 + (bi++ % 3);
    }
    expect(s / (s + b)).toBeGreaterThan(0.19);
    expect(s / (s + b)).toBeLessThan(0.21);
  });

  it("follows a share that changes with time: the search's part falls towards the later share", async () => {
    // 50% for the first 100 ms, then 10%: after 2000 ms the search has had about 50 + 190 ms
    const sim = simulate((t) => (t < 100 ? 0.5 : 0.1), () => 1, () => 1, 1800, 10_000);
    const { order } = sim;
    await sim.done;
    const first = order.slice(0, 100).filter((o) => o === 's').length;
    expect(first).toBeGreaterThanOrEqual(48);
    expect(first).toBeLessThanOrEqual(52);
    const searchBeforeBabDone = order.slice(0, order.lastIndexOf('b') + 1).filter((o) => o === 's').length;
    // the cumulative rule: search <= 0.1 of the total once past 100 ms, so about 200 of 2000
    expect(searchBeforeBabDone).toBeGreaterThanOrEqual(195);
    expect(searchBeforeBabDone).toBeLessThanOrEqual(205);
  });

  it('a side that finishes releases the other for good, whichever is waiting', async () => {
    // branch-and-bound stops after 3 rounds: the search, far ahead, must not wait forever
    const early = simulate(0.5, () => 5, () => 1, 3, 50);
    await early.done;
    expect(early.turns.spent.searchMs).toBe(250);
    // the search stops after 2 steps: branch-and-bound runs its remaining rounds unhindered
    const late = simulate(0.5, () => 1, () => 5, 40, 2);
    await late.done;
    expect(late.turns.spent.babMs).toBe(200);
  });

  it('finish before any step, or twice, is harmless', async () => {
    const turns = new TurnTaking(0.4);
    turns.finish('bab');
    turns.finish('bab');
    await turns.afterSearch(10); // resolves at once: nobody to wait for
    turns.finish('search');
    await turns.afterBab(10);
    expect(turns.spent).toEqual({ searchMs: 10, babMs: 10 });
  });
});

describe('improvementShare', () => {
  it('keeps the active share while the search improves, and the idle share after it stalls', () => {
    let value = -Infinity;
    const share = improvementShare(() => value, { active: 0.4, idle: 0.05, minGain: 1e-5, windowMs: 1000 });
    expect(share(0)).toBe(0.4);
    value = 1;
    expect(share(500)).toBe(0.4); // first incumbent at 500 ms
    expect(share(1499)).toBe(0.4);
    expect(share(1500)).toBe(0.05); // a second without a gain
    value = 1 + 5e-6; // below minGain: not a gain
    expect(share(1600)).toBe(0.05);
    value = 1 + 2e-5; // gains 2e-5 over the last counted value (1): a gain
    expect(share(1700)).toBe(0.4);
    expect(share(2699)).toBe(0.4);
    expect(share(2700)).toBe(0.05);
    // later, the window is a quarter of the elapsed time: a gain at 8 s counts until t - 8 s >= t / 4
    value = 2;
    expect(share(8000)).toBe(0.4);
    expect(share(10_600)).toBe(0.4);
    expect(share(10_700)).toBe(0.05);
  });
});
