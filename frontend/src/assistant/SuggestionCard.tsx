/**
 * One ranked suggestion: title, test id, rationale, assumption checks, warnings,
 * alternatives, effect size, post-hoc test and Insert.
 */
import React, { useId, useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import { Assumption, Suggestion } from '../api';
import { ErrorBox, Progress } from './common';
import { describeAlternative, formatP, formatStat, formatValue } from './logic';

function AssumptionRow(props: { check: Assumption; trans: TranslationBundle }): JSX.Element {
  const { check, trans } = props;
  const passed = check.passed === true ? 'true' : check.passed === false ? 'false' : 'null';
  const mark = passed === 'true' ? '✓' : passed === 'false' ? '✗' : '–';
  const state =
    passed === 'true' ? trans.__('passed') : passed === 'false' ? trans.__('failed') : trans.__('not checked');
  const stat = formatStat(check.statistic);
  const p = formatP(check.p);
  const figures = [stat, p].filter(Boolean).join(', ');
  const detail = typeof check.detail === 'string' ? check.detail : formatValue(check.detail);
  return (
    <li
      className={`dd-assistant-check dd-assistant-check-${passed}`}
      data-testid="dd-assumption"
      data-passed={passed}
      title={detail || undefined}
    >
      <span className="dd-assistant-check-mark" aria-hidden="true">
        {mark}
      </span>
      <span className="dd-assistant-check-body">
        <span className="dd-assistant-check-name">
          <span className="jp-sr-only">{state}: </span>
          {check.name}
        </span>
        {figures && <span className="dd-assistant-check-figures">{figures}</span>}
        {passed === 'null' && !figures && <span className="dd-assistant-check-figures">{trans.__('not checked')}</span>}
        {detail && <span className="dd-assistant-check-detail">{detail}</span>}
      </span>
    </li>
  );
}

export interface InsertAbility {
  ok: boolean;
  why: string;
}

export interface SuggestionCardProps {
  suggestion: Suggestion;
  rank: number;
  expanded: boolean;
  onToggle: () => void;
  canInsert: InsertAbility;
  /** Inserts the suggestion; resolves to a sentence saying what was inserted. */
  onInsert: () => Promise<string>;
  trans: TranslationBundle;
}

export function SuggestionCard(props: SuggestionCardProps): JSX.Element {
  const { suggestion: s, trans, expanded } = props;
  const id = useId();
  const [inserting, setInserting] = useState(false);
  const [insertError, setInsertError] = useState<unknown>(null);
  const [inserted, setInserted] = useState('');
  const assumptions = Array.isArray(s.assumptions) ? s.assumptions : [];
  const warnings = Array.isArray(s.warnings) ? s.warnings.filter(Boolean) : [];
  const alternatives = Array.isArray(s.alternatives) ? s.alternatives : [];
  const effect = formatValue(s.effect_size);
  const posthoc = formatValue(s.posthoc);
  const failed = assumptions.filter(a => a.passed === false).length;
  const Caret = expanded ? caretDownIcon : caretRightIcon;

  const insert = async () => {
    setInserting(true);
    setInsertError(null);
    setInserted('');
    try {
      setInserted(await props.onInsert());
    } catch (error) {
      setInsertError(error);
    } finally {
      setInserting(false);
    }
  };

  return (
    <li
      className={`dd-assistant-card${expanded ? ' dd-assistant-card-open' : ''}${props.rank === 1 ? ' dd-assistant-card-top' : ''}`}
      data-testid="dd-suggestion"
      data-test={s.test}
    >
      <div className="dd-assistant-card-head">
        <button
          type="button"
          className="dd-assistant-card-toggle"
          aria-expanded={expanded}
          aria-controls={`${id}-body`}
          onClick={props.onToggle}
        >
          <Caret.react tag="span" className="dd-assistant-caret" />
          <span className="dd-assistant-rank">{props.rank}.</span>
          <span className="dd-assistant-card-title">{s.title || s.test}</span>
        </button>
        <div className="dd-assistant-badges">
          {props.rank === 1 && <span className="dd-assistant-badge dd-assistant-badge-top">{trans.__('recommended')}</span>}
          <span className="dd-assistant-badge" title={trans.__('Test id')}>
            {s.test}
          </span>
          {!expanded && failed > 0 && (
            <span className="dd-assistant-badge dd-assistant-badge-fail">
              {trans._n('%1 check failed', '%1 checks failed', failed)}
            </span>
          )}
          {!expanded && warnings.length > 0 && (
            <span className="dd-assistant-badge dd-assistant-badge-warn">
              {trans._n('%1 warning', '%1 warnings', warnings.length)}
            </span>
          )}
        </div>
      </div>
      {expanded && (
        <div className="dd-assistant-card-body" id={`${id}-body`}>
          {s.rationale && <p className="dd-assistant-rationale">{s.rationale}</p>}

          <div className="dd-assistant-subhead">{trans.__('Assumption checks')}</div>
          {assumptions.length ? (
            <ul className="dd-assistant-checks">
              {assumptions.map((a, i) => (
                <AssumptionRow key={i} check={a} trans={trans} />
              ))}
            </ul>
          ) : (
            <p className="dd-assistant-muted">{trans.__('None for this test.')}</p>
          )}

          {warnings.length > 0 && (
            <ul className="dd-assistant-warnings" aria-label={trans.__('Warnings')}>
              {warnings.map((w, i) => (
                <li key={i} className="dd-assistant-warning">
                  <span aria-hidden="true">⚠ </span>
                  <span className="jp-sr-only">{trans.__('Warning')}: </span>
                  {formatValue(w)}
                </li>
              ))}
            </ul>
          )}

          {(effect || posthoc) && (
            <dl className="dd-assistant-facts">
              {effect && (
                <>
                  <dt>{trans.__('Effect size')}</dt>
                  <dd>{effect}</dd>
                </>
              )}
              {posthoc && (
                <>
                  <dt>{trans.__('Post-hoc')}</dt>
                  <dd>{posthoc}</dd>
                </>
              )}
            </dl>
          )}

          {alternatives.length > 0 && (
            <>
              <div className="dd-assistant-subhead">{trans.__('Alternatives')}</div>
              <ul className="dd-assistant-alternatives">
                {alternatives.map((alt, i) => {
                  const a = describeAlternative(alt);
                  return (
                    <li key={i}>
                      {a.title && <span className="dd-assistant-alt-title">{a.title}</span>}
                      {a.title && a.detail ? ': ' : ''}
                      {a.detail}
                    </li>
                  );
                })}
              </ul>
            </>
          )}

          <div className="dd-assistant-actions">
            <span title={props.canInsert.ok ? trans.__('Insert below the active cell') : props.canInsert.why}>
              <button
                type="button"
                className="jp-mod-styled jp-mod-accept dd-assistant-button"
                data-testid="dd-suggestion-insert"
                disabled={!props.canInsert.ok || inserting}
                aria-describedby={props.canInsert.ok ? undefined : `${id}-why`}
                onClick={insert}
              >
                {trans.__('Insert')}
              </button>
            </span>
            {!props.canInsert.ok && (
              <span id={`${id}-why`} className="dd-assistant-muted dd-assistant-why">
                {props.canInsert.why}
              </span>
            )}
          </div>
          {inserting && <Progress text={trans.__('Inserting…')} trans={trans} step="insert" />}
          {inserted && (
            <div className="dd-assistant-done" role="status">
              {inserted}
            </div>
          )}
          {insertError !== null && <ErrorBox error={insertError} trans={trans} step="insert" />}
        </div>
      )}
    </li>
  );
}
