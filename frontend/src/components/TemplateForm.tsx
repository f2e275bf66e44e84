/**
 * The form of one template: rjsf through JupyterLab's FormComponent, checked as
 * you type (ajv8), the server's errors shown at their fields, a live preview of
 * the code, and Insert (or Re-generate, when editing a generated cell's inputs).
 */
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { FormComponent } from '@jupyterlab/ui-components';
import type { ObjectFieldTemplateProps, WidgetProps } from '@rjsf/utils';
import validator from '@rjsf/validator-ajv8';
import React, { useCallback, useEffect, useMemo, useRef, useState } from 'react';

import { DatadiveError, TemplateDetail } from '../api';
import { readProfile } from '../assistant/logic';
import { clientSchema } from '../logic/clientSchema';
import { columnFields } from '../logic/columns';
import { errorSchemaFromErrors } from '../logic/errors';
import { splitRequired } from '../logic/formSchema';
import { DatadiveModel, FormRequest } from '../model';
import { generatedCell, insertPathFor, insertTemplate, regenerate } from '../notebook';
import { CodePreview } from './CodePreview';
import { ErrorNote, Progress, useDelayed } from './common';

/** A text input that offers the active kernel's DataFrame columns and accepts any text. */
function ColumnWidget(props: WidgetProps): JSX.Element {
  const columns: string[] = (props.options?.columns as string[]) ?? [];
  const listId = `${props.id}-columns`;
  return (
    <>
      <input
        id={props.id}
        name={props.name}
        className="form-control"
        type="text"
        list={columns.length ? listId : undefined}
        value={props.value ?? ''}
        required={props.required}
        disabled={props.disabled || props.readonly}
        autoFocus={props.autofocus}
        aria-describedby={`${props.id}__description`}
        onChange={e => props.onChange(e.target.value === '' ? props.options?.emptyValue : e.target.value)}
        onBlur={e => props.onBlur(props.id, e.target.value)}
        onFocus={e => props.onFocus(props.id, e.target.value)}
      />
      {columns.length > 0 && (
        <datalist id={listId}>
          {columns.map(c => (
            <option key={c} value={c} />
          ))}
        </datalist>
      )}
    </>
  );
}

/** Required fields first; optional ones under "More options" (opened when one of them has an error or a value). */
function RootObjectTemplate(props: ObjectFieldTemplateProps): JSX.Element {
  const ctx = (props.formContext ?? {}) as {
    moreLabel?: string;
    moreOpen?: boolean;
    setMoreOpen?: (open: boolean) => void;
    required?: string[];
  };
  const required = new Set(ctx.required ?? (props.schema.required as string[]) ?? []);
  const isRoot = props.idSchema.$id === 'root';
  const visible = props.properties.filter(p => !p.hidden);
  if (!isRoot) {
    return (
      <fieldset className="dd-fieldset" id={props.idSchema.$id}>
        {props.title && <legend>{props.title}</legend>}
        {visible.map(p => (
          <div key={p.name}>{p.content}</div>
        ))}
      </fieldset>
    );
  }
  const first = visible.filter(p => required.has(p.name));
  const more = visible.filter(p => !required.has(p.name));
  return (
    <div className="dd-form-fields" id={props.idSchema.$id}>
      {first.map(p => (
        <div key={p.name}>{p.content}</div>
      ))}
      {more.length > 0 && (
        <details
          className="dd-more-options"
          open={ctx.moreOpen || first.length === 0}
          onToggle={e => ctx.setMoreOpen?.((e.currentTarget as HTMLDetailsElement).open)}
        >
          <summary>{ctx.moreLabel ?? 'More options'}</summary>
          {more.map(p => (
            <div key={p.name}>{p.content}</div>
          ))}
        </details>
      )}
    </div>
  );
}

/** The pattern of every input that names a Python variable (`df`, `name`, `fig_name`...). */
const IDENTIFIER_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';

function cellsText(cells: { source: string | string[] }[]): string {
  return cells.map(c => (Array.isArray(c.source) ? c.source.join('') : c.source)).join('\n\n# ---- next cell ----\n\n');
}

export function TemplateForm(props: {
  model: DatadiveModel;
  request: FormRequest;
  languages: IEditorLanguageRegistry | null;
  onBack: () => void;
}): JSX.Element {
  const { model, request } = props;
  const trans = model.trans;
  const editing = !!request.edit;
  const [detail, setDetail] = useState<TemplateDetail | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [formData, setFormData] = useState<Record<string, unknown>>(request.inputs ?? {});
  const [touched, setTouched] = useState(false);
  const [serverErrors, setServerErrors] = useState<{ fieldErrors: any; formErrors: string[] }>({
    fieldErrors: {},
    formErrors: []
  });
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [previewBusy, setPreviewBusy] = useState(false);
  const [columns, setColumns] = useState<string[]>([]);
  // "More options" opens by itself when editing a cell (its optional inputs are part of what it is)
  // or when an optional field has an error; only the user closes it again.
  const [moreOpen, setMoreOpen] = useState(false);
  const [, setActiveTick] = useState(0);
  const rootRef = useRef<HTMLDivElement>(null);
  const userActed = useRef(false);

  // The template document (the cell's own version when editing).
  useEffect(() => {
    let live = true;
    setDetail(null);
    setLoadError(null);
    model.detail(request.templateId, request.version).then(
      d => live && setDetail(d),
      e => live && setLoadError(e)
    );
    return () => {
      live = false;
    };
  }, [model, request.templateId, request.version]);

  useEffect(() => {
    setFormData(request.inputs ?? {});
    setTouched(false);
    // A new request (another template, another cell) starts folded, unless it edits a cell.
    setMoreOpen(!!request.edit);
    userActed.current = false;
    setServerErrors({ fieldErrors: {}, formErrors: [] });
    setDone(null);
    setActionError(null);
  }, [request]);

  useEffect(() => {
    const changed = () => setActiveTick(t => t + 1);
    model.activeChanged.connect(changed);
    return () => {
      model.activeChanged.disconnect(changed);
    };
  }, [model]);

  // Patterns of templates that are not built in are checked by the server only (see clientSchema).
  const schema = useMemo(
    () => (detail ? clientSchema(detail.document.inputs, detail.source === 'builtin') : null),
    [detail]
  );
  const ui = useMemo(() => detail?.document.ui ?? {}, [detail]);
  const fields = useMemo(() => (schema ? columnFields(schema, ui) : { single: [], multiple: [] }), [schema, ui]);
  const split = useMemo(() => (schema ? splitRequired(schema, ui) : { required: [], optional: [] }), [schema, ui]);

  // Columns of the DataFrame named by the `df` input, from the active notebook's kernel.
  const dfName = typeof formData.df === 'string' ? formData.df : null;
  const panel = request.edit?.panel ?? model.activePanel;
  const kernelId = panel?.sessionContext.session?.kernel?.id ?? null;
  useEffect(() => {
    if (!dfName || !kernelId || (!fields.single.length && !fields.multiple.length) || !/^[A-Za-z_]\w*$/.test(dfName)) {
      setColumns([]);
      return;
    }
    const abort = new AbortController();
    const timer = window.setTimeout(() => {
      model.api
        .profile({ kernel_id: kernelId, variable: dfName }, abort.signal)
        .then(result => setColumns(readProfile(result).columns.map(c => c.name)))
        .catch(() => setColumns([]));
    }, 250);
    return () => {
      window.clearTimeout(timer);
      abort.abort();
    };
  }, [model, dfName, kernelId, fields]);

  const uiSchema = useMemo(() => {
    const out: Record<string, any> = { ...ui };
    out['ui:order'] = [...split.required, ...split.optional, '*'];
    for (const name of fields.single) {
      out[name] = { ...(out[name] ?? {}), 'ui:widget': 'column', 'ui:options': { ...(out[name]?.['ui:options'] ?? {}), columns } };
    }
    for (const name of fields.multiple) {
      out[name] = {
        ...(out[name] ?? {}),
        items: { ...(out[name]?.items ?? {}), 'ui:widget': 'column', 'ui:options': { columns } }
      };
    }
    out['ui:submitButtonOptions'] = { norender: true };
    // Through the uiSchema, not `templates`: JupyterLab's own field templates stay in use.
    out['ui:ObjectFieldTemplate'] = RootObjectTemplate;
    return out;
  }, [ui, split, fields, columns]);

  // Live preview through templates/{id}/render, debounced; its errors go to their fields.
  const previewKey = JSON.stringify(formData);
  useEffect(() => {
    if (!detail) {
      return;
    }
    // Only values the form itself accepts go to the server (its errors would repeat the form's).
    if (schema && validator.validateFormData(formData, schema as any).errors.length) {
      setPreview(null);
      return;
    }
    const abort = new AbortController();
    const timer = window.setTimeout(async () => {
      setPreviewBusy(true);
      try {
        const cells = await model.api.render(detail.id, formData, detail.version, abort.signal);
        setPreview(cellsText(cells));
        setServerErrors({ fieldErrors: {}, formErrors: [] });
      } catch (error) {
        if (abort.signal.aborted) {
          return;
        }
        setPreview(null);
        if (error instanceof DatadiveError && error.status === 400 && touched) {
          setServerErrors(errorSchemaFromErrors(error.errors, detail.document.inputs));
        }
      } finally {
        if (!abort.signal.aborted) {
          setPreviewBusy(false);
        }
      }
    }, model.settings.previewDebounceMs);
    return () => {
      window.clearTimeout(timer);
      abort.abort();
    };
  }, [detail, previewKey, touched]);

  const optionalServerError = split.optional.some(name => serverErrors.fieldErrors[name] !== undefined);
  useEffect(() => {
    if (optionalServerError) {
      setMoreOpen(true);
    }
  }, [optionalServerError]);

  const target = model.target(panel);
  const canAct = !!target && target.canWrite && !!panel?.content.model;
  const why = !panel
    ? trans.__('Open a notebook to insert cells')
    : target && !target.canWrite
      ? trans.__('You are a viewer of this project: you cannot change its notebooks')
      : '';
  const path = target ? insertPathFor(target, model.settings.insertPath) : null;
  const slow = useDelayed(busy, 100);

  const submit = useCallback(
    async (data: Record<string, unknown>) => {
      if (!detail || !target) {
        return;
      }
      setBusy(true);
      setActionError(null);
      setDone(null);
      try {
        if (editing) {
          const generated = generatedCell(
            request.edit!.panel,
            request.edit!.panel.content.widgets.find(w => w.model.id === request.edit!.cellId)
          );
          if (!generated) {
            throw new DatadiveError(0, 'cell_gone', trans.__('The cell is no longer in the notebook.'));
          }
          const ok = await regenerate(model.api, target, model.settings.insertPath, generated, { inputs: data }, trans);
          setDone(ok ? trans.__('Cell re-generated.') : trans.__('Nothing changed.'));
        } else {
          const result = await insertTemplate(
            model.api,
            target,
            model.settings.insertPath,
            { id: detail.id, version: detail.version },
            data
          );
          setDone(trans._n('Inserted %1 cell.', 'Inserted %1 cells.', result.ids.length));
        }
        setServerErrors({ fieldErrors: {}, formErrors: [] });
      } catch (error) {
        if (error instanceof DatadiveError && error.errors.length && detail) {
          setServerErrors(errorSchemaFromErrors(error.errors, detail.document.inputs));
        }
        setActionError(error);
      } finally {
        setBusy(false);
      }
    },
    [detail, target, editing, request, model]
  );

  if (loadError) {
    return (
      <div className="dd-form" data-testid="dd-form">
        <FormHeader title={request.templateId} onBack={props.onBack} trans={trans} />
        <ErrorNote error={loadError} trans={trans} />
      </div>
    );
  }
  if (!detail || !schema) {
    return (
      <div className="dd-form" data-testid="dd-form">
        <FormHeader title={model.summary(request.templateId)?.title ?? request.templateId} onBack={props.onBack} trans={trans} />
        <Progress label={trans.__('Loading the template…')} />
      </div>
    );
  }
  const latest = model.latestVersion(detail.id);
  return (
    <div
      className="dd-form"
      data-testid="dd-form"
      ref={rootRef}
      // Checked as you type once the user typed, ticked or picked something (rjsf's own
      // change event on mount, which fills the defaults, does not count).
      onInputCapture={() => {
        userActed.current = true;
      }}
      onKeyDown={e => {
        if (e.key === 'Escape') {
          e.stopPropagation();
          props.onBack();
        }
      }}
    >
      <FormHeader title={detail.document.title} onBack={props.onBack} trans={trans} />
      <div className="dd-form-meta">
        <span className="dd-badge">v{detail.version}</span>
        {editing && latest !== undefined && latest > detail.version && (
          <span className="dd-badge dd-badge-info">{trans.__('v%1 available', latest)}</span>
        )}
        {editing && <span className="dd-badge">{trans.__('editing a cell')}</span>}
      </div>
      {detail.document.description && <p className="dd-form-desc">{detail.document.description}</p>}
      {serverErrors.formErrors.length > 0 && (
        <ul className="dd-error dd-form-errors" role="alert" data-testid="dd-form-error">
          {serverErrors.formErrors.map((m, i) => (
            <li key={i}>{m}</li>
          ))}
        </ul>
      )}
      <FormComponent
        schema={schema as any}
        uiSchema={uiSchema}
        formData={formData as any}
        validator={validator as any}
        liveValidate={touched}
        showErrorList={false}
        noHtml5Validate
        extraErrors={serverErrors.fieldErrors}
        widgets={{ column: ColumnWidget }}
        formContext={{ moreLabel: trans.__('More options'), required: split.required, moreOpen, setMoreOpen }}
        transformErrors={errors =>
          errors.map(e =>
            e.name === 'required'
              ? { ...e, message: trans.__('is required') }
              : e.name === 'pattern' && e.params?.pattern === IDENTIFIER_PATTERN
                ? { ...e, message: trans.__('must be a Python name: letters, digits and _, not starting with a digit') }
                : e
          )
        }
        onChange={e => {
          // One render for both: rjsf resets its data to a stale formData prop if another prop changes alone.
          setFormData(e.formData as Record<string, unknown>);
          if (userActed.current) {
            setTouched(true);
          }
        }}
        onSubmit={e => void submit(e.formData as Record<string, unknown>)}
        onError={errors => {
          setTouched(true);
          // An error in a folded optional field must be seen: open "More options".
          const optional = new Set(split.optional);
          if (errors.some(e => optional.has(String(e.property ?? '').replace(/^\./, '').split(/[.[]/)[0]))) {
            setMoreOpen(true);
          }
        }}
      >
        <div className="dd-form-actions">
          <button
            type="submit"
            className="jp-Button jp-mod-styled jp-mod-accept"
            data-testid="dd-form-insert"
            disabled={!canAct || busy}
            title={why || (path ? path.reason : '')}
          >
            {editing ? trans.__('Re-generate') : trans.__('Insert')}
          </button>
          <button type="button" className="jp-Button jp-mod-styled jp-mod-reject" data-testid="dd-form-back" onClick={props.onBack}>
            {editing ? trans.__('Cancel') : trans.__('Back')}
          </button>
        </div>
        {why && <p className="dd-hint">{why}</p>}
      </FormComponent>
      {slow && <Progress label={editing ? trans.__('Re-generating…') : trans.__('Inserting…')} />}
      {actionError !== null && (
        <div data-testid="dd-form-action-error">
          <ErrorNote error={actionError} trans={trans} />
        </div>
      )}
      {done && (
        <p className="dd-done" role="status" data-testid="dd-form-done">
          {done}
        </p>
      )}
      <div className="dd-preview-head">
        {trans.__('Preview')}
        {previewBusy && <span className="dd-spinner dd-spinner-small" aria-label={trans.__('Updating preview')} />}
      </div>
      {preview !== null ? (
        <CodePreview code={preview} languages={props.languages} label={trans.__('Code preview')} testId="dd-form-preview" />
      ) : (
        <p className="dd-hint" data-testid="dd-form-preview-empty">
          {touched && (serverErrors.formErrors.length || Object.keys(serverErrors.fieldErrors).length)
            ? trans.__('Fix the fields marked above to see the code.')
            : trans.__('Fill the required fields to see the code.')}
        </p>
      )}
    </div>
  );
}

function FormHeader(props: { title: string; onBack: () => void; trans: DatadiveModel['trans'] }): JSX.Element {
  return (
    <div className="dd-form-header">
      <button className="jp-mod-styled dd-link" onClick={props.onBack} aria-label={props.trans.__('Back to the templates')}>
        ← {props.trans.__('Templates')}
      </button>
      <h3 className="dd-form-title">{props.title}</h3>
    </div>
  );
}
