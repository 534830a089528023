import { Raster, type RGB } from "./png.ts";

/** One series of the chart: a storage target and its bytes per day (oldest first). */
export type ChartSeries = { name: string; values: number[] };

/** The colours of the series, in order (repeated past eight); the report's legend uses the same. */
export const SERIES_COLORS: RGB[] = [
  [26, 115, 232],
  [24, 128, 56],
  [227, 116, 0],
  [161, 66, 244],
  [217, 48, 37],
  [0, 137, 123],
  [249, 171, 0],
  [95, 99, 104],
];

export const hex = ([r, g, b]: RGB) => `#${[r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("")}`;

/**
 * A small grouped bar chart as a PNG: one group per day, one bar per series, scaled to the largest
 * value, with a baseline and light grid lines at quarters. No text in the image (no font here):
 * the mail carries the legend, the day labels and the scale beside it.
 */
export function barChartPng(series: ChartSeries[], options: { width?: number; height?: number } = {}): Buffer {
  const width = options.width ?? 560;
  const height = options.height ?? 200;
  const img = new Raster(width, height);
  const pad = { left: 12, right: 12, top: 10, bottom: 14 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const days = Math.max(1, ...series.map((s) => s.values.length));
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  for (let q = 1; q <= 4; q++) img.fill(pad.left, pad.top + plotH - Math.round((plotH * q) / 4), plotW, 1, [232, 234, 237]);
  const groupW = plotW / days;
  const barW = Math.max(1, Math.floor((groupW * 0.8) / Math.max(1, series.length)));
  series.forEach((s, i) => {
    const color = SERIES_COLORS[i % SERIES_COLORS.length]!;
    s.values.forEach((v, day) => {
      const h = max > 0 ? Math.max(v > 0 ? 1 : 0, Math.round((v / max) * plotH)) : 0;
      const x = pad.left + day * groupW + groupW * 0.1 + i * barW;
      img.fill(x, pad.top + plotH - h, Math.max(1, barW - 1), h, color);
    });
  });
  img.fill(pad.left, pad.top + plotH, plotW, 2, [95, 99, 104]);
  return img.png();
}
