import { describe, expect, it } from 'vitest';
import { errorSchemaFromErrors, hasErrors, pointerSegments } from '../src/logic/errors';

const schema = {
  type: 'object',
  properties: {
    df: { type: 'string' },
    value: { type: 'string' },
    by: { type: 'array', items: { type: 'string' } },
    options: { type: 'object', properties: { alpha: { type: 'number' } } },
    'a/b': { type: 'string' },
    'm~n': { type: 'string' },
    conditions: {
      type: 'array',
      items: { type: 'object', properties: { column: { type: 'string' }, op: { type: 'string' } } }
    }
  }
};

describe('pointerSegments', () => {
  it('splits and unescapes per RFC 6901', () => {
    expect(pointerSegments('')).toEqual([]);
    expect(pointerSegments('/')).toEqual([]);
    expect(pointerSegments('/by/1')).toEqual(['by', '1']);
    expect(pointerSegments('/a~1b')).toEqual(['a/b']);
    expect(pointerSegments('/m~0n')).toEqual(['m~n']);
    // ~01 is "~1" literally, not "/"
    expect(pointerSegments('/x~01')).toEqual(['x~1']);
  });
});

describe('errorSchemaFromErrors', () => {
  it('puts a top-level field error under the field', () => {
    const r = errorSchemaFromErrors([{ path: '/value', message: 'must not be empty' }], schema);
    expect(r.fieldErrors).toEqual({ value: { __errors: ['must not be empty'] } });
    expect(r.formErrors).toEqual([]);
  });

  it('nests array items and object members', () => {
    const r = errorSchemaFromErrors(
      [
        { path: '/by/1', message: 'is not a column' },
        { path: '/options/alpha', message: 'must be below 0.5' },
        { path: '/conditions/0/column', message: 'is required' }
      ],
      schema
    );
    expect(r.fieldErrors).toEqual({
      by: { 1: { __errors: ['is not a column'] } },
      options: { alpha: { __errors: ['must be below 0.5'] } },
      conditions: { 0: { column: { __errors: ['is required'] } } }
    });
    expect(r.formErrors).toEqual([]);
  });

  it('strips the /inputs prefix of render requests', () => {
    const r = errorSchemaFromErrors(
      [
        { path: '/inputs/value', message: 'too long' },
        { path: '/inputs/by/0', message: 'bad' }
      ],
      schema
    );
    expect(r.fieldErrors).toEqual({ value: { __errors: ['too long'] }, by: { 0: { __errors: ['bad'] } } });
  });

  it('keeps /inputs when the template has a field named inputs and the pointer is about it', () => {
    const withInputs = { properties: { inputs: { type: 'array' }, value: { type: 'string' } } };
    const r = errorSchemaFromErrors(
      [
        { path: '/inputs/2', message: 'bad item' },
        { path: '/inputs/value', message: 'too long' }
      ],
      withInputs
    );
    expect(r.fieldErrors).toEqual({ inputs: { 2: { __errors: ['bad item'] } }, value: { __errors: ['too long'] } });
  });

  it('unescapes ~1 and ~0 in field names', () => {
    const r = errorSchemaFromErrors(
      [
        { path: '/a~1b', message: 'x' },
        { path: '/m~0n', message: 'y' }
      ],
      schema
    );
    expect(r.fieldErrors).toEqual({ 'a/b': { __errors: ['x'] }, 'm~n': { __errors: ['y'] } });
  });

  it('sends root errors and unknown fields to formErrors', () => {
    const r = errorSchemaFromErrors(
      [
        { path: '', message: 'inputs must be an object' },
        { path: '/', message: 'something at the root' },
        { path: '/inputs', message: 'the cell has no template' },
        { path: '/colour', message: 'is not an allowed property' },
        { path: '/zz/3', message: 'nope' }
      ],
      schema
    );
    expect(r.fieldErrors).toEqual({});
    expect(r.formErrors).toEqual([
      'inputs must be an object',
      'something at the root',
      'the cell has no template',
      'colour: is not an allowed property',
      'zz/3: nope'
    ]);
  });

  it('accumulates several errors on one field and drops exact repeats', () => {
    const r = errorSchemaFromErrors(
      [
        { path: '/value', message: 'first' },
        { path: '/value', message: 'second' },
        { path: '/inputs/value', message: 'first' }
      ],
      schema
    );
    expect(r.fieldErrors).toEqual({ value: { __errors: ['first', 'second'] } });
  });

  it("moves \"'x' is a required property\" onto the named property", () => {
    const r = errorSchemaFromErrors(
      [
        { path: '', message: "'value' is a required property" },
        { path: '/inputs', message: "'by' is a required property" },
        { path: '/conditions/1', message: "'op' is a required property" },
        { path: '', message: "'ghost' is a required property" },
        { path: '', message: `"it's" is a required property` }
      ],
      schema
    );
    expect(r.fieldErrors).toEqual({
      value: { __errors: ['is required'] },
      by: { __errors: ['is required'] },
      conditions: { 1: { op: { __errors: ['is required'] } } }
    });
    expect(r.formErrors).toEqual(['ghost: is required', "it's: is required"]);
  });

  it('only maps own properties of the schema (no prototype names)', () => {
    const r = errorSchemaFromErrors(
      [
        { path: '/constructor', message: 'a' },
        { path: '/__proto__/x', message: 'b' }
      ],
      schema
    );
    expect(r.fieldErrors).toEqual({});
    expect(r.formErrors).toEqual(['constructor: a', '__proto__/x: b']);
    expect(({} as any).x).toBeUndefined();
  });

  it('tolerates a schema without properties and an empty list', () => {
    expect(errorSchemaFromErrors([], schema)).toEqual({ fieldErrors: {}, formErrors: [] });
    expect(errorSchemaFromErrors([{ path: '/value', message: 'm' }], {})).toEqual({
      fieldErrors: {},
      formErrors: ['value: m']
    });
  });
});

describe('hasErrors', () => {
  it('finds messages at any depth', () => {
    expect(hasErrors({})).toBe(false);
    expect(hasErrors(undefined)).toBe(false);
    expect(hasErrors({ value: { __errors: [] } })).toBe(false);
    expect(hasErrors({ value: { __errors: ['x'] } })).toBe(true);
    expect(hasErrors({ by: { 2: { __errors: ['x'] } } })).toBe(true);
    expect(hasErrors({ by: { 2: {} }, value: {} })).toBe(false);
  });

  it('is true for what errorSchemaFromErrors returns for a field error', () => {
    expect(hasErrors(errorSchemaFromErrors([{ path: '/by/0', message: 'x' }], schema).fieldErrors)).toBe(true);
  });
});
