/**
 * Which form fields name DataFrame columns, so the form can offer the kernel's columns.
 *
 * A template may say so in its ui hints (`"ui:widget": "column"` or `"columns"`).
 * Otherwise a convention decides: a free-text string field (no `enum`, `pattern`,
 * `format` or `const`) whose name is a common role name (outcome, group, x, ...),
 * whose name or title mentions "column", or whose description's first sentence
 * speaks of a column; arrays of such strings take several columns. Fields for
 * variable names, files, titles and new names never count, nor does `df`.
 */

export type ColumnInput = 'single' | 'multiple' | 'either';

/** A column field anywhere in the form; `path` follows the uiSchema (array items under `items`). */
export interface ColumnPath {
  path: string[];
  kind: ColumnInput;
}

/** Role names that designate columns in analysis templates. */
export const COLUMN_ROLE_NAMES: ReadonlySet<string> = new Set([
  'outcome',
  'group',
  'value',
  'x',
  'y',
  'by',
  'column',
  'columns',
  'hue',
  'subject',
  'within',
  'between',
  'covariates',
  'predictors',
  'strata',
  'weights',
  'subset',
  'categorical',
  'row',
  'factors'
]);

/** Field names that hold something other than an existing column. */
const NEVER_NAMES = new Set([
  'df',
  'path',
  'name',
  'title',
  'fig_name',
  'result',
  'heading',
  'sheet',
  'sep',
  'encoding',
  'label',
  'file',
  'filename',
  'format',
  'query',
  'expr',
  'expression',
  'code'
]);

const NEVER_NAME_SUFFIX = /_(name|path|file|title|label)$/;
const NEVER_TITLE = /\b(variable|file|path|title|heading|label|new)\b/i;
const MENTIONS_COLUMN = /\bcol(umn)?s?\b/i;
const MENTIONS_COLUMN_WORD = /\bcolumns?\b/i;

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringType(s: Record<string, any>): boolean {
  const t = s.type;
  if (t === 'string') {
    return true;
  }
  return Array.isArray(t) && t.includes('string') && t.every((x: unknown) => x === 'string' || x === 'null');
}

/** A free-text string schema: no enum, pattern, format or const. */
function isPlainString(s: unknown): boolean {
  return (
    isObject(s) &&
    isStringType(s) &&
    !('enum' in s) &&
    !('pattern' in s) &&
    !('format' in s) &&
    !('const' in s)
  );
}

function isArrayOf(s: unknown, item: (x: unknown) => boolean): boolean {
  return isObject(s) && s.type === 'array' && item(s.items);
}

/** The shape of a field that could hold column names, or null. */
function shapeOf(prop: Record<string, any>, itemTest: (x: unknown) => boolean): ColumnInput | null {
  if (itemTest(prop)) {
    return 'single';
  }
  if (isArrayOf(prop, itemTest)) {
    return 'multiple';
  }
  const branches = Array.isArray(prop.anyOf) ? prop.anyOf : Array.isArray(prop.oneOf) ? prop.oneOf : null;
  if (branches && !('type' in prop)) {
    const kinds = new Set<ColumnInput>();
    for (const branch of branches) {
      if (isObject(branch) && branch.type === 'null') {
        continue;
      }
      if (itemTest(branch)) {
        kinds.add('single');
      } else if (isArrayOf(branch, itemTest)) {
        kinds.add('multiple');
      } else {
        return null;
      }
    }
    if (kinds.size === 0) {
      return null;
    }
    return kinds.size === 2 ? 'either' : [...kinds][0];
  }
  return null;
}

function firstSentence(text: unknown): string {
  if (typeof text !== 'string') {
    return '';
  }
  const end = text.search(/\.(\s|$)/);
  return end === -1 ? text : text.slice(0, end);
}

function excluded(name: string, prop: Record<string, any>): boolean {
  if (NEVER_NAMES.has(name) || NEVER_NAME_SUFFIX.test(name) || name.split('_').includes('new')) {
    return true;
  }
  return typeof prop.title === 'string' && NEVER_TITLE.test(prop.title);
}

function mentionsColumn(name: string, prop: Record<string, any>): boolean {
  if (COLUMN_ROLE_NAMES.has(name)) {
    return true;
  }
  if (name.split('_').some(token => MENTIONS_COLUMN.test(token))) {
    return true;
  }
  if (typeof prop.title === 'string' && MENTIONS_COLUMN_WORD.test(prop.title)) {
    return true;
  }
  const sentence = firstSentence(prop.description);
  return MENTIONS_COLUMN_WORD.test(sentence) && !/\bnew\b/i.test(sentence);
}

/**
 * Whether the field `name` (schema `prop`, ui hints `ui`) takes column names:
 * `single` (one column), `multiple` (a list) or `either` (an anyOf of both), else null.
 */
export function columnKind(name: string, prop: unknown, ui?: unknown): ColumnInput | null {
  if (name === 'df' || !isObject(prop)) {
    return null;
  }
  const widget = isObject(ui) ? ui['ui:widget'] : undefined;
  if (widget === 'column' || widget === 'columns') {
    const anyString = (s: unknown) => isObject(s) && isStringType(s);
    return shapeOf(prop, anyString) ?? (widget === 'columns' ? 'multiple' : 'single');
  }
  if (widget !== undefined) {
    return null; // the template chose another widget
  }
  const shape = shapeOf(prop, isPlainString);
  if (shape === null || excluded(name, prop) || !mentionsColumn(name, prop)) {
    return null;
  }
  return shape;
}

function properties(schema: unknown): [string, unknown][] {
  return isObject(schema) && isObject(schema.properties) ? Object.entries(schema.properties) : [];
}

function uiChild(ui: unknown, key: string): unknown {
  return isObject(ui) && Object.prototype.hasOwnProperty.call(ui, key) ? ui[key] : undefined;
}

const MAX_DEPTH = 8;

/** Every column field, including those inside arrays of objects (`conditions.items.column`). */
export function columnPaths(schema: unknown, ui?: unknown): ColumnPath[] {
  const out: ColumnPath[] = [];
  const walk = (node: unknown, nodeUi: unknown, prefix: string[]) => {
    if (prefix.length > MAX_DEPTH) {
      return;
    }
    for (const [name, prop] of properties(node)) {
      const fieldUi = uiChild(nodeUi, name);
      const kind = columnKind(name, prop, fieldUi);
      if (kind) {
        out.push({ path: [...prefix, name], kind });
      } else if (isObject(prop) && isObject(prop.items) && isObject(prop.items.properties)) {
        walk(prop.items, uiChild(fieldUi, 'items'), [...prefix, name, 'items']);
      } else if (isObject(prop) && isObject(prop.properties)) {
        walk(prop, fieldUi, [...prefix, name]);
      }
    }
  };
  walk(schema, ui, []);
  return out;
}

/**
 * The top-level fields that take column names. `either` lists fields that take
 * one column or a list (an anyOf of both), such as a repeated-measures outcome.
 */
export function columnFields(
  schema: any,
  ui?: any
): { single: string[]; multiple: string[]; either: string[] } {
  const result = { single: [] as string[], multiple: [] as string[], either: [] as string[] };
  for (const [name, prop] of properties(schema)) {
    const kind = columnKind(name, prop, uiChild(ui, name));
    if (kind) {
      result[kind].push(name);
    }
  }
  return result;
}
