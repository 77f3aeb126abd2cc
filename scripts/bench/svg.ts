/**
 * A small SVG line-chart writer for the benchmark's plots: axes with round
 * ticks, linear or log scales, one polyline (with point markers) per series,
 * and a legend. Pure: data in, SVG text out.
 */

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface Series {
  readonly name: string;
  readonly points: readonly Point[];
  readonly color?: string;
  readonly dashed?: boolean;
  /** Draw the points as well as the line. @default true */
  readonly markers?: boolean;
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly width?: number;
  readonly height?: number;
  readonly logX?: boolean;
  readonly logY?: boolean;
  /** Tick values for x (e.g. the measured concurrencies); otherwise round numbers. */
  readonly xTicks?: readonly number[];
  readonly yMin?: number;
  readonly yMax?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const MARGIN = { top: 40, right: 24, bottom: 52, left: 72 };
const LEGEND_ROW = 18;

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About `count` round tick values covering [min, max] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const span = max - min;
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let value = Math.ceil(min / step) * step; value <= max + step * 1e-9; value += step) ticks.push(Number(value.toPrecision(12)));
  return ticks;
}

/** Powers of ten covering [min, max] (min > 0). */
export function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let exponent = Math.floor(Math.log10(min)); exponent <= Math.ceil(Math.log10(max)); exponent++) ticks.push(10 ** exponent);
  return ticks;
}

/** Short tick labels: 1500 → 1.5k, 2000000 → 2M. */
export function formatTick(value: number): string {
  const abs = Math.abs(value);
  const short = (scaled: number, suffix: string) => `${Number(scaled.toPrecision(3))}${suffix}`;
  if (abs >= 1e6) return short(value / 1e6, 'M');
  if (abs >= 1e4) return short(value / 1e3, 'k');
  return String(Number(value.toPrecision(4)));
}

function scale(domainMin: number, domainMax: number, rangeMin: number, rangeMax: number, log: boolean): (value: number) => number {
  const f = log ? Math.log10 : (value: number) => value;
  const d0 = f(domainMin);
  const d1 = f(domainMax);
  const span = d1 - d0 || 1;
  return (value) => rangeMin + ((f(value) - d0) / span) * (rangeMax - rangeMin);
}

const usable = (point: Point, logX: boolean, logY: boolean) =>
  Number.isFinite(point.x) && Number.isFinite(point.y) && (!logX || point.x > 0) && (!logY || point.y > 0);

export function lineChart(options: ChartOptions): string {
  const width = options.width ?? 640;
  const legendHeight = options.series.length * LEGEND_ROW + 8;
  const height = options.height ?? 360;
  const totalHeight = height + legendHeight;
  const logX = options.logX === true;
  const logY = options.logY === true;
  const points = options.series.flatMap((series) => series.points.filter((point) => usable(point, logX, logY)));
  const xs = [...points.map((point) => point.x), ...(options.xTicks ?? [])];
  const ys = points.map((point) => point.y);
  let xMin = xs.length > 0 ? Math.min(...xs) : 0;
  let xMax = xs.length > 0 ? Math.max(...xs) : 1;
  let yMin = options.yMin ?? (ys.length > 0 ? Math.min(0, ...ys) : 0);
  let yMax = options.yMax ?? (ys.length > 0 ? Math.max(...ys) : 1);
  if (logY) {
    const positive = ys.filter((y) => y > 0);
    yMin = options.yMin ?? 10 ** Math.floor(Math.log10(positive.length > 0 ? Math.min(...positive) : 1));
    yMax = 10 ** Math.ceil(Math.log10(Math.max(yMax, yMin * 10)));
  } else if (options.yMax === undefined) {
    // Up to the next round tick above the largest value, so the top has a label.
    const ticks = niceTicks(yMin, yMax === yMin ? yMin + 1 : yMax);
    const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : 1;
    yMax = Math.ceil(yMax / step - 1e-9) * step || step;
  }
  if (xMin === xMax) {
    xMin = logX ? xMin / 2 : xMin - 1;
    xMax = logX ? xMax * 2 : xMax + 1;
  }
  const plot = { left: MARGIN.left, right: width - MARGIN.right, top: MARGIN.top, bottom: height - MARGIN.bottom };
  const x = scale(xMin, xMax, plot.left, plot.right, logX);
  const y = scale(yMin, yMax, plot.bottom, plot.top, logY);
  const xTicks = options.xTicks ?? (logX ? logTicks(xMin, xMax) : niceTicks(xMin, xMax, 6));
  const yTicks = logY ? logTicks(yMin, yMax) : niceTicks(yMin, yMax, 5);
  const num = (value: number) => Number(value.toFixed(1));

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${totalHeight}" viewBox="0 0 ${width} ${totalHeight}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  parts.push(`<title>${escapeXml(options.title)}</title>`);
  parts.push(`<rect x="0" y="0" width="${width}" height="${totalHeight}" fill="#ffffff"/>`);
  parts.push(`<text x="${num(width / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`);
  for (const tick of yTicks) {
    if (tick < yMin || tick > yMax) continue;
    const ty = num(y(tick));
    parts.push(`<line x1="${plot.left}" y1="${ty}" x2="${plot.right}" y2="${ty}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${plot.left - 6}" y="${num(ty + 4)}" text-anchor="end">${escapeXml(formatTick(tick))}</text>`);
  }
  for (const tick of xTicks) {
    if (tick < xMin || tick > xMax) continue;
    const tx = num(x(tick));
    parts.push(`<line x1="${tx}" y1="${plot.top}" x2="${tx}" y2="${plot.bottom}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${tx}" y="${plot.bottom + 16}" text-anchor="middle">${escapeXml(formatTick(tick))}</text>`);
  }
  parts.push(`<line x1="${plot.left}" y1="${plot.bottom}" x2="${plot.right}" y2="${plot.bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${plot.left}" y1="${plot.top}" x2="${plot.left}" y2="${plot.bottom}" stroke="#333"/>`);
  parts.push(`<text x="${num((plot.left + plot.right) / 2)}" y="${height - 14}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  parts.push(`<text transform="translate(18 ${num((plot.top + plot.bottom) / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`);

  options.series.forEach((series, index) => {
    const color = series.color ?? PALETTE[index % PALETTE.length]!;
    const shown = series.points.filter((point) => usable(point, logX, logY));
    const coordinates = shown.map((point) => `${num(x(point.x))},${num(y(point.y))}`).join(' ');
    if (shown.length > 1) {
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${series.dashed ? ' stroke-dasharray="6 4"' : ''} points="${coordinates}"/>`);
    }
    if (series.markers !== false) {
      for (const point of shown) parts.push(`<circle cx="${num(x(point.x))}" cy="${num(y(point.y))}" r="3" fill="${color}"/>`);
    }
    const legendY = height + 4 + index * LEGEND_ROW;
    parts.push(`<line x1="${plot.left}" y1="${legendY + 6}" x2="${plot.left + 24}" y2="${legendY + 6}" stroke="${color}" stroke-width="2"${series.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${plot.left + 32}" y="${legendY + 10}">${escapeXml(series.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
