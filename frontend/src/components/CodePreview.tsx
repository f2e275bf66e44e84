import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import React, { useEffect, useRef } from 'react';

/**
 * Read-only, syntax-highlighted code. The highlighter builds text nodes in
 * spans; without a highlighter the code is shown as plain text. Never HTML.
 */
export function CodePreview(props: {
  code: string;
  languages: IEditorLanguageRegistry | null;
  label: string;
  testId?: string;
}): JSX.Element {
  const ref = useRef<HTMLPreElement>(null);
  const { code, languages } = props;
  useEffect(() => {
    const el = ref.current;
    if (!el) {
      return;
    }
    el.textContent = code;
    if (!languages) {
      return;
    }
    let cancelled = false;
    const scratch = document.createElement('div');
    void languages
      .highlight(code, languages.findBest('python'), scratch)
      .then(() => {
        if (!cancelled && ref.current) {
          ref.current.replaceChildren(...Array.from(scratch.childNodes));
        }
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [code, languages]);
  return (
    <pre
      ref={ref}
      className="dd-code cm-s-jupyter"
      aria-label={props.label}
      data-testid={props.testId}
      tabIndex={0}
    />
  );
}
