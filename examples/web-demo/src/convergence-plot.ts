import uPlot from 'uplot';
import type { ProgressPoint } from './protocol.js';

const WIDTH = 520;
const HEIGHT = 220;

/** Live convergence: incumbent and certified bound against time, and the gap on a log scale. */
export class ConvergencePlot {
  private readonly t: number[] = []; // seconds since the start
  private readonly value: number[] = [];
  private readonly bound: (number | null)[] = [];
  private readonly gap: (number | null)[] = [];
  private readonly values: uPlot;
  private readonly gaps: uPlot;

  constructor(container: HTMLElement) {
    this.values = new uPlot(
      {
        title: 'Incumbent and certified bound',
        width: WIDTH,
        height: HEIGHT,
        // The first bounds are often far above the incumbent: the y range follows the incumbent and
        // the latest bound, so early bounds leave the top of the plot instead of flattening it.
        scales: { x: { time: false }, y: { range: () => this.valueRange() } },
        axes: [{ label: 'time (s)' }, { label: 'objective', size: 70 }],
        series: [
          { label: 't (s)' },
          { label: 'incumbent', stroke: '#1f77b4', width: 2 },
          { label: 'bound', stroke: '#d62728', width: 2, dash: [6, 4], spanGaps: true },
        ],
      },
      [[], [], []],
      container,
    );
    this.gaps = new uPlot(
      {
        title: 'Gap (log scale)',
        width: WIDTH,
        height: HEIGHT,
        scales: { x: { time: false }, y: { distr: 3 } },
        axes: [{ label: 'time (s)' }, { label: 'gap', size: 70 }],
        series: [{ label: 't (s)' }, { label: 'gap', stroke: '#2ca02c', width: 2, spanGaps: true }],
      },
      [[], []],
      container,
    );
  }

  private valueRange(): uPlot.Range.MinMax {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of this.value) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    for (let k = this.bound.length - 1; k >= 0; k--) {
      const b = this.bound[k];
      if (b === null) continue;
      lo = Math.min(lo, b);
      hi = Math.max(hi, b);
      break;
    }
    if (!Number.isFinite(lo)) return [0, 1];
    const pad = Math.max((hi - lo) * 0.08, Math.abs(hi) * 1e-6, 1e-9);
    return [lo - pad, hi + pad];
  }

  reset(): void {
    this.t.length = 0;
    this.value.length = 0;
    this.bound.length = 0;
    this.gap.length = 0;
    this.redraw();
  }

  push(p: ProgressPoint): void {
    if (!Number.isFinite(p.value)) return;
    this.t.push(p.elapsedMs / 1000);
    this.value.push(p.value);
    this.bound.push(p.bound !== null && Number.isFinite(p.bound) ? p.bound : null);
    // a log scale shows only positive gaps; a closed gap (0) ends the curve
    this.gap.push(p.gap !== null && p.gap > 0 && Number.isFinite(p.gap) ? p.gap : null);
    this.redraw();
  }

  private redraw(): void {
    this.values.setData([this.t, this.value, this.bound] as uPlot.AlignedData);
    this.gaps.setData([this.t, this.gap] as uPlot.AlignedData);
  }
}
