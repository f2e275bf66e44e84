import validator from '@rjsf/validator-ajv8';
import { describe, expect, it } from 'vitest';

import { clientSchema } from '../src/logic/clientSchema';

const hostile = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string', title: 'Name', pattern: '(a+)+$', minLength: 1 },
    tags: { type: 'array', items: { type: 'string', pattern: '^(x|xx)+$' } },
    rx: { type: 'string', format: 'regex' },
    opts: {
      type: 'object',
      patternProperties: { '^(a|aa)+$': { type: 'integer' } },
      additionalProperties: false,
      properties: { keep: { type: 'integer', maximum: 3 } }
    }
  }
};

describe('clientSchema', () => {
  it('keeps a trusted (built-in) schema as it is', () => {
    expect(clientSchema(hostile, true)).toBe(hostile);
  });

  it('leaves the patterns of other templates to the server, and keeps every other rule', () => {
    expect(clientSchema(hostile, false)).toEqual({
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', title: 'Name', minLength: 1 },
        tags: { type: 'array', items: { type: 'string' } },
        rx: { type: 'string' },
        opts: { type: 'object', properties: { keep: { type: 'integer', maximum: 3 } } }
      }
    });
    // The original is not changed.
    expect(hostile.properties.name.pattern).toBe('(a+)+$');
  });

  it('validates a hostile value in the browser with no pattern left to backtrack on', () => {
    const value = { name: 'a'.repeat(40) + '!', opts: { keep: 5 } };
    const errors = validator.validateFormData(value, clientSchema(hostile, false) as any).errors;
    // The only error left is the maximum the browser can check; the pattern is the server's.
    expect(errors.map(e => [e.property, e.name])).toEqual([['.opts.keep', 'maximum']]);
  });
});
