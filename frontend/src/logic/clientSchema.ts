/**
 * The inputs schema as the browser checks it.
 *
 * The browser's regular expressions backtrack: a user or folder template's pattern
 * such as `(a+)+$` and a long value could hang the user's tab. The server checks
 * those patterns on a linear-time engine (and always validates again), so for a
 * template that is not built in, the browser leaves patterns to the server: it drops
 * `pattern`, `format: regex`, and `patternProperties` together with the
 * `additionalProperties` beside them (which depends on them). Everything else is
 * kept. Built-in templates are trusted: their patterns are checked in the browser.
 */
export function clientSchema<T>(schema: T, trusted: boolean): T {
  return trusted ? schema : (strip(schema) as T);
}

function strip(node: unknown): unknown {
  if (Array.isArray(node)) {
    return node.map(strip);
  }
  if (!node || typeof node !== 'object') {
    return node;
  }
  const source = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const hasPatternProperties = source.patternProperties !== undefined;
  for (const [key, value] of Object.entries(source)) {
    if (key === 'pattern' && typeof value === 'string') {
      continue;
    }
    if (key === 'format' && value === 'regex') {
      continue;
    }
    if (key === 'patternProperties' || (key === 'additionalProperties' && hasPatternProperties)) {
      continue;
    }
    out[key] = strip(value);
  }
  return out;
}
