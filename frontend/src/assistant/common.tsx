/**
 * Small shared pieces of the assistant panel: progress and error boxes.
 */
import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';
import { DatadiveError } from '../api';
import { errorText } from '../components/common';

/** True for the rejection of a request that we aborted ourselves. */
export function isAbort(error: unknown): boolean {
  return !!error && typeof error === 'object' && (error as { name?: string }).name === 'AbortError';
}

/** An indeterminate progress line: spinner and text, announced politely. */
export function Progress(props: {
  text: string;
  trans: TranslationBundle;
  onCancel?: () => void;
  step?: string;
}): JSX.Element {
  return (
    <div className="dd-assistant-progress" data-testid="dd-assistant-progress" data-step={props.step} role="status">
      <span className="dd-assistant-spinner" aria-hidden="true" />
      <span className="dd-assistant-progress-text">{props.text}</span>
      {props.onCancel && (
        <button type="button" className="jp-Button jp-mod-minimal jp-mod-small dd-assistant-link" onClick={props.onCancel}>
          {props.trans.__('Cancel')}
        </button>
      )}
    </div>
  );
}

/** A field error's JSON pointer in words, e.g. '/between/1' -> 'between'. */
export type PathLabeller = (path: string) => string;

/**
 * A failed request, near the step that made it: the server's message (or
 * "Server unreachable"), its per-field errors, and its status and code in small print.
 */
export function ErrorBox(props: {
  error: unknown;
  trans: TranslationBundle;
  step: string;
  title?: string;
  onRetry?: () => void;
  labelPath?: PathLabeller;
}): JSX.Element {
  const { error, trans } = props;
  const message = errorText(error, trans) || trans.__('Request failed');
  // Details the server already put into its message are not repeated.
  const details = (error instanceof DatadiveError ? error.errors : []).filter(d => !message.includes(d.message));
  const code = error instanceof DatadiveError && error.status ? `${error.status} ${error.code}` : '';
  return (
    <div className="dd-assistant-error" data-testid="dd-assistant-error" data-step={props.step} role="alert">
      {props.title && <div className="dd-assistant-error-title">{props.title}</div>}
      <div className="dd-assistant-error-message">{message}</div>
      {details.length > 0 && (
        <ul className="dd-assistant-error-list">
          {details.map((d, i) => (
            <li key={i}>
              {d.path ? <span className="dd-assistant-error-path">{props.labelPath ? props.labelPath(d.path) : d.path}: </span> : null}
              {d.message}
            </li>
          ))}
        </ul>
      )}
      {(code || props.onRetry) && (
        <div className="dd-assistant-error-foot">
          {code && <span className="dd-assistant-muted">{code}</span>}
          {props.onRetry && (
            <button type="button" className="jp-Button jp-mod-minimal jp-mod-small dd-assistant-link" onClick={props.onRetry}>
              {trans.__('Try again')}
            </button>
          )}
        </div>
      )}
    </div>
  );
}
