import { describe, expect, it } from 'vitest';
import { orderedProperties, splitRequired, uiSchemaFor } from '../src/logic/formSchema';

// Copied (shortened) from cell_templates/library/boxplot-by-group.json
const BOXPLOT = {
  type: 'object',
  required: ['value', 'group'],
  properties: {
    df: { type: 'string', title: 'DataFrame', default: 'df', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    value: { type: 'string', title: 'Value column', minLength: 1 },
    group: { type: 'string', title: 'Group column', minLength: 1 },
    show_means: { type: 'boolean', title: 'Show means', default: false },
    show_points: { type: 'boolean', title: 'Show points', default: false },
    title: { type: 'string', title: 'Plot title' },
    fig_name: { type: 'string', title: 'Figure variable', default: 'fig', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }
  }
};
const BOXPLOT_UI = { 'ui:order': ['df', 'value', 'group', 'show_means', 'show_points', 'title', 'fig_name'] };

const FIVE = {
  properties: { a: { type: 'string' }, b: { type: 'string' }, c: { type: 'string' }, d: { type: 'string' }, e: { type: 'string' } },
  required: ['a', 'd']
};

describe('orderedProperties / splitRequired', () => {
  it('follows ui:order, required first', () => {
    expect(splitRequired(BOXPLOT, BOXPLOT_UI)).toEqual({
      required: ['value', 'group'],
      optional: ['df', 'show_means', 'show_points', 'title', 'fig_name']
    });
  });

  it('uses the schema order without ui:order', () => {
    expect(orderedProperties(FIVE)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(splitRequired(FIVE, undefined)).toEqual({ required: ['a', 'd'], optional: ['b', 'c', 'e'] });
  });

  it('puts the unnamed properties at the * wildcard', () => {
    expect(orderedProperties(FIVE, { 'ui:order': ['c', '*', 'a'] })).toEqual(['c', 'b', 'd', 'e', 'a']);
    expect(splitRequired(FIVE, { 'ui:order': ['c', '*', 'a'] })).toEqual({ required: ['d', 'a'], optional: ['c', 'b', 'e'] });
    expect(orderedProperties(FIVE, { 'ui:order': ['*', 'b'] })).toEqual(['a', 'c', 'd', 'e', 'b']);
  });

  it('drops unknown names and repeats, and appends properties an order forgot', () => {
    expect(orderedProperties(FIVE, { 'ui:order': ['zz', 'e', 'e', 'b'] })).toEqual(['e', 'b', 'a', 'c', 'd']);
    expect(orderedProperties(FIVE, { 'ui:order': ['b', '*', 'e', '*', 'a'] })).toEqual(['b', 'c', 'd', 'e', 'a']);
  });

  it('ignores required names that are no property', () => {
    expect(splitRequired({ properties: { a: {} }, required: ['a', 'ghost'] }, {})).toEqual({ required: ['a'], optional: [] });
    expect(splitRequired({}, {})).toEqual({ required: [], optional: [] });
  });
});

describe('uiSchemaFor', () => {
  it('keeps the hints, orders required first and marks column fields', () => {
    const ui = { ...BOXPLOT_UI, show_means: { 'ui:help': 'a dot per group' } };
    const before = JSON.stringify(ui);
    const out = uiSchemaFor(BOXPLOT, ui, { columns: ['height', 'sex'] });
    expect(out).toEqual({
      'ui:order': ['value', 'group', 'df', 'show_means', 'show_points', 'title', 'fig_name'],
      'ui:options': {
        requiredFields: ['value', 'group'],
        optionalFields: ['df', 'show_means', 'show_points', 'title', 'fig_name']
      },
      show_means: { 'ui:help': 'a dot per group' },
      value: { 'ui:options': { columnInput: 'single', columns: ['height', 'sex'] } },
      group: { 'ui:options': { columnInput: 'single', columns: ['height', 'sex'] } }
    });
    expect(JSON.stringify(ui)).toBe(before); // the template's ui is not changed
  });

  it('marks column fields without a column list when the kernel gave none', () => {
    const out = uiSchemaFor(BOXPLOT, BOXPLOT_UI, {});
    expect(out.value).toEqual({ 'ui:options': { columnInput: 'single' } });
  });

  it('sets registered widget names when given, keeping other ui:options', () => {
    const schema = {
      properties: {
        by: { type: 'array', title: 'Group by', items: { type: 'string' } },
        outcome: { type: 'string' },
        other: { type: 'string' }
      }
    };
    const ui = { outcome: { 'ui:options': { placeholder: 'pick one' } }, other: { 'ui:widget': 'column' } };
    const out = uiSchemaFor(schema, ui, { widgets: { single: 'dd-column', multiple: 'dd-columns' }, columns: ['a'] });
    expect(out.by).toEqual({ 'ui:widget': 'dd-columns', 'ui:options': { columnInput: 'multiple', columns: ['a'] } });
    expect(out.outcome).toEqual({ 'ui:widget': 'dd-column', 'ui:options': { placeholder: 'pick one', columnInput: 'single', columns: ['a'] } });
    expect(out.other).toEqual({ 'ui:widget': 'dd-column', 'ui:options': { columnInput: 'single', columns: ['a'] } });
    // without widget names, a template's own hint stays as it is
    expect(uiSchemaFor(schema, ui, {}).other['ui:widget']).toBe('column');
  });

  it('gives each branch of a one-or-many column field its own hint', () => {
    const schema = {
      required: ['outcome'],
      properties: {
        outcome: {
          title: 'Outcome',
          anyOf: [
            { type: 'string', minLength: 1 },
            { type: 'array', items: { type: 'string' }, minItems: 2 }
          ]
        }
      }
    };
    expect(uiSchemaFor(schema, {}, { columns: ['t1', 't2'] }).outcome).toEqual({
      'ui:options': { columnInput: 'either', columns: ['t1', 't2'] },
      anyOf: [
        { 'ui:options': { columnInput: 'single', columns: ['t1', 't2'] } },
        { 'ui:options': { columnInput: 'multiple', columns: ['t1', 't2'] } }
      ]
    });
  });

  it('reaches column fields inside array items and keeps their ui', () => {
    const schema = {
      required: ['conditions'],
      properties: {
        conditions: {
          type: 'array',
          items: { type: 'object', properties: { column: { type: 'string', title: 'Column' }, op: { type: 'string', enum: ['=='] } } }
        }
      }
    };
    const ui = { conditions: { items: { 'ui:order': ['column', 'op'] } } };
    expect(uiSchemaFor(schema, ui, { columns: ['a'] }).conditions).toEqual({
      items: { 'ui:order': ['column', 'op'], column: { 'ui:options': { columnInput: 'single', columns: ['a'] } } }
    });
  });

  it('hides the optional fields when asked', () => {
    const out = uiSchemaFor(BOXPLOT, BOXPLOT_UI, { hiddenOptional: true });
    for (const name of ['df', 'show_means', 'show_points', 'title', 'fig_name']) {
      expect(out[name]['ui:widget'], name).toBe('hidden');
    }
    expect(out.value['ui:widget']).toBeUndefined();
    expect(out.group['ui:widget']).toBeUndefined();
  });

  it('works without ui hints at all', () => {
    expect(uiSchemaFor({ properties: { a: { type: 'number' } }, required: ['a'] }, undefined)).toEqual({
      'ui:order': ['a'],
      'ui:options': { requiredFields: ['a'], optionalFields: [] }
    });
  });
});
