/**
 * Filtering and ranking for the template gallery.
 *
 * Everything that depends only on the templates is computed once in the
 * constructor (lower-cased text per template, title order), so a keystroke costs
 * one substring scan per template: far below a millisecond for 1,000 templates.
 */
import type { TemplateSummary } from '../api';

/**
 * Category chips, in the order the gallery shows them. The built-in library files
 * its loading templates under `data` (shown as "Load") and also uses `notes`.
 * Categories not listed here come after these, alphabetically.
 */
export const CATEGORY_ORDER: readonly string[] = ['data', 'explore', 'wrangle', 'plot', 'stats', 'notes'];

const CATEGORY_LABELS: Record<string, string> = {
  data: 'Load',
  load: 'Load',
  explore: 'Explore',
  wrangle: 'Wrangle',
  plot: 'Plot',
  stats: 'Stats',
  notes: 'Notes'
};

/** The chip text for a category: "Load" for `data`, else the name capitalised. */
export function categoryLabel(category: string): string {
  if (Object.prototype.hasOwnProperty.call(CATEGORY_LABELS, category)) {
    return CATEGORY_LABELS[category];
  }
  return category ? category.charAt(0).toUpperCase() + category.slice(1) : category;
}

/** Categories in chip order: those of CATEGORY_ORDER first, then the rest alphabetically. */
export function sortCategories(categories: Iterable<string>): string[] {
  const rank = (c: string) => {
    const i = CATEGORY_ORDER.indexOf(c);
    return i === -1 ? CATEGORY_ORDER.length : i;
  };
  return [...new Set(categories)].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

export interface GalleryQuery {
  text?: string;
  category?: string | null;
  source?: string | null;
  test?: string | null;
  tag?: string | null;
}

/** Lower case without accents, so "Anova", "ANOVA" and "anóva" meet. */
export function fold(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
}

/** Whitespace-separated, folded search terms. */
export function searchTerms(text: string | undefined | null): string[] {
  return fold(text ?? '')
    .split(/\s+/)
    .filter(t => t.length > 0);
}

const WORD_CHAR = /[\p{L}\p{N}]/u;

/** Whether `term` occurs in `text` at the start of a word. */
function atWordStart(text: string, term: string): boolean {
  let at = text.indexOf(term);
  while (at !== -1) {
    if (at === 0 || !WORD_CHAR.test(text.charAt(at - 1))) {
      return true;
    }
    at = text.indexOf(term, at + 1);
  }
  return false;
}

interface Entry {
  template: TemplateSummary;
  /** Everything searchable, folded; `_` and `-` also as spaces. */
  haystack: string;
  /** id, tags and test: names a user may type. */
  names: string;
  title: string;
}

function withSpaces(text: string): string {
  const spaced = text.replace(/[_-]+/g, ' ');
  return spaced === text ? text : `${text}\n${spaced}`;
}

function present(value: string | null | undefined): value is string {
  return typeof value === 'string' && value !== '';
}

export class TemplateIndex {
  private readonly entries: Entry[];

  constructor(templates: TemplateSummary[]) {
    const entries = (templates ?? []).map(template => {
      const title = fold(template.title ?? '');
      const names = withSpaces(
        fold([template.id ?? '', ...(template.tags ?? []), template.assistant_test ?? ''].join('\n'))
      );
      const haystack = [
        withSpaces(title),
        names,
        withSpaces(fold(template.description ?? '')),
        withSpaces(fold(template.category ?? ''))
      ].join('\n');
      return { template, haystack, names, title };
    });
    entries.sort((a, b) => compare(a.title, b.title) || compare(a.template.id, b.template.id));
    this.entries = entries;
  }

  /** How many templates the index holds. */
  get size(): number {
    return this.entries.length;
  }

  /**
   * Templates that pass every filter, best first.
   *
   * Every text term must occur somewhere (AND). Ranking: the title starts with the
   * query; then every term starts a word of the title; then every term is in the
   * title; then some term is in the title, id, tags or test; then the rest
   * (matched in the description only). Ties stay in title order.
   */
  filter(q: GalleryQuery = {}): TemplateSummary[] {
    const terms = searchTerms(q.text);
    const matched = this.entries.filter(e => this.passes(e, q, terms, true));
    if (terms.length === 0) {
      return matched.map(e => e.template);
    }
    const phrase = terms.join(' ');
    const ranked = matched.map(e => ({ e, tier: tier(e, terms, phrase) }));
    ranked.sort((a, b) => a.tier - b.tier);
    return ranked.map(r => r.e.template);
  }

  /**
   * For each category of the index, how many templates pass the other filters
   * (the category in `q`, if any, is ignored). Categories with no match count 0.
   */
  categoryCounts(q: Omit<GalleryQuery, 'category'> & { category?: string | null } = {}): Record<string, number> {
    const terms = searchTerms(q.text);
    const counts = new Map<string, number>(this.categories().map(c => [c, 0]));
    for (const e of this.entries) {
      if (this.passes(e, q, terms, false)) {
        counts.set(e.template.category, (counts.get(e.template.category) ?? 0) + 1);
      }
    }
    return Object.fromEntries(counts);
  }

  /** The categories present, in chip order. */
  categories(): string[] {
    return sortCategories(this.entries.map(e => e.template.category));
  }

  /** The assistant test ids present, sorted. */
  tests(): string[] {
    return sortedUnique(this.entries.map(e => e.template.assistant_test).filter(present));
  }

  /** The tags present, sorted. */
  tags(): string[] {
    return sortedUnique(this.entries.flatMap(e => e.template.tags ?? []).filter(present));
  }

  private passes(e: Entry, q: GalleryQuery, terms: string[], useCategory: boolean): boolean {
    const t = e.template;
    if (useCategory && present(q.category) && t.category !== q.category) {
      return false;
    }
    if (present(q.source) && t.source !== q.source) {
      return false;
    }
    if (present(q.test) && t.assistant_test !== q.test) {
      return false;
    }
    if (present(q.tag) && !(t.tags ?? []).includes(q.tag)) {
      return false;
    }
    for (const term of terms) {
      if (!e.haystack.includes(term)) {
        return false;
      }
    }
    return true;
  }
}

function tier(e: Entry, terms: string[], phrase: string): number {
  if (e.title.startsWith(phrase)) {
    return 0;
  }
  if (terms.every(term => atWordStart(e.title, term))) {
    return 1;
  }
  if (terms.every(term => e.title.includes(term))) {
    return 2;
  }
  if (terms.some(term => e.title.includes(term) || e.names.includes(term))) {
    return 3;
  }
  return 4;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedUnique(values: string[]): string[] {
  return [...new Set(values)].sort(compare);
}
