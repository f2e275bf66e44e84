/**
 * The profile of the chosen data: one row per column with its level (and why),
 * missing values, a sparkline, and the controls that give it a role.
 */
import React, { useId } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';
import { ProfiledColumn } from './logic';
import { Sparkline } from './Sparkline';

export interface ProfileTableProps {
  columns: ProfiledColumn[];
  caption: string;
  outcome: string;
  predictors: string[];
  onOutcome: (column: string) => void;
  onPredictor: (column: string, on: boolean) => void;
  trans: TranslationBundle;
}

export function ProfileTable(props: ProfileTableProps): JSX.Element {
  const { trans, columns } = props;
  const base = useId();
  return (
    <table className="dd-assistant-profile" data-testid="dd-profile">
      <caption className="jp-sr-only">{props.caption}</caption>
      <colgroup>
        <col />
        <col className="dd-assistant-col-level" />
        <col className="dd-assistant-col-missing" />
        <col className="dd-assistant-col-spark" />
        <col className="dd-assistant-col-pred" />
      </colgroup>
      <thead>
        <tr>
          <th scope="col">{trans.__('Column')}</th>
          <th scope="col">{trans.__('Level')}</th>
          <th scope="col" className="dd-assistant-num" title={trans.__('Missing values')}>
            {trans.__('Miss.')}
          </th>
          <th scope="col">
            <span className="jp-sr-only">{trans.__('Distribution')}</span>
          </th>
          <th scope="col" title={trans.__('Predictor')}>
            <span aria-hidden="true">{trans.__('Pred.')}</span>
            <span className="jp-sr-only">{trans.__('Predictor')}</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {columns.map((c, i) => {
          const isOutcome = c.name === props.outcome;
          const reasonId = `${base}-reason-${i}`;
          const notes = c.notes.join('\n');
          const levelTip = [c.reason, c.dtype ? trans.__('dtype: %1', c.dtype) : '', notes].filter(Boolean).join('\n');
          const missingTip =
            c.missing !== null && c.n !== null && c.n + c.missing > 0
              ? trans.__('%1 of %2 values missing', c.missing, c.n + c.missing)
              : '';
          return (
            <tr
              key={c.name}
              data-testid="dd-profile-row"
              data-column={c.name}
              className={isOutcome ? 'dd-assistant-row dd-assistant-row-outcome' : 'dd-assistant-row'}
              onClick={() => props.onOutcome(c.name)}
              title={isOutcome ? undefined : trans.__('Click to use %1 as the outcome', c.name)}
            >
              <th scope="row" className="dd-assistant-colname">
                <div className="dd-assistant-colname-inner">
                  <span className="dd-assistant-colname-text" title={c.name}>
                    {c.name}
                  </span>
                  {isOutcome && <span className="jp-sr-only"> ({trans.__('outcome')})</span>}
                  {c.notes.length > 0 && (
                    <span className="dd-assistant-note-mark" title={notes} aria-hidden="true">
                      !
                    </span>
                  )}
                </div>
              </th>
              <td>
                <span className="dd-assistant-level" tabIndex={0} title={levelTip} aria-describedby={reasonId}>
                  {c.level ?? trans.__('none')}
                </span>
                <span id={reasonId} className="jp-sr-only">
                  {[c.reason, notes].filter(Boolean).join('. ')}
                </span>
              </td>
              <td className="dd-assistant-num" title={missingTip}>
                <span className={c.missing ? 'dd-assistant-missing' : 'dd-assistant-muted'}>{c.missing ?? '–'}</span>
              </td>
              <td className="dd-assistant-spark-cell">
                <Sparkline summary={c.summary} trans={trans} />
              </td>
              <td className="dd-assistant-pred-cell" onClick={e => e.stopPropagation()}>
                <input
                  type="checkbox"
                  className="jp-mod-styled"
                  data-testid={`dd-predictor-${c.name}`}
                  aria-label={trans.__('Use %1 as a predictor', c.name)}
                  title={isOutcome ? trans.__('This is the outcome') : trans.__('Use %1 as a predictor', c.name)}
                  checked={props.predictors.includes(c.name)}
                  disabled={isOutcome}
                  onChange={e => props.onPredictor(c.name, e.currentTarget.checked)}
                />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
