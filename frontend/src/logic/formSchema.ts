/**
 * The form's layout from a template's `inputs` schema and `ui` hints: required
 * fields first, optional ones under "More options", and hints for column widgets.
 * Plain data for rjsf; the widgets themselves live in the UI code.
 */
import { columnPaths, type ColumnInput } from './columns';

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function propertyNames(schema: unknown): string[] {
  return isObject(schema) && isObject(schema.properties) ? Object.keys(schema.properties) : [];
}

/**
 * The schema's properties in `ui:order` order, as rjsf orders them: names that are
 * no property are dropped, and `*` stands for every property not named. Unlike rjsf,
 * an order without `*` that misses properties does not fail: they come last.
 */
export function orderedProperties(schema: unknown, ui?: unknown): string[] {
  const names = propertyNames(schema);
  const order = isObject(ui) ? ui['ui:order'] : undefined;
  if (!Array.isArray(order)) {
    return names;
  }
  const known = new Set(names);
  const listed: string[] = [];
  let wildcard = -1;
  for (const item of order) {
    if (item === '*') {
      if (wildcard === -1) {
        wildcard = listed.length;
      }
    } else if (typeof item === 'string' && known.has(item) && !listed.includes(item)) {
      listed.push(item);
    }
  }
  const rest = names.filter(n => !listed.includes(n));
  if (wildcard === -1) {
    return [...listed, ...rest];
  }
  return [...listed.slice(0, wildcard), ...rest, ...listed.slice(wildcard)];
}

/** Required and optional fields, each in the form's order. */
export function splitRequired(schema: any, ui?: any): { required: string[]; optional: string[] } {
  const required = new Set<string>(
    isObject(schema) && Array.isArray(schema.required) ? schema.required.filter((r: unknown) => typeof r === 'string') : []
  );
  const ordered = orderedProperties(schema, ui);
  return {
    required: ordered.filter(n => required.has(n)),
    optional: ordered.filter(n => !required.has(n))
  };
}

export interface UiSchemaOptions {
  /** The DataFrame's columns, when the kernel told us. */
  columns?: string[];
  /** Hide the optional fields (the "More options" part is collapsed). */
  hiddenOptional?: boolean;
  /**
   * Registered widget names to use for column fields. Left out, no `ui:widget` is
   * set (rjsf fails on a widget name it does not know).
   */
  widgets?: { single?: string; multiple?: string };
}

function clone<T>(value: T): T {
  return value === undefined ? value : JSON.parse(JSON.stringify(value));
}

/** The ui node at `path`, created (as own properties) where missing. */
function nodeAt(root: Record<string, any>, path: string[]): Record<string, any> {
  let node = root;
  for (const key of path) {
    if (!Object.prototype.hasOwnProperty.call(node, key) || !isObject(node[key])) {
      Object.defineProperty(node, key, { value: {}, enumerable: true, writable: true, configurable: true });
    }
    node = node[key];
  }
  return node;
}

function addColumnHints(node: Record<string, any>, kind: 'single' | 'multiple', opts: UiSchemaOptions): void {
  const options: Record<string, unknown> = { ...(isObject(node['ui:options']) ? node['ui:options'] : {}), columnInput: kind };
  if (opts.columns) {
    options.columns = [...opts.columns];
  }
  node['ui:options'] = options;
  const widget = opts.widgets?.[kind];
  const current = node['ui:widget'];
  if (widget && (current === undefined || current === 'column' || current === 'columns')) {
    node['ui:widget'] = widget;
  }
}

function branchKinds(prop: unknown): ('single' | 'multiple' | null)[] {
  const branches: unknown[] = isObject(prop) ? (Array.isArray(prop.anyOf) ? prop.anyOf : prop.oneOf ?? []) : [];
  return branches.map(b => (isObject(b) && b.type === 'array' ? 'multiple' : isObject(b) && b.type !== 'null' ? 'single' : null));
}

function schemaAt(schema: unknown, path: string[]): unknown {
  let node: unknown = schema;
  for (const key of path) {
    if (!isObject(node)) {
      return undefined;
    }
    node = key === 'items' && node.type === 'array' ? node.items : isObject(node.properties) ? node.properties[key] : undefined;
  }
  return node;
}

/**
 * The rjsf uiSchema for a template's form: the template's own hints, `ui:order`
 * with required fields first, and for each column field
 * `ui:options: {columnInput: 'single' | 'multiple', columns?}` for a column widget
 * to read. A field taking one column or a list (`anyOf`) gets the hints per branch
 * under `anyOf`. With `hiddenOptional`, optional fields get `ui:widget: 'hidden'`.
 * The root's `ui:options` lists `requiredFields` and `optionalFields` for a custom layout.
 */
export function uiSchemaFor(schema: any, ui: any, opts: UiSchemaOptions = {}): Record<string, any> {
  const out: Record<string, any> = isObject(ui) ? clone(ui) : {};
  const { required, optional } = splitRequired(schema, ui);
  out['ui:order'] = [...required, ...optional];
  out['ui:options'] = { ...(isObject(out['ui:options']) ? out['ui:options'] : {}), requiredFields: required, optionalFields: optional };

  for (const { path, kind } of columnPaths(schema, ui)) {
    const node = nodeAt(out, path);
    if (kind !== 'either') {
      addColumnHints(node, kind, opts);
      continue;
    }
    node['ui:options'] = {
      ...(isObject(node['ui:options']) ? node['ui:options'] : {}),
      columnInput: 'either' as ColumnInput,
      ...(opts.columns ? { columns: [...opts.columns] } : {})
    };
    const prop = schemaAt(schema, path);
    const key = isObject(prop) && Array.isArray(prop.anyOf) ? 'anyOf' : 'oneOf';
    const existing: unknown[] = Array.isArray(node[key]) ? node[key] : [];
    node[key] = branchKinds(prop).map((k, i) => {
      const branchUi: Record<string, any> = isObject(existing[i]) ? { ...(existing[i] as object) } : {};
      if (k) {
        addColumnHints(branchUi, k, opts);
      }
      return branchUi;
    });
  }

  if (opts.hiddenOptional) {
    for (const name of optional) {
      const node = nodeAt(out, [name]);
      node['ui:widget'] = 'hidden';
      for (const key of ['anyOf', 'oneOf']) {
        if (Array.isArray(node[key])) {
          node[key] = node[key].map((b: unknown) => ({ ...(isObject(b) ? b : {}), 'ui:widget': 'hidden' }));
        }
      }
    }
  }
  return out;
}
