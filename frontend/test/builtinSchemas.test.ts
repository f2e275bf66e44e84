/**
 * Every built-in template's `inputs` schema, run through the browser's validator
 * (`@rjsf/validator-ajv8`, the one TemplateForm uses as you type):
 *
 * - ajv compiles it (no Python-only regex syntax, no format ajv does not know);
 * - every example the server accepts, the browser accepts too;
 * - a `pattern` still refuses an obviously wrong value, at the field's own path.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import validator from '@rjsf/validator-ajv8';
import { describe, expect, it } from 'vitest';

const LIBRARY = join(__dirname, '..', '..', 'cell_templates', 'library');

interface TemplateDoc {
  id: string;
  inputs: Record<string, any>;
  examples?: { title?: string; inputs: Record<string, unknown> }[];
}

const files = readdirSync(LIBRARY)
  .filter(f => f.endsWith('.json'))
  .sort();
const templates: [string, TemplateDoc][] = files.map(f => [f, JSON.parse(readFileSync(join(LIBRARY, f), 'utf8'))]);

/**
 * Hand-written cases, one per distinct `pattern` in the library: values the pattern
 * must refuse and values it must accept. A new pattern needs an entry here (use
 * `bad: []` if no value can be said, by hand, to violate it).
 */
const PATTERN_CASES: Record<string, { bad: string[]; good: string[] }> = {
  // Python identifiers (variable names).
  '^[A-Za-z_][A-Za-z0-9_]*$': {
    bad: ['1 bad name', '2x', 'my-var', 'a b', '', 'df\n'],
    good: ['df', '_tmp', 'fig_2', 'Result']
  },
  // Excel sheet names: none of [ ] : * ? / \ and not empty.
  '^[^\\[\\]:*?/\\\\]+$': {
    bad: ['Q1:Q2', 'a/b', 'a\\b', '[x]', 'why?', 'a*'],
    good: ['Sheet1', 'results 2024', 'ü-Übersicht']
  },
  // Figure files: a known image extension at the end.
  '\\.(png|pdf|svg|jpg|jpeg|tif|tiff|eps|ps)$': {
    bad: ['figure.txt', 'figure', 'figure.png.bak', 'png'],
    good: ['figures/histogram.png', 'out.pdf', 'a.b.tiff', 'x.eps']
  }
};

/** Subschemas by keyword: the walk visits exactly the places ajv reads as schemas. */
const SCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const SCHEMA_ONE = ['items', 'additionalItems', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedItems', 'unevaluatedProperties'];
const SCHEMA_LIST = ['anyOf', 'allOf', 'oneOf', 'prefixItems'];

/** Every subschema with its JSON pointer. */
function subschemas(schema: unknown, path = ''): [string, Record<string, any>][] {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    return [];
  }
  const s = schema as Record<string, any>;
  const out: [string, Record<string, any>][] = [[path, s]];
  for (const key of SCHEMA_MAPS) {
    if (s[key] && typeof s[key] === 'object') {
      for (const [name, sub] of Object.entries(s[key])) {
        out.push(...subschemas(sub, `${path}/${key}/${name}`));
      }
    }
  }
  for (const key of SCHEMA_ONE) {
    if (Array.isArray(s[key])) {
      s[key].forEach((sub: unknown, i: number) => out.push(...subschemas(sub, `${path}/${key}/${i}`)));
    } else {
      out.push(...subschemas(s[key], `${path}/${key}`));
    }
  }
  for (const key of SCHEMA_LIST) {
    if (Array.isArray(s[key])) {
      s[key].forEach((sub: unknown, i: number) => out.push(...subschemas(sub, `${path}/${key}/${i}`)));
    }
  }
  return out;
}

function errorsFor(data: unknown, schema: Record<string, any>) {
  return validator.validateFormData(data, schema as any).errors.map(e => ({ name: e.name, property: e.property, message: e.message }));
}

describe('the library', () => {
  it('is found', () => {
    // 62 templates when this test was written; the library only grows.
    expect(templates.length).toBeGreaterThanOrEqual(62);
    expect(files).toContain('bar-chart.json');
    expect(files).toContain('save-figure.json');
  });
});

describe.each(templates)('%s', (_file, doc) => {
  const schema = doc.inputs;

  it('compiles in ajv', () => {
    const compile = () => validator.ajv.compile(schema);
    expect(compile).not.toThrow();
    // The form's own path: a schema ajv cannot compile shows up here, not as an exception.
    expect(validator.rawValidation(schema as any, {}).validationError).toBeUndefined();
  });

  it('uses only formats ajv knows', () => {
    const known = new Set(Object.keys(validator.ajv.formats));
    const unknown = subschemas(schema)
      .filter(([, s]) => typeof s.format === 'string' && !known.has(s.format))
      .map(([path, s]) => `${path}: ${s.format}`);
    expect(unknown).toEqual([]);
  });

  it('uses only patterns this test has cases for', () => {
    const missing = subschemas(schema)
      .filter(([, s]) => typeof s.pattern === 'string' && !(s.pattern in PATTERN_CASES))
      .map(([path, s]) => `${path}: ${s.pattern}`);
    expect(missing).toEqual([]);
  });

  const examples = doc.examples ?? [];
  it('has examples', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  it.each(examples.map((e, i) => [i, e.title ?? '', e.inputs] as const))('accepts example %i (%s)', (_i, _title, inputs) => {
    expect(errorsFor(inputs, schema)).toEqual([]);
  });

  const patterned = Object.entries<Record<string, any>>(schema.properties ?? {}).filter(
    ([, prop]) => typeof prop.pattern === 'string' && (PATTERN_CASES[prop.pattern]?.bad.length ?? 0) > 0
  );
  if (patterned.length && examples.length) {
    it.each(patterned.map(([name, prop]) => [name, prop.pattern as string] as const))('refuses a bad %s (pattern %s)', (name, pattern) => {
      const base = examples[0].inputs;
      for (const bad of PATTERN_CASES[pattern].bad) {
        expect(errorsFor({ ...base, [name]: bad }, schema), JSON.stringify(bad)).toEqual([
          expect.objectContaining({ name: 'pattern', property: `.${name}` })
        ]);
      }
      for (const good of PATTERN_CASES[pattern].good) {
        expect(errorsFor({ ...base, [name]: good }, schema), JSON.stringify(good)).toEqual([]);
      }
    });
  }
});

describe('the compile check', () => {
  // The check above must be able to fail: Python-only regex syntax does not compile in ajv
  // (it builds patterns with the `u` flag, where unknown escapes are errors).
  it.each([
    ['named group (?P<name>...)', '^(?P<word>[a-z]+)$'],
    ['end of string \\Z', '^[a-z]+\\Z'],
    ['possessive quantifier', '^a++$'],
    ['atomic group', '^(?>a+)$']
  ])('refuses %s', (_what, pattern) => {
    const schema = { type: 'object', properties: { x: { type: 'string', pattern } } };
    expect(() => validator.ajv.compile(schema)).toThrow();
    expect(validator.rawValidation(schema as any, {}).validationError).toBeDefined();
  });
});
