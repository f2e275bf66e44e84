/**
 * The template gallery: search as you type, category chips with counts, source
 * and test filters, entries that expand to a code preview of their first example.
 *
 * Filtering goes through the precomputed TemplateIndex; only the first
 * PAGE results are put in the DOM (more on request), so a keystroke stays cheap
 * with a thousand templates.
 */
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import React, { useEffect, useMemo, useRef, useState } from 'react';

import { DatadiveError, TemplateSummary } from '../api';
import { categoryLabel, sortCategories } from '../logic/gallery';
import { DatadiveModel } from '../model';
import { CodePreview } from './CodePreview';
import { ErrorNote, Progress, useDelayed } from './common';

const PAGE = 60;

export interface GalleryQuery {
  text: string;
  category: string | null;
  source: string | null;
  test: string | null;
}

export const EMPTY_QUERY: GalleryQuery = { text: '', category: null, source: null, test: null };

function categoryText(trans: DatadiveModel['trans'], category: string): string {
  return trans.__(categoryLabel(category));
}

function sourceLabel(trans: DatadiveModel['trans'], source: string): string {
  return source === 'builtin' ? trans.__('built-in') : source === 'path' ? trans.__('folder') : trans.__('yours');
}

export function Gallery(props: {
  model: DatadiveModel;
  languages: IEditorLanguageRegistry | null;
  query: GalleryQuery;
  onQuery: (q: GalleryQuery) => void;
  onUse: (template: TemplateSummary) => void;
  autoFocus: boolean;
}): JSX.Element {
  const { model, query, onQuery } = props;
  const trans = model.trans;
  const [, setTick] = useState(0);
  const [expanded, setExpanded] = useState<string | null>(null);
  const [shown, setShown] = useState(PAGE);
  const searchRef = useRef<HTMLInputElement>(null);
  const listRef = useRef<HTMLUListElement>(null);

  useEffect(() => {
    const changed = () => setTick(t => t + 1);
    model.templatesChanged.connect(changed);
    return () => {
      model.templatesChanged.disconnect(changed);
    };
  }, [model]);

  useEffect(() => {
    if (props.autoFocus) {
      searchRef.current?.focus();
    }
  }, [props.autoFocus]);

  useEffect(() => setShown(PAGE), [query]);

  const index = model.index;
  const results = useMemo(
    () => index.filter({ text: query.text, category: query.category, source: query.source, test: query.test }),
    [index, query]
  );
  const counts = useMemo(
    () => index.categoryCounts({ text: query.text, source: query.source, test: query.test }),
    [index, query.text, query.source, query.test]
  );
  const categories = useMemo(() => sortCategories(new Set(model.templates.map(t => t.category))), [model.templates]);
  const tests = useMemo(() => index.tests(), [index]);

  const loading = !model.templatesLoaded;
  const showProgress = useDelayed(loading, 100);

  const onListKey = (event: React.KeyboardEvent) => {
    const items = Array.from(listRef.current?.querySelectorAll<HTMLElement>('.dd-template-head') ?? []);
    const at = items.indexOf(document.activeElement as HTMLElement);
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next = event.key === 'ArrowDown' ? Math.min(at + 1, items.length - 1) : at - 1;
      if (next < 0) {
        searchRef.current?.focus();
      } else {
        items[next]?.focus();
      }
    }
  };

  const onSearchKey = (event: React.KeyboardEvent) => {
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      listRef.current?.querySelector<HTMLElement>('.dd-template-head')?.focus();
    } else if (event.key === 'Enter' && results.length) {
      event.preventDefault();
      props.onUse(results[0]);
    } else if (event.key === 'Escape' && query.text) {
      event.preventDefault();
      onQuery({ ...query, text: '' });
    }
  };

  return (
    <div className="dd-gallery">
      <div className="dd-gallery-head">
        <div className="dd-gallery-search">
          <input
            ref={searchRef}
            className="jp-mod-styled dd-input"
            type="search"
            placeholder={trans.__('Search templates, e.g. t test, load csv')}
            aria-label={trans.__('Search templates')}
            data-testid="dd-template-search"
            value={query.text}
            onChange={e => onQuery({ ...query, text: e.target.value })}
            onKeyDown={onSearchKey}
          />
        </div>
        <div className="dd-chips" role="group" aria-label={trans.__('Categories')}>
          <button
            className={`dd-chip${query.category === null ? ' dd-mod-selected' : ''}`}
            aria-pressed={query.category === null}
            data-testid="dd-category-all"
            onClick={() => onQuery({ ...query, category: null })}
          >
            {trans.__('All')}
          </button>
          {categories.map(c => (
            <button
              key={c}
              className={`dd-chip${query.category === c ? ' dd-mod-selected' : ''}`}
              aria-pressed={query.category === c}
              data-testid={`dd-category-${c}`}
              onClick={() => onQuery({ ...query, category: query.category === c ? null : c })}
            >
              {categoryText(trans, c)} <span className="dd-chip-count">{counts[c] ?? 0}</span>
            </button>
          ))}
        </div>
        <div className="dd-filters">
          <label>
            <span className="dd-filter-label">{trans.__('Source')}</span>
            <select
              className="jp-mod-styled"
              data-testid="dd-filter-source"
              value={query.source ?? ''}
              onChange={e => onQuery({ ...query, source: e.target.value || null })}
            >
              <option value="">{trans.__('any')}</option>
              <option value="builtin">{trans.__('built-in')}</option>
              <option value="path">{trans.__('folder')}</option>
              <option value="user">{trans.__('yours')}</option>
            </select>
          </label>
          {tests.length > 0 && (
            <label>
              <span className="dd-filter-label">{trans.__('Test')}</span>
              <select
                className="jp-mod-styled"
                data-testid="dd-filter-test"
                value={query.test ?? ''}
                onChange={e => onQuery({ ...query, test: e.target.value || null })}
              >
                <option value="">{trans.__('any')}</option>
                {tests.map(t => (
                  <option key={t} value={t}>
                    {t.replace(/_/g, ' ')}
                  </option>
                ))}
              </select>
            </label>
          )}
        </div>
        {!loading && !model.templatesError && (
          <div className="dd-result-count" aria-live="polite" data-testid="dd-template-count">
            {trans._n('%1 template', '%1 templates', results.length)}
          </div>
        )}
      </div>
      {showProgress && <Progress label={trans.__('Loading templates…')} />}
      {model.templatesError && (
        <ErrorNote error={model.templatesError} retry={() => void model.refreshTemplates()} trans={trans} />
      )}
      {!loading && !model.templatesError && results.length === 0 && (
        <p className="dd-empty">
          {trans.__('No template matches. Try fewer words, or another category.')}
        </p>
      )}
      <ul className="dd-template-list" ref={listRef} onKeyDown={onListKey} aria-label={trans.__('Templates')}>
        {results.slice(0, shown).map(t => (
          <TemplateEntry
            key={t.id}
            template={t}
            model={model}
            languages={props.languages}
            expanded={expanded === t.id}
            onToggle={() => setExpanded(expanded === t.id ? null : t.id)}
            onUse={() => props.onUse(t)}
          />
        ))}
      </ul>
      {results.length > shown && (
        <button className="jp-mod-styled dd-more" onClick={() => setShown(shown + PAGE)}>
          {trans.__('Show %1 more', Math.min(PAGE, results.length - shown))}
        </button>
      )}
    </div>
  );
}

function TemplateEntry(props: {
  template: TemplateSummary;
  model: DatadiveModel;
  languages: IEditorLanguageRegistry | null;
  expanded: boolean;
  onToggle: () => void;
  onUse: () => void;
}): JSX.Element {
  const { template: t, model } = props;
  const trans = model.trans;
  const bodyId = `dd-template-body-${t.id}`;
  return (
    <li className="dd-template" data-testid="dd-template-item" data-template-id={t.id}>
      <div
        className="dd-template-head"
        role="button"
        tabIndex={0}
        aria-expanded={props.expanded}
        aria-controls={bodyId}
        onClick={props.onToggle}
        onKeyDown={e => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            if (e.key === 'Enter' && props.expanded) {
              props.onUse();
            } else {
              props.onToggle();
            }
          }
        }}
      >
        <div className="dd-template-title">{t.title}</div>
        <div className="dd-template-desc">{t.description ?? ''}</div>
        <div className="dd-badges">
          <span className={`dd-badge dd-source-${t.source}`}>{sourceLabel(trans, t.source)}</span>
          {t.assistant_test && <span className="dd-badge dd-test">{t.assistant_test.replace(/_/g, ' ')}</span>}
          {t.locked && <span className="dd-badge">{trans.__('locked')}</span>}
        </div>
      </div>
      {props.expanded && (
        <div className="dd-template-body" id={bodyId}>
          {t.description && <p className="dd-template-fulldesc">{t.description}</p>}
          <ExamplePreview model={model} template={t} languages={props.languages} />
          <button className="jp-Button jp-mod-styled jp-mod-accept dd-use" data-testid="dd-template-use" onClick={props.onUse}>
            {trans.__('Use')}
          </button>
        </div>
      )}
    </li>
  );
}

const previewCache = new Map<string, Promise<string>>();

function ExamplePreview(props: {
  model: DatadiveModel;
  template: TemplateSummary;
  languages: IEditorLanguageRegistry | null;
}): JSX.Element {
  const { model, template } = props;
  const trans = model.trans;
  const [code, setCode] = useState<string | null>(null);
  const [error, setError] = useState<DatadiveError | null>(null);
  useEffect(() => {
    let live = true;
    const key = `${template.id}@${template.version}`;
    let found = previewCache.get(key);
    if (!found) {
      found = (async () => {
        const detail = await model.detail(template.id);
        const example = detail.document.examples?.[0]?.inputs ?? {};
        const cells = await model.api.render(template.id, example, template.version);
        return cells.map(c => (Array.isArray(c.source) ? c.source.join('') : c.source)).join('\n\n# ---- next cell ----\n\n');
      })();
      previewCache.set(key, found);
      found.catch(() => previewCache.delete(key));
    }
    found.then(
      text => live && setCode(text),
      err => live && setError(err)
    );
    return () => {
      live = false;
    };
  }, [model, template.id, template.version]);
  const slow = useDelayed(code === null && error === null, 100);
  if (error) {
    return <ErrorNote error={error} trans={trans} />;
  }
  if (code === null) {
    return slow ? <Progress label={trans.__('Rendering the first example…')} /> : <div className="dd-code-placeholder" />;
  }
  return (
    <CodePreview
      code={code}
      languages={props.languages}
      label={trans.__('Code generated for the first example')}
      testId="dd-template-preview"
    />
  );
}
