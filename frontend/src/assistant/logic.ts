/**
 * The assistant panel's pure logic: number formats, sources, the design sent to
 * `assistant/suggest`, and the cells an Insert puts in the notebook. No DOM, no
 * requests, so it can be unit-tested on its own.
 */
import { AssistantSource, Suggestion } from '../api';
import { DataFileChoice } from './host';

// ---- numbers ------------------------------------------------------------------------

function asNumber(value: unknown): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return null;
  }
  return value;
}

/** A p value in APA style: `p = .034`, `p < .001`, `p > .999`; '' when there is none. */
export function formatP(value: unknown): string {
  const p = asNumber(value);
  if (p === null || p < 0) {
    return '';
  }
  if (p < 0.001) {
    return 'p < .001';
  }
  if (p > 0.999) {
    return 'p > .999';
  }
  return 'p = ' + p.toFixed(3).replace(/^0(?=\.)/, '');
}

/** A statistic to 3 significant figures (whole numbers from 1000 up, exponent below .001). */
export function formatStat(value: unknown): string {
  const x = asNumber(value);
  if (x === null) {
    return '';
  }
  if (x === 0) {
    return '0';
  }
  const abs = Math.abs(x);
  // Rounded to 3 significant figures first, so 999.7 counts as 1000 (no "1.00e+3").
  if (abs >= 999.5) {
    return String(Math.sign(x) * Math.round(abs));
  }
  if (abs < 0.001) {
    return x.toExponential(2);
  }
  return x.toPrecision(3);
}

/**
 * Any value from the server as one line of text: numbers formatted, `{name, value}`
 * as `name = value`, other objects as `key: value; ...`, lists joined by commas.
 */
export function formatValue(value: unknown, depth = 0): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : formatStat(value);
  }
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'boolean') {
    return value ? 'yes' : 'no';
  }
  if (depth > 3) {
    return '…';
  }
  if (Array.isArray(value)) {
    return value
      .map(v => formatValue(v, depth + 1))
      .filter(Boolean)
      .join(', ');
  }
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const rest = Object.entries(o).filter(([k, v]) => k !== 'name' && k !== 'value' && v !== null && v !== undefined);
    const extra = rest.map(([k, v]) => `${k}: ${formatValue(v, depth + 1)}`).join('; ');
    if ('name' in o && 'value' in o) {
      const head = `${formatValue(o.name, depth + 1)} = ${formatValue(o.value, depth + 1)}`;
      return extra ? `${head} (${extra})` : head;
    }
    if ('name' in o) {
      const head = formatValue(o.name, depth + 1);
      return extra ? `${head} (${extra})` : head;
    }
    return extra;
  }
  return String(value);
}

/** An alternative (a string, a suggestion-like object or anything) as title + why. */
export function describeAlternative(value: unknown): { title: string; detail: string } {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const title = typeof o.title === 'string' ? o.title : typeof o.test === 'string' ? o.test : '';
    const detail =
      typeof o.rationale === 'string' ? o.rationale : typeof o.why === 'string' ? o.why : typeof o.reason === 'string' ? o.reason : '';
    if (title || detail) {
      return { title, detail };
    }
  }
  return { title: formatValue(value), detail: '' };
}

// ---- paths and names ----------------------------------------------------------------

export function baseName(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return parts.length ? parts[parts.length - 1] : path;
}

export function dirName(path: string): string {
  const parts = path.split('/').filter(Boolean);
  parts.pop();
  return parts.join('/');
}

/** The extension in lower case with its dot ('.csv'), or ''. */
export function extension(path: string): string {
  const name = baseName(path);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot).toLowerCase() : '';
}

/** `target` (inside the contents root) relative to the folder `fromDir` (inside the contents root). */
export function relativePath(fromDir: string, target: string): string {
  const from = fromDir.split('/').filter(p => p && p !== '.');
  const to = target.split('/').filter(p => p && p !== '.');
  let common = 0;
  while (common < from.length && common < to.length - 1 && from[common] === to[common]) {
    common++;
  }
  const up = from.slice(common).map(() => '..');
  return [...up, ...to.slice(common)].join('/');
}

/** A file's path relative to its project folder, as `assistant/*` expects it. */
export function projectRelative(file: DataFileChoice): string {
  const root = file.project.path.replace(/\/+$/, '');
  if (root && file.path.startsWith(root + '/')) {
    return file.path.slice(root.length + 1);
  }
  return file.path;
}

const PY_KEYWORDS = new Set(
  (
    'False None True and as assert async await break class continue def del elif else except finally for from ' +
    'global if import in is lambda nonlocal not or pass raise return try while with yield match case type _'
  ).split(' ')
);

/** Python's lower-case builtins: the server refuses a variable that would shadow one. */
const PY_BUILTINS = new Set(
  (
    'abs aiter all anext any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile complex ' +
    'copyright credits delattr dict dir divmod enumerate eval exec exit filter float format frozenset getattr ' +
    'globals hasattr hash help hex id input int isinstance issubclass iter len license list locals map max ' +
    'memoryview min next object oct open ord pow print property quit range repr reversed round set setattr slice ' +
    'sorted staticmethod str sum super tuple type vars zip'
  ).split(' ')
);

/** Names the generated cells import (`import pandas as pd`, `from scipy import stats`...): data must not take them. */
const MODULE_NAMES = new Set('pd np pg sm smf stats plt sns scipy math re os sys json io warnings'.split(' '));

/** The server's limit on a variable name, less room for the `_data` suffix. */
const MAX_STEM = 64 - '_data'.length;

/** A lower-case ASCII Python identifier made from a file's stem: 'Study data 2.csv' -> 'study_data_2'. */
export function variableName(path: string): string {
  const name = baseName(path);
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  let id = stem
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!id) {
    id = 'data';
  }
  if (/^[0-9]/.test(id)) {
    id = 'data_' + id;
  }
  id = id.slice(0, MAX_STEM).replace(/_+$/, '');
  if (PY_KEYWORDS.has(id) || PY_BUILTINS.has(id) || MODULE_NAMES.has(id)) {
    id += '_data';
  }
  return id;
}

// ---- sources ----------------------------------------------------------------------

export type SourceOption =
  | { kind: 'file'; key: string; label: string; file: DataFileChoice; source: AssistantSource }
  | { kind: 'kernel'; key: string; label: string; kernelId: string; variable: string; source: AssistantSource };

export function fileKey(file: DataFileChoice): string {
  return `file:${file.project.id}:${file.path}`;
}

export function kernelKey(variable: string): string {
  return `kernel:${variable}`;
}

export function fileOption(file: DataFileChoice): SourceOption {
  const rel = projectRelative(file);
  return { kind: 'file', key: fileKey(file), label: rel, file, source: { project: file.project.id, path: rel } };
}

export function kernelOption(kernelId: string, variable: string): SourceOption {
  return {
    kind: 'kernel',
    key: kernelKey(variable),
    label: variable,
    kernelId,
    variable,
    source: { kernel_id: kernelId, variable }
  };
}

/** Data files grouped by project, in first-seen order, each group's files sorted by path. */
export function groupFiles(files: DataFileChoice[]): { project: DataFileChoice['project']; options: SourceOption[] }[] {
  const groups = new Map<string, { project: DataFileChoice['project']; options: SourceOption[] }>();
  for (const file of files) {
    let group = groups.get(file.project.id);
    if (!group) {
      group = { project: file.project, options: [] };
      groups.set(file.project.id, group);
    }
    if (!group.options.some(o => o.key === fileKey(file))) {
      group.options.push(fileOption(file));
    }
  }
  for (const group of groups.values()) {
    group.options.sort((a, b) => a.label.localeCompare(b.label));
  }
  return [...groups.values()];
}

// ---- the profile --------------------------------------------------------------------

export interface ProfiledColumn {
  name: string;
  level: string | null;
  reason: string;
  dtype: string;
  n: number | null;
  missing: number | null;
  distinct: number | null;
  summary: Record<string, unknown>;
  notes: string[];
}

export interface ProfileView {
  rows: number | null;
  columns: ProfiledColumn[];
  source: Record<string, unknown> | null;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : value === null || value === undefined ? '' : formatValue(value);
}

function count(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The REST answer of `assistant/profile` (`{rows, columns, source}`, or the same under `profile`) as rows. */
export function readProfile(answer: unknown): ProfileView {
  const a = (answer && typeof answer === 'object' ? answer : {}) as Record<string, any>;
  const p = (a.profile && typeof a.profile === 'object' && a.profile.columns ? a.profile : a) as Record<string, any>;
  const raw = p.columns;
  const entries: [string, any][] = Array.isArray(raw)
    ? raw.map((c: any, i: number) => [String(c?.name ?? i), c])
    : raw && typeof raw === 'object'
      ? Object.entries(raw)
      : [];
  const columns = entries.map(([key, c]) => {
    const col = (c && typeof c === 'object' ? c : {}) as Record<string, unknown>;
    return {
      name: typeof col.name === 'string' ? col.name : key,
      level: typeof col.level === 'string' ? col.level : null,
      reason: text(col.reason),
      dtype: text(col.dtype),
      n: count(col.n),
      missing: count(col.missing),
      distinct: count(col.distinct),
      summary: (col.summary && typeof col.summary === 'object' ? col.summary : {}) as Record<string, unknown>,
      notes: Array.isArray(col.notes) ? col.notes.map(text).filter(Boolean) : []
    };
  });
  const source = (a.source && typeof a.source === 'object' ? a.source : null) as Record<string, unknown> | null;
  return { rows: count(p.rows), columns, source };
}

// ---- the design ---------------------------------------------------------------------

export type Goal = '' | 'difference' | 'association' | 'prediction';

export interface Roles {
  outcome: string;
  predictors: string[];
  between: string[];
  within: string[];
  covariates: string[];
  subject: string;
  weights: string;
  strata: string;
  goal: Goal;
}

export const EMPTY_ROLES: Roles = {
  outcome: '',
  predictors: [],
  between: [],
  within: [],
  covariates: [],
  subject: '',
  weights: '',
  strata: '',
  goal: ''
};

/** The `design` of `assistant/suggest`: empty roles left out, "auto" goal not sent. */
export function buildDesign(roles: Roles): Record<string, unknown> {
  const design: Record<string, unknown> = {};
  if (roles.outcome) {
    design.outcome = roles.outcome;
  }
  for (const key of ['predictors', 'between', 'within', 'covariates'] as const) {
    if (roles[key].length) {
      design[key] = [...roles[key]];
    }
  }
  for (const key of ['subject', 'weights', 'strata', 'goal'] as const) {
    if (roles[key]) {
      design[key] = roles[key];
    }
  }
  return design;
}

/** Roles after `outcome` becomes the outcome: it leaves every other role. */
export function withOutcome(roles: Roles, outcome: string): Roles {
  const drop = (list: string[]) => list.filter(c => c !== outcome);
  const one = (c: string) => (c === outcome ? '' : c);
  return {
    ...roles,
    outcome,
    predictors: drop(roles.predictors),
    between: drop(roles.between),
    within: drop(roles.within),
    covariates: drop(roles.covariates),
    subject: one(roles.subject),
    weights: one(roles.weights),
    strata: one(roles.strata)
  };
}

// ---- inserting ----------------------------------------------------------------------

export interface CellRequest {
  template: string;
  inputs: Record<string, unknown>;
}

/** The loader template and its extra inputs for a data file, by extension; null when there is none. */
export function loaderFor(path: string): { template: string; extra: Record<string, unknown> } | null {
  switch (extension(path)) {
    case '.csv':
    case '.txt':
      return { template: 'load-csv', extra: {} };
    case '.tsv':
      return { template: 'load-csv', extra: { sep: '\t' } };
    case '.xlsx':
    case '.xls':
      return { template: 'load-excel', extra: {} };
    case '.parquet':
    case '.pq':
      return { template: 'load-parquet', extra: {} };
    case '.json':
      return { template: 'load-json', extra: {} };
    case '.jsonl':
    case '.ndjson':
      return { template: 'load-json', extra: { lines: true } };
    default:
      return null;
  }
}

/**
 * The cells that Insert puts below the active cell. A kernel DataFrame: the
 * suggestion with `df` set to the variable. A data file: first a loader cell that
 * reads it (path relative to the notebook's folder) into a variable named after
 * the file, then the suggestion on that variable.
 */
export function insertionCells(option: SourceOption, suggestion: Suggestion, notebookPath: string | null): CellRequest[] {
  if (option.kind === 'kernel') {
    return [{ template: suggestion.template, inputs: { ...suggestion.inputs, df: option.variable } }];
  }
  const loader = loaderFor(option.file.path);
  if (!loader) {
    throw new Error(`no loader template for ${baseName(option.file.path)}`);
  }
  if (notebookPath === null) {
    throw new Error('no active notebook');
  }
  const name = variableName(option.file.path);
  const path = relativePath(dirName(notebookPath), option.file.path);
  return [
    { template: loader.template, inputs: { path, name, ...loader.extra } },
    { template: suggestion.template, inputs: { ...suggestion.inputs, df: name } }
  ];
}
