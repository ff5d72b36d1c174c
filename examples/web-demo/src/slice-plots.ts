import uPlot from 'uplot';
import type { Surface } from './protocol.js';

/** One small uPlot per input: the objective along that input through x*, box edges and x* marked. */
export function drawSlices(
  container: HTMLElement,
  surface: Surface,
  marks: { readonly box: { readonly lo: readonly number[]; readonly hi: readonly number[] }; readonly point: readonly number[]; readonly names: readonly string[] },
): void {
  container.replaceChildren();
  const { spec } = surface;
  spec.slices.forEach((i, s) => {
    const xs = Array.from({ length: spec.sliceSteps }, (_, q) => spec.lo[i] + ((spec.hi[i] - spec.lo[i]) * q) / Math.max(1, spec.sliceSteps - 1));
    const vertical = (u: uPlot, x: number, color: string, dash: number[]): void => {
      const ctx = u.ctx;
      const cx = u.valToPos(x, 'x', true);
      ctx.save();
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.setLineDash(dash);
      ctx.beginPath();
      ctx.moveTo(cx, u.bbox.top);
      ctx.lineTo(cx, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.restore();
    };
    const div = document.createElement('div');
    div.className = 'slice';
    container.append(div);
    new uPlot(
      {
        title: marks.names[i],
        width: 260,
        height: 160,
        legend: { show: false },
        scales: { x: { time: false } },
        axes: [{}, { size: 56 }],
        series: [{}, { stroke: '#1f77b4', width: 2 }],
        hooks: {
          draw: [
            (u) => {
              vertical(u, marks.box.lo[i], '#888', [4, 3]);
              vertical(u, marks.box.hi[i], '#888', [4, 3]);
              vertical(u, marks.point[i], '#e8172d', []);
            },
          ],
        },
      },
      [xs, Array.from(surface.slices[s])],
      div,
    );
  });
}
