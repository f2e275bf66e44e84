/**
 * Server errors -> rjsf form errors.
 *
 * The server reports every problem with the inputs as `{path, message}` where
 * `path` is a JSON pointer (RFC 6901) relative to the inputs object (`/value`,
 * `/by/1`), or, for render requests, relative to the request body (`/inputs/value`).
 * The form shows each one under its field; what belongs to no field shows at the top.
 */

/** rjsf's ErrorSchema shape, without importing rjsf: `{ value: { __errors: ["..."] } }`. */
export type ErrorTree = { __errors?: string[]; [key: string]: any };

export interface ServerFieldError {
  path: string;
  message: string;
}

export interface MappedErrors {
  /** Errors per field, nested like the form data (array items by index). */
  fieldErrors: ErrorTree;
  /** Errors that belong to no field, ready to show at the top of the form. */
  formErrors: string[];
}

const REQUIRED_MESSAGE = /^(['"])(.*)\1 is a required property$/s;

function hasOwn(obj: unknown, key: string): boolean {
  return typeof obj === 'object' && obj !== null && Object.prototype.hasOwnProperty.call(obj, key);
}

/** The unescaped segments of a JSON pointer; `""` and `"/"` are the root (no segments). */
export function pointerSegments(pointer: string): string[] {
  if (!pointer || pointer === '/') {
    return [];
  }
  const body = pointer.startsWith('/') ? pointer.slice(1) : pointer;
  // Per RFC 6901, `~1` is decoded before `~0`, so `~01` stays `~1`.
  return body.split('/').map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function properties(schema: unknown): Record<string, unknown> {
  const props = (schema as { properties?: unknown } | null)?.properties;
  return typeof props === 'object' && props !== null ? (props as Record<string, unknown>) : {};
}

/** A child node of `tree`, created as an own property (safe for keys like `__proto__`). */
function child(tree: ErrorTree, key: string): ErrorTree {
  if (!hasOwn(tree, key)) {
    Object.defineProperty(tree, key, { value: {}, enumerable: true, writable: true, configurable: true });
  }
  return tree[key];
}

function addError(node: ErrorTree, message: string): void {
  if (!hasOwn(node, '__errors')) {
    node.__errors = [];
  }
  if (!node.__errors!.includes(message)) {
    node.__errors!.push(message);
  }
}

/**
 * Turn the server's `[{path, message}]` into rjsf's ErrorSchema plus top-level messages.
 *
 * - A leading `/inputs` segment is dropped (render requests), unless the template has
 *   a field named `inputs` and the pointer is about that field.
 * - `'name' is a required property` on an object moves onto the property it names.
 * - A pointer at the root, or whose first segment is no property of `schema`, goes to
 *   `formErrors` (as "path: message" when there is a path).
 */
export function errorSchemaFromErrors(errors: ServerFieldError[], schema: object): MappedErrors {
  const fieldErrors: ErrorTree = {};
  const formErrors: string[] = [];
  const props = properties(schema);
  for (const error of errors ?? []) {
    if (!error || typeof error.message !== 'string') {
      continue;
    }
    let segments = pointerSegments(typeof error.path === 'string' ? error.path : '');
    let message = error.message;
    if (segments[0] === 'inputs') {
      const inputsIsField = hasOwn(props, 'inputs');
      if (!inputsIsField || (segments.length > 1 && hasOwn(props, segments[1]))) {
        segments = segments.slice(1);
      }
    }
    const required = REQUIRED_MESSAGE.exec(message);
    if (required) {
      segments = [...segments, required[2]];
      message = 'is required';
    }
    if (segments.length === 0) {
      if (!formErrors.includes(message)) {
        formErrors.push(message);
      }
      continue;
    }
    if (!hasOwn(props, segments[0])) {
      const text = `${segments.join('/')}: ${message}`;
      if (!formErrors.includes(text)) {
        formErrors.push(text);
      }
      continue;
    }
    let node = fieldErrors;
    for (const segment of segments) {
      node = child(node, segment);
    }
    addError(node, message);
  }
  return { fieldErrors, formErrors };
}

/** Whether an ErrorSchema holds at least one message, at any depth. */
export function hasErrors(tree: ErrorTree | null | undefined): boolean {
  if (!tree || typeof tree !== 'object') {
    return false;
  }
  for (const key of Object.keys(tree)) {
    const value = tree[key];
    if (key === '__errors') {
      if (Array.isArray(value) && value.length > 0) {
        return true;
      }
    } else if (hasErrors(value)) {
      return true;
    }
  }
  return false;
}
