import { describe, expect, it } from 'vitest';
import type { TemplateSummary } from '../src/api';
import { CATEGORY_ORDER, TemplateIndex, categoryLabel, sortCategories } from '../src/logic/gallery';

function t(
  id: string,
  title: string,
  description: string,
  category: string,
  tags: string[] = [],
  assistant_test: string | null = null,
  source: TemplateSummary['source'] = 'builtin'
): TemplateSummary {
  return { id, version: 1, title, description, category, tags, assistant_test, source };
}

const TEMPLATES: TemplateSummary[] = [
  t('stat-independent-t', 'Independent-samples t test (Student)', 'Compares the means of two independent groups.', 'stats', ['t-test', 'two-groups'], 'independent_t'),
  t('stat-welch-t', "Welch's t test", 'Compares two group means without assuming equal variances.', 'stats', ['t-test'], 'welch_t'),
  t('stat-paired-t', 'Paired t test', 'Compares two measurements of the same subjects.', 'stats', ['t-test', 'paired'], 'paired_t', 'user'),
  t('histogram', 'Histogram', 'Distribution of a numeric column, e.g. a t test residual check.', 'plot', ['distribution']),
  t('load-csv', 'Load a CSV file', 'Read a CSV or TSV file into a DataFrame.', 'data', ['load', 'csv']),
  t('boxplot-by-group', 'Box plot by group', 'Compare groups.', 'plot', ['boxplot', 'groups'], null, 'path'),
  t('notes', 'Heading and notes', 'Markdown cell.', 'notes'),
  t('my-thing', 'Tests overview', 'Paired summary', 'custom', [], null, 'user')
];

const ids = (list: TemplateSummary[]) => list.map(x => x.id);

describe('CATEGORY_ORDER', () => {
  it('starts with the chip order and uses the real built-in categories', () => {
    // the built-in library (cell_templates/library) uses data, explore, wrangle, plot, stats, notes
    expect(CATEGORY_ORDER).toEqual(['data', 'explore', 'wrangle', 'plot', 'stats', 'notes']);
    expect(CATEGORY_ORDER.slice(0, 5).map(categoryLabel)).toEqual(['Load', 'Explore', 'Wrangle', 'Plot', 'Stats']);
  });

  it('labels unknown categories by capitalising them', () => {
    expect(categoryLabel('custom')).toBe('Custom');
    expect(categoryLabel('load')).toBe('Load');
  });

  it('sorts known categories first, then the rest alphabetically', () => {
    expect(sortCategories(['stats', 'zeta', 'data', 'alpha', 'plot', 'stats'])).toEqual([
      'data',
      'plot',
      'stats',
      'alpha',
      'zeta'
    ]);
  });
});

describe('TemplateIndex.filter', () => {
  const index = new TemplateIndex(TEMPLATES);

  it('without a query lists everything by title', () => {
    expect(ids(index.filter({}))).toEqual([
      'boxplot-by-group', // box plot by group
      'notes', // heading and notes
      'histogram',
      'stat-independent-t',
      'load-csv',
      'stat-paired-t',
      'my-thing', // tests overview
      'stat-welch-t'
    ]);
  });

  it('requires every term (AND) and ranks title-word matches first', () => {
    // tier 1 (each term starts a title word), by title; then histogram (title holds "t", description "t test")
    expect(ids(index.filter({ text: 't test' }))).toEqual([
      'stat-independent-t',
      'stat-paired-t',
      'my-thing',
      'stat-welch-t',
      'histogram'
    ]);
  });

  it('is case-insensitive and ignores extra whitespace', () => {
    expect(ids(index.filter({ text: '  TEST   T ' }))).toEqual(ids(index.filter({ text: 't test' })));
  });

  it('puts a title prefix above a description-only match', () => {
    expect(ids(index.filter({ text: 'paired' }))).toEqual(['stat-paired-t', 'my-thing']);
    expect(ids(index.filter({ text: 'PAIRED' }))).toEqual(['stat-paired-t', 'my-thing']);
  });

  it('ranks title word > tag > description', () => {
    // "Box plot by group" (title word), independent-t (tag two-groups), welch (description "group means")
    expect(ids(index.filter({ text: 'group' }))).toEqual(['boxplot-by-group', 'stat-independent-t', 'stat-welch-t']);
  });

  it('finds ids, tags and tests with _ or - read as spaces', () => {
    expect(ids(index.filter({ text: 'welch_t' }))).toEqual(['stat-welch-t']);
    expect(ids(index.filter({ text: 'independent t' }))).toEqual(['stat-independent-t']);
    expect(ids(index.filter({ text: 'two groups' }))).toEqual(['stat-independent-t']);
    expect(ids(index.filter({ text: 'box plot' }))).toEqual(['boxplot-by-group']);
    expect(ids(index.filter({ text: 'boxplot' }))).toEqual(['boxplot-by-group']);
  });

  it('returns nothing when one term is missing', () => {
    expect(index.filter({ text: 't test zebra' })).toEqual([]);
  });

  it('filters by category, source, test and tag', () => {
    expect(ids(index.filter({ category: 'stats' }))).toEqual(['stat-independent-t', 'stat-paired-t', 'stat-welch-t']);
    expect(ids(index.filter({ source: 'user' }))).toEqual(['stat-paired-t', 'my-thing']);
    expect(ids(index.filter({ test: 'paired_t' }))).toEqual(['stat-paired-t']);
    expect(ids(index.filter({ tag: 't-test' }))).toEqual(['stat-independent-t', 'stat-paired-t', 'stat-welch-t']);
    expect(ids(index.filter({ tag: 't' }))).toEqual([]);
    expect(ids(index.filter({ category: null, source: null, test: '', tag: null })).length).toBe(8);
  });

  it('combines text and filters', () => {
    expect(ids(index.filter({ text: 't test', source: 'builtin' }))).toEqual([
      'stat-independent-t',
      'stat-welch-t',
      'histogram'
    ]);
    expect(ids(index.filter({ text: 't test', category: 'plot' }))).toEqual(['histogram']);
  });

  it('folds accents', () => {
    const accents = new TemplateIndex([t('cafe', 'Café analysis', '', 'explore'), t('other', 'Other', '', 'explore')]);
    expect(ids(accents.filter({ text: 'cafe' }))).toEqual(['cafe']);
    expect(ids(accents.filter({ text: 'CAFÉ' }))).toEqual(['cafe']);
  });
});

describe('TemplateIndex facets', () => {
  const index = new TemplateIndex(TEMPLATES);

  it('counts per category, every category of the index listed in chip order', () => {
    const all = index.categoryCounts({});
    expect(Object.keys(all)).toEqual(['data', 'plot', 'stats', 'notes', 'custom']);
    expect(all).toEqual({ data: 1, plot: 2, stats: 3, notes: 1, custom: 1 });
  });

  it('counts follow the text and the other filters, not the category', () => {
    expect(index.categoryCounts({ text: 't test' })).toEqual({ data: 0, plot: 1, stats: 3, notes: 0, custom: 1 });
    expect(index.categoryCounts({ text: 't test', category: 'plot' })).toEqual({
      data: 0,
      plot: 1,
      stats: 3,
      notes: 0,
      custom: 1
    });
    expect(index.categoryCounts({ source: 'user' })).toEqual({ data: 0, plot: 0, stats: 1, notes: 0, custom: 1 });
  });

  it('lists tests and tags', () => {
    expect(index.tests()).toEqual(['independent_t', 'paired_t', 'welch_t']);
    expect(index.tags()).toEqual(['boxplot', 'csv', 'distribution', 'groups', 'load', 'paired', 't-test', 'two-groups']);
    expect(index.categories()).toEqual(['data', 'plot', 'stats', 'notes', 'custom']);
  });
});

describe('TemplateIndex with 1,000 templates', () => {
  const CATS = ['data', 'explore', 'wrangle', 'plot', 'stats'];
  const many: TemplateSummary[] = [];
  for (let i = 0; i < 1000; i++) {
    many.push(
      t(
        `tpl-${i}`,
        i % 10 === 0 ? `Alpha beta ${i}` : `Gamma ${i}`,
        (i % 7 === 0 ? 'has a needle. ' : '') + (i % 10 === 0 ? 'gamma ray' : 'plain'),
        CATS[i % 5],
        [`tag${i % 3}`]
      )
    );
  }
  const index = new TemplateIndex(many);

  it('finds every description match', () => {
    // multiples of 7 in 0..999: 0, 7, ..., 994 -> 143
    expect(index.filter({ text: 'needle' }).length).toBe(143);
    // i = 0 mod 7 and i = 4 mod 5 (stats): i = 14 mod 35 -> 14, 49, ..., 994 -> 29
    expect(index.filter({ text: 'needle', category: 'stats' }).length).toBe(29);
    // i = 1 mod 3: 1, 4, ..., 997 -> 333
    expect(index.filter({ tag: 'tag1' }).length).toBe(333);
  });

  it('counts categories of the matches', () => {
    // i = 7k, k = 0..142; category index 2k mod 5; k mod 5 = 0, 1, 2 occur 29 times, 3, 4 occur 28 times
    expect(index.categoryCounts({ text: 'needle' })).toEqual({ data: 29, explore: 28, wrangle: 29, plot: 28, stats: 29 });
  });

  it('orders equal ranks by title', () => {
    // multiples of 70: titles "Alpha beta N" sorted as text
    expect(ids(index.filter({ text: 'alpha needle' }))).toEqual(
      [0, 140, 210, 280, 350, 420, 490, 560, 630, 70, 700, 770, 840, 910, 980].map(i => `tpl-${i}`)
    );
  });

  it('ranks 900 title matches above 100 description matches', () => {
    const result = index.filter({ text: 'gamma' });
    expect(result.length).toBe(1000);
    expect(ids(result.slice(0, 3))).toEqual(['tpl-1', 'tpl-101', 'tpl-102']);
    expect(result.slice(0, 900).every(x => x.title.startsWith('Gamma'))).toBe(true);
    expect(ids(result.slice(900, 903))).toEqual(['tpl-0', 'tpl-10', 'tpl-100']);
    expect(result[999].id).toBe('tpl-990');
  });
});
