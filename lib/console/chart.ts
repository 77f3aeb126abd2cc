/**
 * The container timeline on uPlot: the back-off wait after each exit as a
 * segment at its height (seconds), exits and restarts as points at either
 * end, so the doubling and the cap show as a staircase that levels off.
 */
import uPlot from 'uplot';
import { chartData, type ChartData, type Timeline } from './timeline.ts';

const COLOURS = { wait: '#bc4c00', exit: '#cf222e', restart: '#1a7f37', grid: '#d8dee4', text: '#424a53' };

export interface TimelineChart {
  update(timeline: Timeline): void;
  destroy(): void;
}

export function timelineChart(target: HTMLElement, timeline: Timeline): TimelineChart {
  let data: ChartData = chartData(timeline);
  const size = () => ({ width: Math.max(260, target.clientWidth), height: target.clientWidth < 600 ? 220 : 280 });
  const axis = { stroke: COLOURS.text, grid: { stroke: COLOURS.grid, width: 1 }, ticks: { stroke: COLOURS.grid, width: 1 } };
  const points = (colour: string, size: number): uPlot.Series.Points => ({ show: true, size, stroke: colour, fill: colour, width: 1 });
  const chart = new uPlot(
    {
      ...size(),
      cursor: { drag: { x: false, y: false, setScale: false } },
      // The page's own legend explains the marks; exit codes are drawn on the chart.
      legend: { show: false },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.15] } },
      axes: [axis, { ...axis, label: 'back-off (s)', size: 56, values: (_u, ticks) => ticks.map((tick) => `${+tick.toFixed(2)}s`) }],
      series: [
        {},
        { label: 'back-off wait', stroke: COLOURS.wait, width: 3, spanGaps: false, points: { show: false } },
        { label: 'restart', stroke: COLOURS.restart, paths: () => null, points: points(COLOURS.restart, 9) },
        { label: 'exit', stroke: COLOURS.exit, paths: () => null, points: points(COLOURS.exit, 10) },
      ],
      hooks: {
        // Exit codes above the exit points: what each crash said, without hovering.
        draw: [
          (u) => {
            const { ctx } = u;
            ctx.save();
            ctx.fillStyle = COLOURS.exit;
            ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
            ctx.textAlign = 'center';
            for (const [index, code] of data.exitCodes) {
              const x = u.data[0][index];
              const y = u.data[3]?.[index];
              if (x == null || y == null || code === undefined) continue;
              ctx.fillText(String(code), u.valToPos(x, 'x', true), u.valToPos(y, 'y', true) - 9 * devicePixelRatio);
            }
            ctx.restore();
          },
        ],
      },
    },
    data.columns,
    target,
  );
  const resize = new ResizeObserver(() => chart.setSize(size()));
  resize.observe(target);
  return {
    update(next) {
      data = chartData(next);
      chart.setData(data.columns);
    },
    destroy() {
      resize.disconnect();
      chart.destroy();
    },
  };
}
