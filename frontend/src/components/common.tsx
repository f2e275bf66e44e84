import type { TranslationBundle } from '@jupyterlab/translation';
import React, { useEffect, useState } from 'react';

import { DatadiveError } from '../api';

/** True once `active` has stayed true for `delayMs` (progress shows only for slow work). */
export function useDelayed(active: boolean, delayMs: number): boolean {
  const [shown, setShown] = useState(false);
  useEffect(() => {
    if (!active) {
      setShown(false);
      return;
    }
    const timer = window.setTimeout(() => setShown(true), delayMs);
    return () => window.clearTimeout(timer);
  }, [active, delayMs]);
  return shown;
}

export function Progress(props: { label: string; testId?: string }): JSX.Element {
  return (
    <div className="dd-progress" role="status" aria-live="polite" data-testid={props.testId ?? 'dd-progress'}>
      <span className="dd-spinner" aria-hidden="true" />
      <span>{props.label}</span>
    </div>
  );
}

/** The text a user sees for an error: the server's message, or "Server unreachable". */
export function errorText(error: unknown, trans: TranslationBundle): string {
  if (error instanceof DatadiveError) {
    return error.status === 0 && error.code === 'unreachable' ? trans.__('Server unreachable') : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

export function ErrorNote(props: {
  error: unknown;
  trans: TranslationBundle;
  retry?: () => void;
  testId?: string;
}): JSX.Element {
  const { error, trans } = props;
  const code = error instanceof DatadiveError && error.status ? `${error.status} ${error.code}` : '';
  const details = error instanceof DatadiveError ? error.errors : [];
  return (
    <div className="dd-error" role="alert" data-testid={props.testId ?? 'dd-error'}>
      <span className="dd-error-text">{errorText(error, trans)}</span>
      {code && <span className="dd-error-code">{code}</span>}
      {details.length > 0 && (
        <ul className="dd-error-details">
          {details.map((d, i) => (
            <li key={i}>
              {d.path && <code>{d.path}</code>} {d.message}
            </li>
          ))}
        </ul>
      )}
      {props.retry && (
        <button className="jp-mod-styled dd-link" onClick={props.retry}>
          {trans.__('Retry')}
        </button>
      )}
    </div>
  );
}
