import { describe, expect, it } from 'vitest';
import type { ColumnProfile } from '../src/api';
import { MAX_CATEGORIES, formatNumber, sparkBars } from '../src/logic/histogram';

const col = (summary: Record<string, unknown> | undefined): ColumnProfile => ({ name: 'c', level: 'ratio', summary });

describe('formatNumber', () => {
  it('keeps whole numbers and rounds the rest to 3 significant digits', () => {
    expect(formatNumber(3)).toBe('3');
    expect(formatNumber(-2.5)).toBe('-2.5');
    expect(formatNumber(1.91667)).toBe('1.92');
    expect(formatNumber(0.123456)).toBe('0.123');
    expect(formatNumber(1234.5)).toBe('1235');
    expect(formatNumber(0.000123456)).toBe('0.000123');
  });
});

describe('sparkBars: histograms', () => {
  it('scales bars to the largest count, leaving a 1 px gap', () => {
    const spark = sparkBars(col({ histogram: { edges: [0, 1, 2, 3, 4], counts: [2, 4, 0, 1] } }), 40, 20);
    expect(spark).toEqual({
      kind: 'hist',
      bars: [
        { x: 0, y: 10, w: 9, h: 10, label: '0–1: 2' },
        { x: 10, y: 0, w: 9, h: 20, label: '1–2: 4' },
        { x: 20, y: 20, w: 9, h: 0, label: '2–3: 0' },
        { x: 30, y: 15, w: 9, h: 5, label: '3–4: 1' }
      ]
    });
  });

  it('labels whole-number bins by their value', () => {
    const spark = sparkBars(col({ histogram: { edges: [0.5, 1.5, 2.5, 3.5], counts: [1, 3, 2] } }), 30, 12);
    expect(spark.bars).toEqual([
      { x: 0, y: 8, w: 9, h: 4, label: '1: 1' },
      { x: 10, y: 0, w: 9, h: 12, label: '2: 3' },
      { x: 20, y: 4, w: 9, h: 8, label: '3: 2' }
    ]);
  });

  it('reads the profile of a real numeric column', () => {
    // from cell_templates.assistant.profile of a = [1.5, 2, 3, 4, 5, 6.5]
    const entry = col({
      min: 1.5,
      max: 6.5,
      histogram: {
        edges: [1.5, 1.91667, 2.33333, 2.75, 3.16667, 3.58333, 4.0, 4.41667, 4.83333, 5.25, 5.66667, 6.08333, 6.5],
        counts: [1, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1]
      }
    });
    const spark = sparkBars(entry, 24, 10);
    expect(spark.kind).toBe('hist');
    expect(spark.bars.length).toBe(12);
    // 2 px slots: no gap
    expect(spark.bars[0]).toEqual({ x: 0, y: 0, w: 2, h: 10, label: '1.5–1.92: 1' });
    expect(spark.bars[2]).toEqual({ x: 4, y: 10, w: 2, h: 0, label: '2.33–2.75: 0' });
    expect(spark.bars[11]).toEqual({ x: 22, y: 0, w: 2, h: 10, label: '6.08–6.5: 1' });
  });

  it('keeps a small non-zero count visible (at least 1 px)', () => {
    const spark = sparkBars(col({ histogram: { edges: [0, 10, 20], counts: [1000, 1] } }), 20, 10);
    expect(spark.bars[1]).toEqual({ x: 10, y: 9, w: 9, h: 1, label: '10–20: 1' });
  });
});

describe('sparkBars: bar charts', () => {
  it('draws category counts in the order given', () => {
    const spark = sparkBars(col({ counts: { x: 2, y: 4, z: 1 } }), 30, 8);
    expect(spark).toEqual({
      kind: 'bar',
      bars: [
        { x: 0, y: 4, w: 9, h: 4, label: 'x: 2' },
        { x: 10, y: 0, w: 9, h: 8, label: 'y: 4' },
        { x: 20, y: 6, w: 9, h: 2, label: 'z: 1' }
      ]
    });
  });

  it('orders numeric levels by value', () => {
    const spark = sparkBars(col({ counts: { '1': 3, '0.5': 1, '1.5': 2 } }), 30, 6);
    expect(spark.bars.map(b => b.label)).toEqual(['0.5: 1', '1: 3', '1.5: 2']);
    expect(spark.bars.map(b => b.h)).toEqual([2, 6, 4]);
  });

  it('keeps "(other)" last', () => {
    const spark = sparkBars(col({ counts: { '(other)': 3, b: 5, a: 1 } }), 30, 10);
    expect(spark.bars.map(b => b.label)).toEqual(['b: 5', 'a: 1', '(other): 3']);
  });

  it(`shows only the ${MAX_CATEGORIES} largest categories, in their order`, () => {
    const names = 'abcdefghijklmn'.split('');
    const values = [5, 1, 7, 2, 9, 3, 11, 4, 13, 6, 8, 10, 12, 14];
    const counts = Object.fromEntries(names.map((n, i) => [n, values[i]]));
    const spark = sparkBars(col({ counts }), 120, 14);
    // b (1) and d (2) are left out
    expect(spark.bars.map(b => b.label)).toEqual([
      'a: 5', 'c: 7', 'e: 9', 'f: 3', 'g: 11', 'h: 4', 'i: 13', 'j: 6', 'k: 8', 'l: 10', 'm: 12', 'n: 14'
    ]);
    expect(spark.bars.map(b => b.x)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110]);
    expect(spark.bars.map(b => b.h)).toEqual([5, 7, 9, 3, 11, 4, 13, 6, 8, 10, 12, 14]);
  });

  it('breaks ties at the cap by keeping the earlier categories', () => {
    const counts = Object.fromEntries('abcdefghijklm'.split('').map(n => [n, 1]));
    const spark = sparkBars(col({ counts }), 120, 10);
    expect(spark.bars.length).toBe(12);
    expect(spark.bars[11].label).toBe('l: 1');
  });

  it('reads a real binary column and a coded ordinal column', () => {
    expect(sparkBars(col({ counts: { True: 3, False: 2 }, proportion_true: 0.6 }), 20, 6).bars).toEqual([
      { x: 0, y: 0, w: 9, h: 6, label: 'True: 3' },
      { x: 10, y: 2, w: 9, h: 4, label: 'False: 2' }
    ]);
    const ordinal = sparkBars(col({ min: 1, max: 6, counts: { '1': 1, '2': 1, '3': 1, '4': 1, '5': 1, '6': 1 } }), 60, 5);
    expect(ordinal.kind).toBe('bar');
    expect(ordinal.bars.map(b => b.label)).toEqual(['1: 1', '2: 1', '3: 1', '4: 1', '5: 1', '6: 1']);
  });
});

describe('sparkBars: nothing to draw', () => {
  it('returns none', () => {
    const none = { kind: 'none', bars: [] };
    expect(sparkBars(col(undefined), 40, 10)).toEqual(none);
    expect(sparkBars(col({ first: '2020-01-01', last: '2020-01-02' }), 40, 10)).toEqual(none);
    expect(sparkBars(col({ counts: {} }), 40, 10)).toEqual(none);
    expect(sparkBars(col({ counts: { a: 0 } }), 40, 10)).toEqual(none);
    expect(sparkBars(col({ histogram: { edges: [0, 1, 2], counts: [0, 0] } }), 40, 10)).toEqual(none);
    expect(sparkBars(col({ counts: { a: 1 } }), 0, 10)).toEqual(none);
    expect(sparkBars(null, 40, 10)).toEqual(none);
  });

  it('ignores a malformed histogram and falls back to counts', () => {
    const spark = sparkBars(col({ histogram: { edges: [0, 1], counts: [1, 2] }, counts: { a: 1 } }), 10, 10);
    expect(spark).toEqual({ kind: 'bar', bars: [{ x: 0, y: 0, w: 9, h: 10, label: 'a: 1' }] });
    expect(sparkBars(col({ histogram: { edges: [0, 1], counts: [1, 2] } }), 10, 10).kind).toBe('none');
  });
});
