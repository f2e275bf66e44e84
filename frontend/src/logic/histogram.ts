/**
 * Sparkline data for the assistant's profile table: a histogram for numeric
 * columns (`summary.histogram = {edges, counts}`) or a bar chart of category
 * counts (`summary.counts`). Coordinates are SVG pixels with y growing downwards;
 * the tallest bar fills the height.
 */
import type { ColumnProfile } from '../api';

export interface SparkBar {
  x: number;
  y: number;
  w: number;
  h: number;
  /** Human text for a tooltip: "3–4: 5", "x: 2". */
  label: string;
}

export interface Spark {
  kind: 'hist' | 'bar' | 'none';
  bars: SparkBar[];
}

/** A bar chart shows at most this many categories (the largest). */
export const MAX_CATEGORIES = 12;

const OTHER = '(other)';
const NONE: Spark = { kind: 'none', bars: [] };

/** A short number for labels: whole numbers as they are, else 3 significant digits. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v) || Number.isInteger(v)) {
    return String(v);
  }
  const abs = Math.abs(v);
  if (abs >= 1000) {
    return String(Math.round(v));
  }
  if (abs < 0.001) {
    return v.toPrecision(3);
  }
  return String(Number(v.toPrecision(3)));
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/**
 * Lay out `values` as bars across `width`: one slot each, a 1 px gap when slots are
 * wider than 2 px, heights scaled to the largest value (a non-zero count is at
 * least 1 px tall).
 */
function layout(values: number[], labels: string[], width: number, height: number): SparkBar[] {
  const max = Math.max(...values);
  const slot = width / values.length;
  const w = slot > 2 ? slot - 1 : slot;
  return values.map((v, i) => {
    const h = v > 0 ? Math.min(height, Math.max(1, (v / max) * height)) : 0;
    return { x: i * slot, y: height - h, w, h, label: labels[i] };
  });
}

function histogram(summary: Record<string, any>, width: number, height: number): Spark | null {
  const hist = summary.histogram;
  if (typeof hist !== 'object' || hist === null) {
    return null;
  }
  const { edges, counts } = hist as { edges?: unknown; counts?: unknown };
  if (
    !Array.isArray(edges) ||
    !Array.isArray(counts) ||
    counts.length === 0 ||
    edges.length !== counts.length + 1 ||
    !counts.every(isCount) ||
    !edges.every(e => typeof e === 'number' && Number.isFinite(e))
  ) {
    return null;
  }
  if (!counts.some(c => c > 0)) {
    return NONE;
  }
  const labels = counts.map((c, i) => {
    const lo = edges[i] as number;
    const hi = edges[i + 1] as number;
    // Whole-number bins are centred on a value: (v - 0.5, v + 0.5].
    const centre = lo + 0.5;
    if (hi - lo === 1 && Number.isInteger(centre)) {
      return `${formatNumber(centre)}: ${c}`;
    }
    return `${formatNumber(lo)}–${formatNumber(hi)}: ${c}`;
  });
  return { kind: 'hist', bars: layout(counts as number[], labels, width, height) };
}

function bars(summary: Record<string, any>, width: number, height: number): Spark | null {
  const counts = summary.counts;
  if (typeof counts !== 'object' || counts === null || Array.isArray(counts)) {
    return null;
  }
  let entries = Object.entries(counts as Record<string, unknown>).filter((e): e is [string, number] => isCount(e[1]));
  if (entries.length === 0 || !entries.some(([, c]) => c > 0)) {
    return NONE;
  }
  // Numeric levels in value order (JSON objects do not keep "0.5" before "1").
  const numeric = entries.every(([k]) => k.trim() !== '' && Number.isFinite(Number(k)));
  if (numeric) {
    entries = [...entries].sort((a, b) => Number(a[0]) - Number(b[0]));
  } else {
    // The server lists the rest as "(other)": keep it last.
    entries = [...entries.filter(([k]) => k !== OTHER), ...entries.filter(([k]) => k === OTHER)];
  }
  if (entries.length > MAX_CATEGORIES) {
    const keep = new Set(
      entries
        .map((e, i) => ({ count: e[1], i }))
        .sort((a, b) => b.count - a.count || a.i - b.i)
        .slice(0, MAX_CATEGORIES)
        .map(e => e.i)
    );
    entries = entries.filter((_, i) => keep.has(i));
  }
  return {
    kind: 'bar',
    bars: layout(
      entries.map(([, c]) => c),
      entries.map(([k, c]) => `${k}: ${c}`),
      width,
      height
    )
  };
}

/**
 * The sparkline of one profiled column, `width` x `height` pixels. A histogram
 * when the summary has one, else a bar chart of the category counts (the
 * MAX_CATEGORIES largest, in the server's order, numeric levels by value), else none.
 */
export function sparkBars(entry: ColumnProfile | null | undefined, width: number, height: number): Spark {
  const summary = entry?.summary;
  if (typeof summary !== 'object' || summary === null || !(width > 0) || !(height > 0)) {
    return NONE;
  }
  return histogram(summary, width, height) ?? bars(summary, width, height) ?? NONE;
}
