/**
 * The assistant panel's pure logic (src/assistant/logic.ts), with hand-written
 * expected values, and where it must agree with the server:
 *
 * - the loader templates in cell_templates/library/load-*.json (input names, the
 *   `name` pattern), which the Insert of a data-file suggestion fills in;
 * - the answers of `assistant/profile` and `assistant/suggest`
 *   (datadive_ext/services/assistant.py, docs/assistant.md); the fixtures below are
 *   trimmed copies of what the real library returns for the demo data set;
 * - the server's `ident` filter (cell_templates/literals.py `identifier_problem`),
 *   which every generated variable name goes through when a cell is rendered.
 *
 * The tests after a "Was a bug:" comment show what went wrong for the user before the fix.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Project, Suggestion } from '../src/api';
import type { DataFileChoice } from '../src/assistant/host';
import {
  baseName,
  buildDesign,
  describeAlternative,
  dirName,
  EMPTY_ROLES,
  extension,
  fileKey,
  fileOption,
  formatP,
  formatStat,
  formatValue,
  groupFiles,
  insertionCells,
  kernelKey,
  kernelOption,
  loaderFor,
  projectRelative,
  readProfile,
  relativePath,
  Roles,
  variableName,
  withOutcome
} from '../src/assistant/logic';

const LIBRARY = join(__dirname, '..', '..', 'cell_templates', 'library');

function template(id: string): { id: string; inputs: { required?: string[]; properties: Record<string, any> } } {
  return JSON.parse(readFileSync(join(LIBRARY, `${id}.json`), 'utf8'));
}

/** Python 3.12 `keyword.kwlist` + `keyword.softkwlist`, by hand. */
const PY_KEYWORDS = [
  'False', 'None', 'True', 'and', 'as', 'assert', 'async', 'await', 'break', 'class', 'continue', 'def', 'del',
  'elif', 'else', 'except', 'finally', 'for', 'from', 'global', 'if', 'import', 'in', 'is', 'lambda', 'nonlocal',
  'not', 'or', 'pass', 'raise', 'return', 'try', 'while', 'with', 'yield', '_', 'case', 'match', 'type'
];

function project(id: string, path: string): Project {
  return {
    id,
    name: id,
    description: '',
    path,
    owner: 'alice',
    role: 'editor',
    status: 'ok',
    created_at: '2024-06-01T00:00:00Z',
    updated_at: '2024-06-01T00:00:00Z'
  };
}

const DEMO = project('p1', 'projects/demo-study');

function file(path: string, p: Project = DEMO): DataFileChoice {
  return { project: p, path };
}

/** The top suggestion of `suggest(df, 'score', between='group')` on the demo data (trimmed). */
const ANOVA: Suggestion = {
  test: 'one_way_anova',
  title: 'One-way ANOVA',
  rationale: "'score' is ratio and 'group' defines 3 independent groups (control n = 30, high dose n = 30, low dose n = 30).",
  assumptions: [
    {
      name: 'normality (group = control)',
      statistic: 0.962788,
      p: 0.364248,
      passed: true,
      detail: 'Shapiro-Wilk W = 0.963, p = .364 (n = 30, skew -0.60, excess kurtosis 0.49)'
    } as any
  ],
  warnings: [],
  effect_size: { name: 'eta squared', value: 0.3334 },
  posthoc: 'Tukey HSD (all pairs)',
  template: 'stat-one-way-anova',
  inputs: { df: 'df', outcome: 'score', group: 'group' }
};

// ---- numbers -------------------------------------------------------------------------

describe('formatP (APA style)', () => {
  it('gives three decimals without the leading zero', () => {
    expect(formatP(0.0342)).toBe('p = .034');
    expect(formatP(0.364248)).toBe('p = .364');
    expect(formatP(0.05)).toBe('p = .050');
    expect(formatP(0.5)).toBe('p = .500');
    expect(formatP(0.001)).toBe('p = .001');
    expect(formatP(0.999)).toBe('p = .999');
  });

  it('says p < .001 below .001, never p = .000', () => {
    expect(formatP(0.000999)).toBe('p < .001');
    expect(formatP(0.0004)).toBe('p < .001');
    expect(formatP(2.17e-8)).toBe('p < .001');
    expect(formatP(0)).toBe('p < .001');
    // rounds to .001 with three decimals, but is below .001: still "<"
    expect(formatP(0.0009996)).toBe('p < .001');
  });

  it('says p > .999 near 1, never p = 1.000 (a p value is not reported as 1 with a leading-zero-free format)', () => {
    expect(formatP(0.9996)).toBe('p > .999');
    // above .999 but shown as .999 with three decimals: "p > .999" is still true (like "p < .001" for .0009996)
    expect(formatP(0.9994)).toBe('p > .999');
    expect(formatP(1)).toBe('p > .999');
    expect(formatP(1 + 1e-12)).toBe('p > .999'); // a p a hair above 1 from floating point
    expect(formatP(0.9996)).not.toMatch(/1\.000/);
  });

  it('always has the shape "p = .ddd" between .001 and .999', () => {
    for (let i = 1; i <= 999; i++) {
      const p = i / 1000 + 0.0002;
      if (p <= 0.999) {
        expect(formatP(p)).toMatch(/^p = \.\d{3}$/);
      }
    }
  });

  it('is empty when there is no usable p', () => {
    for (const v of [null, undefined, NaN, Infinity, -Infinity, -0.01, '0.03', {}, [0.03]]) {
      expect(formatP(v)).toBe('');
    }
  });
});

describe('formatStat', () => {
  it('gives 3 significant figures', () => {
    expect(formatStat(0.962788)).toBe('0.963');
    expect(formatStat(0.820064)).toBe('0.820');
    expect(formatStat(21.7603)).toBe('21.8');
    expect(formatStat(123.456)).toBe('123');
    expect(formatStat(-2.3456)).toBe('-2.35');
    expect(formatStat(0.00123)).toBe('0.00123');
  });

  it('gives whole numbers from 1000 up and an exponent below .001', () => {
    expect(formatStat(1234.56)).toBe('1235');
    expect(formatStat(98765.4)).toBe('98765');
    expect(formatStat(-4321.2)).toBe('-4321');
    expect(formatStat(0.0005)).toBe('5.00e-4');
    expect(formatStat(-0.000012345)).toBe('-1.23e-5');
  });

  it('gives 0 for zero and nothing for a non-number', () => {
    expect(formatStat(0)).toBe('0');
    expect(formatStat(-0)).toBe('0');
    for (const v of [null, undefined, NaN, Infinity, '3.2', true]) {
      expect(formatStat(v)).toBe('');
    }
  });

  // Was a bug: values in [999.5, 1000) are below the ">= 1000 -> whole number" branch, so
  // they go through toPrecision(3), which switches to exponent notation when the value
  // rounds up to 1000: a chi-square of 999.7 is shown as "1.00e+3", while 1000.2 is
  // shown as "1000". The doc comment promises whole numbers from 1000 up and an
  // exponent only below .001.
  it('shows a statistic that rounds to 1000 as 1000, not 1.00e+3', () => {
    expect(formatStat(999.7)).toBe('1000');
    expect(formatStat(-999.5)).toBe('-1000');
  });
});

describe('formatValue', () => {
  it('writes an effect size {name, value} as name = value', () => {
    expect(formatValue(ANOVA.effect_size)).toBe('eta squared = 0.333');
    expect(formatValue({ name: 'omega squared', value: 0.31, ci: [0.2, 0.4] })).toBe('omega squared = 0.310 (ci: 0.200, 0.400)');
    expect(formatValue({ name: 'Cramér V', value: null })).toBe('Cramér V = ');
  });

  it('writes strings as they are, integers whole, booleans as yes/no', () => {
    expect(formatValue(ANOVA.posthoc)).toBe('Tukey HSD (all pairs)');
    expect(formatValue(30)).toBe('30');
    expect(formatValue(2.5)).toBe('2.50');
    expect(formatValue(true)).toBe('yes');
    expect(formatValue(false)).toBe('no');
    expect(formatValue(null)).toBe('');
    expect(formatValue(undefined)).toBe('');
  });

  it('joins lists and objects, leaving out empty values', () => {
    expect(formatValue([1, 2.5, null, 'x'])).toBe('1, 2.50, x');
    expect(formatValue({ method: 'Holm', groups: 3, extra: null })).toBe('method: Holm; groups: 3');
    expect(formatValue({ name: 'Dunn', correction: 'Holm' })).toBe('Dunn (correction: Holm)');
  });

  it('stops at a depth', () => {
    expect(formatValue([[[[['deep']]]]])).toBe('…');
  });
});

describe('describeAlternative', () => {
  it('reads a suggestion-like object', () => {
    expect(describeAlternative({ test: 'kruskal_wallis', title: 'Kruskal-Wallis H test', rationale: 'no normality needed' })).toEqual({
      title: 'Kruskal-Wallis H test',
      detail: 'no normality needed'
    });
    expect(describeAlternative({ test: 'welch_anova', why: 'unequal variances' })).toEqual({ title: 'welch_anova', detail: 'unequal variances' });
    expect(describeAlternative({ test: 'x', reason: 'r' })).toEqual({ title: 'x', detail: 'r' });
  });

  it('falls back to the formatted value', () => {
    expect(describeAlternative('welch_anova')).toEqual({ title: 'welch_anova', detail: '' });
    expect(describeAlternative({ name: 'Games-Howell', value: 1 })).toEqual({ title: 'Games-Howell = 1', detail: '' });
    expect(describeAlternative(null)).toEqual({ title: '', detail: '' });
  });
});

// ---- paths and names -----------------------------------------------------------------

describe('baseName, dirName, extension', () => {
  it('split a contents path', () => {
    expect(baseName('projects/a/data/s.csv')).toBe('s.csv');
    expect(baseName('s.csv')).toBe('s.csv');
    expect(baseName('projects/a/')).toBe('a');
    expect(dirName('projects/a/nb/x.ipynb')).toBe('projects/a/nb');
    expect(dirName('x.ipynb')).toBe('');
  });

  it('gives the lower-case extension with its dot, none for a dot file', () => {
    expect(extension('projects/a/DATA.CSV')).toBe('.csv');
    expect(extension('archive.tar.gz')).toBe('.gz');
    expect(extension('README')).toBe('');
    expect(extension('.csv')).toBe(''); // like Python's os.path.splitext, which the server uses
    expect(extension('folder.v2/README')).toBe('');
  });
});

describe('relativePath (the loader path, from the notebook folder)', () => {
  const rel = (notebook: string, target: string) => relativePath(dirName(notebook), target);

  it('goes up to the common folder and down again', () => {
    expect(rel('projects/a/nb/x.ipynb', 'projects/a/data/s.csv')).toBe('../data/s.csv');
    expect(rel('projects/a/nb/deep/x.ipynb', 'projects/a/s.csv')).toBe('../../s.csv');
    expect(rel('projects/b/x.ipynb', 'projects/a/data/s.csv')).toBe('../a/data/s.csv');
  });

  it('gives the bare name in the same folder and goes down into subfolders', () => {
    expect(rel('projects/a/x.ipynb', 'projects/a/s.csv')).toBe('s.csv');
    expect(rel('projects/a/x.ipynb', 'projects/a/data/raw/s.csv')).toBe('data/raw/s.csv');
  });

  it('handles the contents root and look-alike folder names', () => {
    expect(rel('x.ipynb', 'projects/a/s.csv')).toBe('projects/a/s.csv');
    expect(rel('projects/ab/x.ipynb', 'projects/a/s.csv')).toBe('../a/s.csv');
    // a folder named like the file: the file's own name is never taken for a folder
    expect(relativePath('projects/a/s.csv', 'projects/a/s.csv')).toBe('../s.csv');
  });

  it('keeps spaces and other characters as they are (the template quotes the path)', () => {
    expect(rel('projects/a/nb/x.ipynb', 'projects/a/data/2024 results (final).csv')).toBe('../data/2024 results (final).csv');
  });
});

describe('projectRelative', () => {
  it('strips the project folder, as assistant/* expects', () => {
    expect(projectRelative(file('projects/demo-study/data/study.csv'))).toBe('data/study.csv');
    expect(projectRelative(file('projects/demo-study/study.csv', project('p2', 'projects/demo-study/')))).toBe('study.csv');
  });

  it('does not strip a folder that only starts like the project folder', () => {
    expect(projectRelative(file('projects/demo-study-2/study.csv'))).toBe('projects/demo-study-2/study.csv');
  });
});

describe('variableName', () => {
  const NAME_PATTERN = new RegExp(template('load-csv').inputs.properties.name.pattern);

  it('makes a lower-case identifier from the stem', () => {
    expect(variableName('projects/a/Study data 2.csv')).toBe('study_data_2');
    expect(variableName('projects/a/data.backup.csv')).toBe('data_backup');
    expect(variableName('Scores-Q3.XLSX')).toBe('scores_q3');
  });

  it('prefixes a name that would start with a digit', () => {
    expect(variableName('projects/a/data/2024 results (final).csv')).toBe('data_2024_results_final');
    expect(variableName('２０２４.csv')).toBe('data_2024'); // full-width digits fold to ASCII
  });

  it('folds accents to ASCII and falls back to "data" when nothing is left', () => {
    expect(variableName('über.csv')).toBe('uber');
    expect(variableName('Ärzte-Umfrage.xlsx')).toBe('arzte_umfrage');
    expect(variableName('café.csv')).toBe('cafe');
    expect(variableName('数据.csv')).toBe('data');
    expect(variableName('___.csv')).toBe('data');
    expect(variableName('__init__.csv')).toBe('init');
  });

  it('uses the whole name of a dot file (which has no extension)', () => {
    expect(variableName('projects/a/.csv')).toBe('csv');
  });

  it('moves off Python keywords, soft keywords included', () => {
    expect(variableName('class.csv')).toBe('class_data');
    expect(variableName('import.tsv')).toBe('import_data');
    expect(variableName('match.csv')).toBe('match_data');
    expect(variableName('type.csv')).toBe('type_data');
    expect(variableName('None.csv')).toBe('none'); // lower-cased: not a keyword any more
  });

  it("always gives an identifier the loader templates' `name` pattern accepts, never a keyword", () => {
    const names = [
      '2024 results (final).csv', 'über.csv', 'class.csv', '.csv', '数据.csv', '-.csv', ' .csv', 'a b\tc.csv',
      'ÆØÅ.csv', 'ß.csv', 'ﬁle.csv', '²x.csv', 'x'.repeat(40) + '.csv', 'Return.CSV', 'FALSE.csv', '9.csv', '_.csv'
    ];
    for (const n of names) {
      const id = variableName(n);
      expect(id, n).toMatch(NAME_PATTERN);
      expect(id, n).toMatch(/^[a-z_][a-z0-9_]*$/);
      expect(PY_KEYWORDS, n).not.toContain(id);
    }
  });

  // Was a bug: the server renders the loader cell's `{{ name|ident }}` through
  // cell_templates.literals.identifier_problem, which refuses names that shadow a
  // Python builtin. variableName only avoids keywords, so for input.csv, sum.csv,
  // id.csv, max.csv, list.csv, open.csv... Insert fails with
  // "template load-csv could not be rendered ... invalid name 'input': 'input' would
  // shadow a Python builtin".
  it('never gives the name of a Python builtin (the server refuses it)', () => {
    const BUILTINS = ['input', 'sum', 'id', 'max', 'min', 'list', 'set', 'open', 'map', 'filter', 'range', 'zip', 'print', 'license'];
    for (const b of BUILTINS) {
      expect(variableName(`projects/a/${b}.csv`), b).not.toBe(b);
    }
  });

  // Was a bug: the server's identifier rule allows at most 64 characters
  // (`[A-Za-z_][A-Za-z0-9_]{0,63}`); variableName has no length limit, so a data file
  // with a long (but ordinary) name cannot be inserted: "must be an ASCII identifier
  // (...; at most 64 characters)".
  it('keeps names within the 64 characters the server accepts', () => {
    const long = 'Customer satisfaction survey - all regions - Q3 2024 - cleaned and deduplicated (final).csv';
    expect(variableName(long).length).toBeLessThanOrEqual(64);
  });

  // Was a bug: the stat templates start with `import pandas as pd`, `import numpy as np`,
  // `import pingouin as pg`, `import statsmodels.api as sm`, `from scipy import stats`,
  // `import matplotlib.pyplot as plt`. For a file named stats.csv (or pd.csv, np.csv,
  // pg.csv, sm.csv, plt.csv) the loader cell reads the data into `stats`, then the
  // inserted test cell re-imports `stats` over it and fails with
  // "TypeError: 'module' object is not subscriptable" (checked by rendering both cells
  // with the real library and running them).
  it('never gives a name that the inserted test cell imports over the data', () => {
    const IMPORTED = ['pd', 'np', 'pg', 'sm', 'stats', 'plt'];
    for (const m of IMPORTED) {
      expect(variableName(`projects/a/${m}.csv`), m).not.toBe(m);
    }
  });
});

// ---- loaders and inserting -----------------------------------------------------------

describe('loaderFor', () => {
  it('chooses the loader template by extension', () => {
    expect(loaderFor('a/s.csv')).toEqual({ template: 'load-csv', extra: {} });
    expect(loaderFor('a/S.CSV')).toEqual({ template: 'load-csv', extra: {} });
    expect(loaderFor('a/s.txt')).toEqual({ template: 'load-csv', extra: {} });
    expect(loaderFor('a/s.xlsx')).toEqual({ template: 'load-excel', extra: {} });
    expect(loaderFor('a/s.xls')).toEqual({ template: 'load-excel', extra: {} });
    expect(loaderFor('a/s.parquet')).toEqual({ template: 'load-parquet', extra: {} });
    expect(loaderFor('a/s.pq')).toEqual({ template: 'load-parquet', extra: {} });
    expect(loaderFor('a/s.json')).toEqual({ template: 'load-json', extra: {} });
  });

  it('sets the tab separator for .tsv and JSON Lines for .jsonl / .ndjson', () => {
    expect(loaderFor('a/m.tsv')).toEqual({ template: 'load-csv', extra: { sep: '\t' } });
    expect(loaderFor('a/m.TSV')).toEqual({ template: 'load-csv', extra: { sep: '\t' } });
    expect(loaderFor('a/e.jsonl')).toEqual({ template: 'load-json', extra: { lines: true } });
    expect(loaderFor('a/e.ndjson')).toEqual({ template: 'load-json', extra: { lines: true } });
  });

  it('has none for other files', () => {
    for (const p of ['a/s.sav', 'a/s.csv.gz', 'a/csv', 'a/.csv', 'a/notebook.ipynb', '']) {
      expect(loaderFor(p), p).toBeNull();
    }
  });

  it('has a loader for every file type the server reads (READERS in services/assistant.py)', () => {
    for (const ext of ['.csv', '.tsv', '.txt', '.parquet', '.pq', '.xlsx', '.xls', '.json', '.jsonl', '.ndjson']) {
      expect(loaderFor('projects/a/data' + ext), ext).not.toBeNull();
    }
  });

  it("fills only inputs the loader template has, with values its schema accepts", () => {
    for (const ext of ['.csv', '.tsv', '.xlsx', '.parquet', '.json', '.jsonl']) {
      const loader = loaderFor('projects/a/data' + ext)!;
      const doc = template(loader.template);
      expect(doc.id).toBe(loader.template);
      const props = doc.inputs.properties;
      expect(Object.keys(props)).toEqual(expect.arrayContaining(['path', 'name']));
      expect(doc.inputs.required ?? []).toEqual(['path']);
      for (const [key, value] of Object.entries(loader.extra)) {
        expect(props, `${loader.template}.${key}`).toHaveProperty(key);
        if (props[key].type === 'string') {
          expect(typeof value).toBe('string');
          expect((value as string).length).toBeGreaterThanOrEqual(props[key].minLength ?? 0);
          expect((value as string).length).toBeLessThanOrEqual(props[key].maxLength ?? Infinity);
        } else {
          expect(typeof value).toBe(props[key].type);
        }
      }
    }
  });
});

describe('sources', () => {
  it('sends a file as project + project-relative path', () => {
    const option = fileOption(file('projects/demo-study/data/study.csv'));
    expect(option).toMatchObject({
      kind: 'file',
      key: 'file:p1:projects/demo-study/data/study.csv',
      label: 'data/study.csv',
      source: { project: 'p1', path: 'data/study.csv' }
    });
    expect(fileKey(file('projects/demo-study/data/study.csv'))).toBe(option.key);
  });

  it('sends a kernel DataFrame as kernel_id + variable', () => {
    expect(kernelOption('k-1', 'scores')).toEqual({
      kind: 'kernel',
      key: 'kernel:scores',
      label: 'scores',
      kernelId: 'k-1',
      variable: 'scores',
      source: { kernel_id: 'k-1', variable: 'scores' }
    });
    expect(kernelKey('scores')).toBe('kernel:scores');
  });

  it('groups files by project in first-seen order, sorted, without duplicates', () => {
    const other = project('p2', 'projects/other');
    const groups = groupFiles([
      file('projects/demo-study/z.csv'),
      file('projects/other/b.csv', other),
      file('projects/demo-study/data/a.csv'),
      file('projects/demo-study/z.csv')
    ]);
    expect(groups.map(g => g.project.id)).toEqual(['p1', 'p2']);
    expect(groups[0].options.map(o => o.label)).toEqual(['data/a.csv', 'z.csv']);
    expect(groups[1].options.map(o => o.label)).toEqual(['b.csv']);
    expect(groupFiles([])).toEqual([]);
  });
});

describe('insertionCells', () => {
  it('for a kernel DataFrame: the suggestion on that variable, one cell', () => {
    const before = JSON.stringify(ANOVA);
    const cells = insertionCells(kernelOption('k-1', 'scores'), ANOVA, null);
    expect(cells).toEqual([{ template: 'stat-one-way-anova', inputs: { df: 'scores', outcome: 'score', group: 'group' } }]);
    expect(JSON.stringify(ANOVA)).toBe(before); // the suggestion is not changed
  });

  it('for a data file: a loader cell (path from the notebook folder) then the suggestion on its variable', () => {
    const option = fileOption(file('projects/demo-study/data/study.csv'));
    const cells = insertionCells(option, ANOVA, 'projects/demo-study/nb/analysis.ipynb');
    expect(cells).toEqual([
      { template: 'load-csv', inputs: { path: '../data/study.csv', name: 'study' } },
      { template: 'stat-one-way-anova', inputs: { df: 'study', outcome: 'score', group: 'group' } }
    ]);
    expect(ANOVA.inputs.df).toBe('df');
  });

  it('for a TSV with an awkward name next to the notebook', () => {
    const option = fileOption(file('projects/demo-study/2024 results (final).tsv'));
    expect(insertionCells(option, ANOVA, 'projects/demo-study/analysis.ipynb')).toEqual([
      { template: 'load-csv', inputs: { path: '2024 results (final).tsv', name: 'data_2024_results_final', sep: '\t' } },
      { template: 'stat-one-way-anova', inputs: { df: 'data_2024_results_final', outcome: 'score', group: 'group' } }
    ]);
  });

  it('for JSON Lines and Excel', () => {
    const jsonl = insertionCells(fileOption(file('projects/demo-study/events.jsonl')), ANOVA, 'projects/demo-study/a.ipynb');
    expect(jsonl[0]).toEqual({ template: 'load-json', inputs: { path: 'events.jsonl', name: 'events', lines: true } });
    const xlsx = insertionCells(fileOption(file('projects/demo-study/data/Über.xlsx')), ANOVA, 'projects/demo-study/a.ipynb');
    expect(xlsx[0]).toEqual({ template: 'load-excel', inputs: { path: 'data/Über.xlsx', name: 'uber' } });
    expect(xlsx[1].inputs.df).toBe('uber');
  });

  it('refuses a data file without a notebook or without a loader', () => {
    const csv = fileOption(file('projects/demo-study/study.csv'));
    expect(() => insertionCells(csv, ANOVA, null)).toThrow('no active notebook');
    const sav = fileOption(file('projects/demo-study/data/study.sav'));
    expect(() => insertionCells(sav, ANOVA, 'projects/demo-study/a.ipynb')).toThrow('no loader template for study.sav');
  });
});

// ---- the profile ---------------------------------------------------------------------

/** `assistant/profile` for the demo CSV (REST shape: the profile plus `source`), trimmed. */
const REST_PROFILE = {
  rows: 90,
  columns: {
    subject: {
      name: 'subject',
      dtype: 'str',
      level: 'identifier',
      reason: 'a distinct short label on every row: an identifier',
      n: 90,
      missing: 0,
      distinct: 90,
      summary: { mean_length: 4.0, example: 's001' },
      notes: [],
      profiled: true
    },
    group: {
      name: 'group',
      dtype: 'str',
      level: 'nominal',
      reason: 'text categories (3 values)',
      n: 90,
      missing: 0,
      distinct: 3,
      summary: { counts: { control: 30, 'low dose': 30, 'high dose': 30 } },
      notes: [],
      profiled: true
    },
    score: {
      name: 'score',
      dtype: 'float64',
      level: 'ratio',
      reason: 'continuous values, none negative: a measurement with a true zero',
      n: 90,
      missing: 0,
      distinct: 78,
      summary: { min: 33.6, max: 69.8, mean: 53.87, sd: 6.64411 },
      notes: [],
      profiled: true
    }
  },
  source: { rows_read: 90, sampled: false, bytes: 2345 }
};

describe('readProfile', () => {
  it('reads the REST answer {rows, columns: {name: ...}, source}', () => {
    const view = readProfile(REST_PROFILE);
    expect(view.rows).toBe(90);
    expect(view.columns.map(c => c.name)).toEqual(['subject', 'group', 'score']);
    expect(view.columns[1]).toEqual({
      name: 'group',
      level: 'nominal',
      reason: 'text categories (3 values)',
      dtype: 'str',
      n: 90,
      missing: 0,
      distinct: 3,
      summary: { counts: { control: 30, 'low dose': 30, 'high dose': 30 } },
      notes: []
    });
    expect(view.source).toEqual({ rows_read: 90, sampled: false, bytes: 2345 });
  });

  it('reads the same under `profile` (the suggest answer), with `source` beside it', () => {
    const { source, ...profile } = REST_PROFILE;
    const view = readProfile({ profile, suggestions: [ANOVA], design: { outcome: 'score' }, source: { kernel_id: 'k', variable: 'df' } });
    expect(view.rows).toBe(90);
    expect(view.columns.map(c => c.name)).toEqual(['subject', 'group', 'score']);
    expect(view.columns[2].level).toBe('ratio');
    expect(view.source).toEqual({ kernel_id: 'k', variable: 'df' });
    expect(source.rows_read).toBe(90);
  });

  it('keeps what a column does not know as null / empty (an unprofiled column)', () => {
    const view = readProfile({
      rows: 90,
      columns: {
        age: {
          name: 'age',
          dtype: 'int64',
          level: 'ratio',
          reason: 'from the dtype only (int64)',
          n: 90,
          missing: 0,
          distinct: null,
          summary: {},
          notes: [],
          profiled: false
        }
      }
    });
    expect(view.columns[0]).toMatchObject({ name: 'age', distinct: null, summary: {}, notes: [] });
    expect(view.source).toBeNull();
  });

  it('reads a list of columns and takes the key when the name is not a string', () => {
    expect(readProfile({ rows: 2, columns: [{ name: 'a' }, { level: 'binary' }] }).columns.map(c => c.name)).toEqual(['a', '1']);
    const view = readProfile({ columns: { '0': { name: 0, n: '5', missing: NaN, notes: ['few values', null, { name: 'x', value: 2 }], reason: null } } });
    expect(view.rows).toBeNull();
    expect(view.columns[0]).toEqual({
      name: '0',
      level: null,
      reason: '',
      dtype: '',
      n: null,
      missing: null,
      distinct: null,
      summary: {},
      notes: ['few values', 'x = 2']
    });
  });

  it('gives an empty view for anything else', () => {
    for (const answer of [null, undefined, 'x', 42, [], { columns: 5 }, { profile: { rows: 3 } }]) {
      const view = readProfile(answer);
      expect(view.columns).toEqual([]);
      expect(view.source).toBeNull();
    }
  });
});

// ---- the design ----------------------------------------------------------------------

/** DESIGN_KEYS of datadive_ext/services/assistant.py, by hand. */
const SERVER_DESIGN_KEYS = [
  'outcome', 'predictors', 'between', 'within', 'covariates', 'subject', 'weights', 'strata', 'test_value', 'expected', 'goal', 'levels'
];

describe('buildDesign', () => {
  it('sends nothing for empty roles and no "auto" goal', () => {
    expect(buildDesign(EMPTY_ROLES)).toEqual({});
    expect(buildDesign({ ...EMPTY_ROLES, outcome: 'score' })).toEqual({ outcome: 'score' });
    expect(buildDesign({ ...EMPTY_ROLES, outcome: 'score', between: ['group'] })).toEqual({ outcome: 'score', between: ['group'] });
  });

  it('sends every filled role, with keys the server knows', () => {
    const roles: Roles = {
      outcome: 'score',
      predictors: ['age'],
      between: ['group'],
      within: ['time'],
      covariates: ['age'],
      subject: 'subject',
      weights: 'n',
      strata: 'site',
      goal: 'difference'
    };
    const design = buildDesign(roles);
    expect(design).toEqual({
      outcome: 'score',
      predictors: ['age'],
      between: ['group'],
      within: ['time'],
      covariates: ['age'],
      subject: 'subject',
      weights: 'n',
      strata: 'site',
      goal: 'difference'
    });
    for (const key of Object.keys(design)) {
      expect(SERVER_DESIGN_KEYS).toContain(key);
    }
    (design.between as string[]).push('sex');
    expect(roles.between).toEqual(['group']); // a copy, not the roles' own list
  });
});

describe('withOutcome', () => {
  it('makes the column the outcome and takes it out of every other role', () => {
    const roles: Roles = {
      ...EMPTY_ROLES,
      predictors: ['score', 'age'],
      between: ['group', 'score'],
      within: ['score'],
      covariates: ['age'],
      subject: 'score',
      weights: 'n',
      strata: 'score',
      goal: 'association'
    };
    expect(withOutcome(roles, 'score')).toEqual({
      outcome: 'score',
      predictors: ['age'],
      between: ['group'],
      within: [],
      covariates: ['age'],
      subject: '',
      weights: 'n',
      strata: '',
      goal: 'association'
    });
    expect(roles.predictors).toEqual(['score', 'age']);
  });
});
