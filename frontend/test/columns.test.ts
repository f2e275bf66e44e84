import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { columnFields, columnKind, columnPaths } from '../src/logic/columns';

// Property definitions copied from cell_templates/library/*.json.
const DF = {
  type: 'string',
  title: 'DataFrame',
  description: 'The variable holding the DataFrame.',
  default: 'df',
  pattern: '^[A-Za-z_][A-Za-z0-9_]*$'
};
const TITLE = { type: 'string', title: 'Plot title', description: 'Leave empty for no title.' };
const FIG_NAME = {
  type: 'string',
  title: 'Figure variable',
  description: 'The variable that receives the matplotlib figure (for saving it later).',
  default: 'fig',
  pattern: '^[A-Za-z_][A-Za-z0-9_]*$'
};
const RESULT = {
  type: 'string',
  title: 'Result variable',
  description: 'The variable that receives the result table (columns listed in the template description).',
  default: 'result',
  pattern: '^[A-Za-z_][A-Za-z0-9_]*$'
};
const ALPHA = {
  type: 'number',
  title: 'Significance level',
  description: 'Alpha for the test, the assumption checks and the confidence intervals.',
  default: 0.05,
  exclusiveMinimum: 0,
  exclusiveMaximum: 0.5
};
const ALTERNATIVE = {
  type: 'string',
  title: 'Alternative hypothesis',
  enum: ['two-sided', 'greater', 'less'],
  default: 'two-sided'
};

const BOXPLOT_BY_GROUP = {
  type: 'object',
  required: ['value', 'group'],
  properties: {
    df: DF,
    value: { type: 'string', title: 'Value column', description: 'A numeric column.', minLength: 1 },
    group: { type: 'string', title: 'Group column', description: 'The column whose values define the boxes.', minLength: 1 },
    show_means: { type: 'boolean', title: 'Show means', default: false },
    show_points: { type: 'boolean', title: 'Show points', default: false },
    title: TITLE,
    fig_name: FIG_NAME
  }
};

const GROUP_SUMMARY = {
  type: 'object',
  required: ['by', 'values'],
  properties: {
    df: DF,
    by: {
      type: 'array',
      title: 'Group by',
      description: 'One or more columns whose values define the groups.',
      items: { type: 'string', minLength: 1 },
      uniqueItems: true,
      minItems: 1
    },
    values: {
      type: 'array',
      title: 'Value columns',
      description: 'The columns to aggregate.',
      items: { type: 'string', minLength: 1 },
      uniqueItems: true,
      minItems: 1
    },
    aggs: {
      type: 'array',
      title: 'Aggregations',
      items: { type: 'string', enum: ['mean', 'median', 'sum', 'count', 'min', 'max', 'std', 'var', 'nunique'] },
      minItems: 1,
      uniqueItems: true
    },
    dropna: { type: 'boolean', title: 'Drop missing groups', default: true },
    flatten: { type: 'boolean', title: 'Flat table', default: true },
    decimals: { type: 'integer', title: 'Decimals', minimum: 0, maximum: 12 },
    name: {
      type: 'string',
      title: 'Result variable',
      description: 'The variable that receives the table.',
      default: 'summary',
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$'
    }
  }
};

const STAT_INDEPENDENT_T = {
  type: 'object',
  required: ['outcome', 'group'],
  properties: {
    df: DF,
    outcome: { type: 'string', title: 'Outcome', description: 'A numeric (interval or ratio) column.', minLength: 1 },
    group: {
      type: 'string',
      title: 'Group',
      description: 'The column defining the 2 independent groups (first level in sorted order = group a).',
      minLength: 1
    },
    alternative: ALTERNATIVE,
    alpha: ALPHA,
    result: RESULT,
    fig_name: FIG_NAME
  }
};

const STAT_ONE_WAY_ANOVA = {
  type: 'object',
  required: ['outcome', 'group'],
  properties: {
    df: DF,
    outcome: { type: 'string', title: 'Outcome', description: 'A numeric (interval or ratio) column.', minLength: 1 },
    group: { type: 'string', title: 'Group', description: 'The column defining the independent groups (2 or more).', minLength: 1 },
    alpha: ALPHA,
    result: RESULT,
    fig_name: FIG_NAME
  }
};

const SCATTER_TREND = {
  type: 'object',
  required: ['x', 'y'],
  properties: {
    df: DF,
    x: { type: 'string', title: 'x column', description: 'Numeric column on the horizontal axis.', minLength: 1 },
    y: { type: 'string', title: 'y column', description: 'Numeric column on the vertical axis.', minLength: 1 },
    group: { type: 'string', title: 'Colour by', description: 'Optional: a column whose values get their own colour.', minLength: 1 },
    trend: { type: 'boolean', title: 'Trend line', default: true },
    title: TITLE,
    fig_name: FIG_NAME
  }
};

const LOAD_CSV = {
  type: 'object',
  required: ['path'],
  properties: {
    path: { type: 'string', title: 'File path', minLength: 1, description: "Relative to the notebook's folder, or absolute." },
    name: {
      type: 'string',
      title: 'Variable name',
      default: 'df',
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      description: 'The variable that receives the DataFrame.'
    },
    sep: { type: 'string', title: 'Delimiter', default: ',', minLength: 1, maxLength: 4 },
    encoding: { type: 'string', title: 'Encoding', default: 'utf-8', description: 'Text encoding of the file, e.g. utf-8, latin-1, cp1252.' },
    na_values: {
      type: 'array',
      title: 'Extra missing-value markers',
      items: { type: 'string' },
      default: [],
      description: "Values read as missing in addition to pandas' defaults (empty, NA, NaN, n/a, ...)."
    }
  }
};

const PIVOT_TABLE_PART = {
  type: 'object',
  properties: {
    df: DF,
    index: {
      type: 'array',
      title: 'Rows',
      description: 'Column(s) whose values label the rows.',
      items: { type: 'string', minLength: 1 },
      uniqueItems: true,
      minItems: 1
    },
    values: { type: 'string', title: 'Values', description: 'The column to aggregate.', minLength: 1 },
    fill_value: { type: 'number', title: 'Fill empty cells with' }
  }
};

const STAT_PAIRED_T_PART = {
  type: 'object',
  required: ['outcome'],
  properties: {
    df: DF,
    outcome: {
      title: 'Outcome',
      anyOf: [
        { type: 'string', title: 'One column (long layout)', minLength: 1 },
        { type: 'array', title: 'Columns (wide layout)', items: { type: 'string', minLength: 1 }, minItems: 2, uniqueItems: true, maxItems: 2 }
      ]
    },
    within: { type: 'string', title: 'Within-subject factor', minLength: 1 },
    subject: { type: 'string', title: 'Subject id', minLength: 1 },
    order: {
      type: 'array',
      title: 'Order of the outcome levels',
      items: { anyOf: [{ type: 'string' }, { type: 'number' }] },
      minItems: 2,
      uniqueItems: true
    }
  }
};

const FILL_MISSING_VALUE = {
  anyOf: [
    { type: 'number', title: 'Number' },
    { type: 'string', title: 'Text' },
    { type: 'boolean', title: 'Yes / no' }
  ],
  title: 'Constant',
  description: "The value to fill in when 'Fill with' is constant."
};

const FILTER_ROWS_PART = {
  type: 'object',
  properties: {
    df: DF,
    conditions: {
      type: 'array',
      title: 'Conditions',
      items: {
        type: 'object',
        title: 'Condition',
        required: ['column', 'op'],
        properties: {
          column: { type: 'string', title: 'Column', description: 'The column to test.', minLength: 1 },
          op: { type: 'string', title: 'Test', enum: ['==', '!=', 'isin'] },
          value: {
            anyOf: [
              { type: 'number', title: 'Number' },
              { type: 'string', title: 'Text' },
              { type: 'boolean', title: 'Yes / no' }
            ],
            title: 'Value'
          },
          values: {
            type: 'array',
            title: 'Values',
            items: { anyOf: [{ type: 'number' }, { type: 'string' }, { type: 'boolean' }] }
          }
        }
      }
    }
  }
};

const RENAME_COLUMNS_PART = {
  type: 'object',
  properties: {
    renames: {
      type: 'array',
      title: 'Renames',
      items: {
        type: 'object',
        properties: {
          old: { type: 'string', title: 'Current name', description: "The column's name now.", minLength: 1 },
          new: { type: 'string', title: 'New name', description: 'Its new name.', minLength: 1 }
        }
      }
    }
  }
};

describe('columnFields on real template definitions', () => {
  it('boxplot-by-group: value and group', () => {
    expect(columnFields(BOXPLOT_BY_GROUP)).toEqual({ single: ['value', 'group'], multiple: [], either: [] });
  });

  it('group-summary: by and values take lists; aggs (enum items) does not', () => {
    expect(columnFields(GROUP_SUMMARY)).toEqual({ single: [], multiple: ['by', 'values'], either: [] });
  });

  it('stat-independent-t and stat-one-way-anova: outcome and group', () => {
    expect(columnFields(STAT_INDEPENDENT_T)).toEqual({ single: ['outcome', 'group'], multiple: [], either: [] });
    expect(columnFields(STAT_ONE_WAY_ANOVA)).toEqual({ single: ['outcome', 'group'], multiple: [], either: [] });
  });

  it('scatter-trend: x, y and the colour group', () => {
    expect(columnFields(SCATTER_TREND)).toEqual({ single: ['x', 'y', 'group'], multiple: [], either: [] });
  });

  it('load-csv: nothing (path, name, separator, encoding, missing markers)', () => {
    expect(columnFields(LOAD_CSV)).toEqual({ single: [], multiple: [], either: [] });
  });

  it('pivot-table: rows and values found from their descriptions', () => {
    expect(columnFields(PIVOT_TABLE_PART)).toEqual({ single: ['values'], multiple: ['index'], either: [] });
  });

  it('paired t: an outcome that is one column or a list is "either"; order levels are not columns', () => {
    expect(columnFields(STAT_PAIRED_T_PART)).toEqual({ single: ['within', 'subject'], multiple: [], either: ['outcome'] });
  });

  it('a value that may be a number is not a column, whatever its name', () => {
    expect(columnKind('value', FILL_MISSING_VALUE)).toBeNull();
  });

  it('df, path, name, title, fig_name and result are never columns', () => {
    const all = { properties: { df: DF, path: LOAD_CSV.properties.path, name: GROUP_SUMMARY.properties.name, title: TITLE, fig_name: FIG_NAME, result: RESULT } };
    expect(columnFields(all)).toEqual({ single: [], multiple: [], either: [] });
    // even without their patterns
    const bare = { properties: { df: { type: 'string' }, path: { type: 'string' }, name: { type: 'string' }, title: { type: 'string' }, fig_name: { type: 'string' }, result: { type: 'string' } } };
    expect(columnFields(bare)).toEqual({ single: [], multiple: [], either: [] });
  });
});

describe('columnKind conventions', () => {
  it('role names are columns when they are free text', () => {
    for (const name of ['outcome', 'group', 'value', 'x', 'y', 'by', 'column', 'hue', 'subject', 'within', 'between']) {
      expect(columnKind(name, { type: 'string' }), name).toBe('single');
    }
    for (const name of ['columns', 'covariates', 'predictors']) {
      expect(columnKind(name, { type: 'array', items: { type: 'string' } }), name).toBe('multiple');
    }
  });

  it('a name or title mentioning column counts', () => {
    expect(columnKind('date_col', { type: 'string' })).toBe('single');
    expect(columnKind('id_column', { type: 'string' })).toBe('single');
    expect(columnKind('keys', { type: 'array', title: 'Key columns', items: { type: 'string' } })).toBe('multiple');
    expect(columnKind('colour', { type: 'string', title: 'Colour' })).toBeNull();
  });

  it('enum, pattern, format and const rule a field out', () => {
    expect(columnKind('group', { type: 'string', enum: ['a', 'b'] })).toBeNull();
    expect(columnKind('group', { type: 'string', pattern: '^x$' })).toBeNull();
    expect(columnKind('group', { type: 'string', format: 'date' })).toBeNull();
    expect(columnKind('group', { type: 'string', const: 'a' })).toBeNull();
    expect(columnKind('by', { type: 'array', items: { type: 'string', enum: ['a'] } })).toBeNull();
  });

  it('non-string fields are not columns', () => {
    expect(columnKind('x', { type: 'number' })).toBeNull();
    expect(columnKind('group', { type: 'boolean' })).toBeNull();
    expect(columnKind('by', { type: 'array', items: { type: 'number' } })).toBeNull();
    expect(columnKind('outcome', undefined)).toBeNull();
  });

  it('new names and variables are not columns even when they mention a column', () => {
    expect(columnKind('new_column', { type: 'string', title: 'New column' })).toBeNull();
    expect(columnKind('target', { type: 'string', title: 'Column variable' })).toBeNull();
    expect(columnKind('out_name', { type: 'string', title: 'Column' })).toBeNull();
  });

  it('an unrelated string is not a column', () => {
    expect(columnKind('sheet', { type: 'string', title: 'Sheet name' })).toBeNull();
    expect(columnKind('label', { type: 'string', title: 'Axis label', description: 'Defaults to the column name.' })).toBeNull();
  });

  it('the ui hint decides', () => {
    expect(columnKind('thing', { type: 'string' }, { 'ui:widget': 'column' })).toBe('single');
    expect(columnKind('things', { type: 'array', items: { type: 'string' } }, { 'ui:widget': 'columns' })).toBe('multiple');
    // a hint also wins over a pattern
    expect(columnKind('thing', { type: 'string', pattern: '^\\w+$' }, { 'ui:widget': 'column' })).toBe('single');
    // another widget means the template wants something else
    expect(columnKind('group', { type: 'string' }, { 'ui:widget': 'textarea' })).toBeNull();
    // but never df
    expect(columnKind('df', { type: 'string' }, { 'ui:widget': 'column' })).toBeNull();
  });

  it('columnFields reads the hints from ui', () => {
    const schema = { properties: { a: { type: 'string' }, b: { type: 'array', items: { type: 'string' } } } };
    expect(columnFields(schema)).toEqual({ single: [], multiple: [], either: [] });
    expect(columnFields(schema, { a: { 'ui:widget': 'column' }, b: { 'ui:widget': 'columns' } })).toEqual({
      single: ['a'],
      multiple: ['b'],
      either: []
    });
  });
});

describe('columnPaths', () => {
  it('finds column fields inside arrays of objects', () => {
    expect(columnPaths(FILTER_ROWS_PART)).toEqual([{ path: ['conditions', 'items', 'column'], kind: 'single' }]);
  });

  it('takes the current name of a rename but not the new one', () => {
    expect(columnPaths(RENAME_COLUMNS_PART)).toEqual([{ path: ['renames', 'items', 'old'], kind: 'single' }]);
  });

  it('lists top-level fields too, with their kind', () => {
    expect(columnPaths(STAT_PAIRED_T_PART)).toEqual([
      { path: ['outcome'], kind: 'either' },
      { path: ['within'], kind: 'single' },
      { path: ['subject'], kind: 'single' }
    ]);
  });
});

describe('the built-in library', () => {
  const dir = join(__dirname, '..', '..', 'cell_templates', 'library');
  const docs = readdirSync(dir)
    .filter(f => f.endsWith('.json'))
    .map(f => JSON.parse(readFileSync(join(dir, f), 'utf8')));

  it('is there to check', () => {
    expect(docs.length).toBeGreaterThan(20);
  });

  it('never offers columns for df, path, name, title, fig_name, result or enum fields', () => {
    for (const doc of docs) {
      const found = columnFields(doc.inputs, doc.ui);
      const all = [...found.single, ...found.multiple, ...found.either];
      for (const name of ['df', 'path', 'name', 'title', 'fig_name', 'result']) {
        expect(all, `${doc.id}.${name}`).not.toContain(name);
      }
      for (const name of all) {
        const prop = doc.inputs.properties[name];
        expect('enum' in prop || 'pattern' in prop, `${doc.id}.${name}`).toBe(false);
      }
    }
  });

  it('offers columns in every template that has a DataFrame and a role field', () => {
    for (const doc of docs) {
      const props = doc.inputs.properties ?? {};
      const role = ['outcome', 'group', 'column', 'columns', 'x', 'by'].find(n => n in props);
      if ('df' in props && role) {
        const found = columnFields(doc.inputs, doc.ui);
        expect([...found.single, ...found.multiple, ...found.either], `${doc.id}.${role}`).toContain(role);
      }
    }
  });
});
