/**
 * The statistical-test assistant: choose data, profile it, say what the question
 * is, get ranked test suggestions, insert one into the notebook.
 *
 * Everything it needs from JupyterLab comes through `AssistantHost`; requests go
 * through `host.api`. Server text is always rendered as React text.
 */
import React, { useEffect, useId, useMemo, useRef, useState } from 'react';
import { Button, HTMLSelect, caretDownIcon, caretRightIcon, refreshIcon } from '@jupyterlab/ui-components';
import { Suggestion } from '../api';
import { ErrorBox, isAbort, Progress } from './common';
import { AssistantHost, DataFileChoice, KernelFrames } from './host';
import {
  baseName,
  buildDesign,
  EMPTY_ROLES,
  fileOption,
  formatValue,
  Goal,
  groupFiles,
  insertionCells,
  kernelOption,
  loaderFor,
  ProfileView,
  readProfile,
  relativePath,
  dirName,
  Roles,
  SourceOption,
  variableName,
  withOutcome
} from './logic';
import { ProfileTable } from './ProfileTable';
import { InsertAbility, SuggestionCard } from './SuggestionCard';

export interface AssistantPanelProps {
  host: AssistantHost;
}

interface SuggestResult {
  seq: number;
  option: SourceOption;
  suggestions: Suggestion[];
  design: Record<string, unknown>;
  source: Record<string, unknown> | null;
  /** The design sent, as JSON: when the roles differ from it the result is out of date. */
  sent: string;
}

type ListRole = 'between' | 'within' | 'covariates';
type OneRole = 'subject' | 'weights' | 'strata';

function sourceName(option: SourceOption): string {
  return option.kind === 'file' ? baseName(option.file.path) : option.variable;
}

function asStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(v => formatValue(v)).filter(Boolean) : [];
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export function AssistantPanel({ host }: AssistantPanelProps): JSX.Element {
  const trans = host.trans;
  const id = useId();

  // ---- state ----------------------------------------------------------------------
  const [files, setFiles] = useState<DataFileChoice[]>([]);
  const [frames, setFrames] = useState<KernelFrames | null>(null);
  const [framesKnown, setFramesKnown] = useState(false);
  const [sourcesLoading, setSourcesLoading] = useState(false);
  const [sourcesLoaded, setSourcesLoaded] = useState(false);
  const [framesPending, setFramesPending] = useState(false);
  const [filesError, setFilesError] = useState<unknown>(null);
  const [framesError, setFramesError] = useState<unknown>(null);

  const [selected, setSelected] = useState<SourceOption | null>(null);
  const [profile, setProfile] = useState<ProfileView | null>(null);
  const [profiling, setProfiling] = useState<string | null>(null);
  const [profileError, setProfileError] = useState<unknown>(null);

  const [roles, setRoles] = useState<Roles>(EMPTY_ROLES);
  const [moreRoles, setMoreRoles] = useState(false);

  const [suggesting, setSuggesting] = useState(false);
  const [suggestError, setSuggestError] = useState<unknown>(null);
  const [result, setResult] = useState<SuggestResult | null>(null);
  const [expanded, setExpanded] = useState<Set<number>>(new Set([0]));
  const [, setTick] = useState(0);

  const mounted = useRef(true);
  const selectedRef = useRef<SourceOption | null>(null);
  const profileCtrl = useRef<AbortController | null>(null);
  const suggestCtrl = useRef<AbortController | null>(null);
  const sourcesSeq = useRef(0);
  const resultSeq = useRef(0);
  const lastPreselect = useRef<DataFileChoice | null | undefined>(undefined);
  /** The profile of the selected source arrived or failed (so a remount need not ask again). */
  const profileSettled = useRef(false);
  const resultsRef = useRef<HTMLElement | null>(null);

  // ---- data sources ---------------------------------------------------------------
  /**
   * Refresh both lists. Files and kernel DataFrames arrive independently, so a busy
   * kernel does not hold back the project's files; only the latest refresh applies.
   */
  const loadSources = async (): Promise<void> => {
    const seq = ++sourcesSeq.current;
    const current = () => mounted.current && seq === sourcesSeq.current;
    setSourcesLoading(true);
    setFramesPending(true);
    const filesDone = host.dataFiles().then(
      value => {
        if (current()) {
          setFiles(Array.isArray(value) ? value : []);
          setFilesError(null);
          setSourcesLoaded(true);
        }
      },
      error => {
        if (current()) {
          setFiles([]);
          setFilesError(error);
          setSourcesLoaded(true);
        }
      }
    );
    const framesDone = host.kernelFrames().then(
      value => {
        if (current()) {
          setFrames(value ?? null);
          setFramesKnown(true);
          setFramesError(null);
          setFramesPending(false);
        }
      },
      error => {
        if (current()) {
          setFramesError(error);
          setFramesPending(false);
        }
      }
    );
    await Promise.allSettled([filesDone, framesDone]);
    if (current()) {
      setSourcesLoading(false);
    }
  };

  const runProfile = async (option: SourceOption): Promise<void> => {
    profileCtrl.current?.abort();
    const ctrl = new AbortController();
    profileCtrl.current = ctrl;
    setProfiling(sourceName(option));
    setProfileError(null);
    setProfile(null);
    try {
      const answer = await host.api.profile(option.source, ctrl.signal);
      if (ctrl.signal.aborted || !mounted.current) {
        return;
      }
      profileSettled.current = true;
      setProfile(readProfile(answer));
    } catch (error) {
      if (ctrl.signal.aborted || isAbort(error) || !mounted.current) {
        return;
      }
      profileSettled.current = true;
      setProfileError(error);
    } finally {
      if (profileCtrl.current === ctrl) {
        profileCtrl.current = null;
        if (mounted.current) {
          setProfiling(null);
        }
      }
    }
  };

  /** Switch to another source (or none): cancels what is in flight and starts over. */
  const choose = (option: SourceOption | null): void => {
    profileCtrl.current?.abort();
    profileCtrl.current = null;
    suggestCtrl.current?.abort();
    suggestCtrl.current = null;
    selectedRef.current = option;
    profileSettled.current = false;
    setSelected(option);
    setProfile(null);
    setProfileError(null);
    setProfiling(null);
    setRoles(EMPTY_ROLES);
    setSuggesting(false);
    setSuggestError(null);
    setResult(null);
    if (option) {
      void runProfile(option);
    }
  };

  const applyPreselect = (): void => {
    const pre = host.preselect;
    if (!pre || pre === lastPreselect.current) {
      return;
    }
    lastPreselect.current = pre;
    // Consumed: a later remount of the panel must not choose it again.
    host.preselect = null;
    const option = fileOption(pre);
    if (selectedRef.current?.key === option.key && profileCtrl.current) {
      return; // already being profiled
    }
    choose(option);
  };

  useEffect(() => {
    mounted.current = true;
    const onChanged = () => {
      setTick(t => t + 1);
      void loadSources();
      applyPreselect();
    };
    host.changed.connect(onChanged);
    void loadSources();
    applyPreselect();
    // Mounted again (React strict mode) after a cleanup cut a profile short: ask again.
    if (selectedRef.current && !profileCtrl.current && !profileSettled.current) {
      void runProfile(selectedRef.current);
    }
    return () => {
      host.changed.disconnect(onChanged);
      mounted.current = false;
      profileCtrl.current?.abort();
      profileCtrl.current = null;
      suggestCtrl.current?.abort();
      suggestCtrl.current = null;
    };
  }, [host]);

  useEffect(() => {
    if (result && resultsRef.current && typeof resultsRef.current.scrollIntoView === 'function') {
      resultsRef.current.scrollIntoView({ block: 'nearest' });
    }
  }, [result?.seq]);

  // ---- the options of the source select ---------------------------------------------
  const groups = useMemo(() => {
    const list = [...files];
    if (selected?.kind === 'file' && !files.some(f => f.project.id === selected.file.project.id && f.path === selected.file.path)) {
      list.push(selected.file);
    }
    return groupFiles(list);
  }, [files, selected]);

  const kernelOptions = useMemo(
    () => (frames ? frames.variables.map(v => kernelOption(frames.kernelId, v)) : []),
    [frames]
  );

  /** A kernel source that is no longer a DataFrame of the active notebook's kernel. */
  const isStale = (option: SourceOption | null): boolean =>
    !!option &&
    option.kind === 'kernel' &&
    framesKnown &&
    (!frames || frames.kernelId !== option.kernelId || !frames.variables.includes(option.variable));

  const staleSelection = isStale(selected);

  const optionMap = useMemo(() => {
    const map = new Map<string, SourceOption>();
    groups.forEach(g => g.options.forEach(o => map.set(o.key, o)));
    kernelOptions.forEach(o => map.set(o.key, o));
    return map;
  }, [groups, kernelOptions]);

  const selectValue = !selected ? '' : staleSelection ? `stale:${selected.key}` : selected.key;

  const onSourceChange = (value: string) => {
    if (value.startsWith('stale:')) {
      return;
    }
    if (!value) {
      choose(null);
      return;
    }
    const option = optionMap.get(value);
    if (option) {
      choose(option);
    }
  };

  // ---- roles ------------------------------------------------------------------------
  const columns = profile?.columns ?? [];
  const names = columns.map(c => c.name);

  const setOutcome = (outcome: string) => {
    setRoles(r => (outcome ? withOutcome(r, outcome) : { ...r, outcome: '' }));
  };
  const setPredictor = (column: string, on: boolean) => {
    setRoles(r => {
      const rest = r.predictors.filter(c => c !== column);
      // keep the table's order
      const next = on ? names.filter(n => n === column || rest.includes(n)) : rest;
      return { ...r, predictors: next };
    });
  };
  const setListRole = (key: ListRole, values: string[]) => setRoles(r => ({ ...r, [key]: values }));
  const setOneRole = (key: OneRole, value: string) => setRoles(r => ({ ...r, [key]: value }));

  const design = buildDesign(roles);
  const designJson = JSON.stringify(design);
  const extraRoles =
    roles.between.length + roles.within.length + roles.covariates.length + (roles.subject ? 1 : 0) + (roles.weights ? 1 : 0) + (roles.strata ? 1 : 0);

  const labelPath = (path: string): string => {
    const parts = path.split('/').filter(Boolean);
    const key = parts[0] ?? '';
    const index = parts.length > 1 ? Number(parts[1]) : NaN;
    const list = (roles as unknown as Record<string, unknown>)[key];
    if (Array.isArray(list) && Number.isInteger(index) && typeof list[index] === 'string') {
      return `${key} '${list[index]}'`;
    }
    return key || path;
  };

  // ---- suggest ------------------------------------------------------------------------
  const suggest = async (): Promise<void> => {
    const option = selectedRef.current;
    if (!option || !roles.outcome) {
      return;
    }
    suggestCtrl.current?.abort();
    const ctrl = new AbortController();
    suggestCtrl.current = ctrl;
    setSuggesting(true);
    setSuggestError(null);
    try {
      const answer = await host.api.suggest(option.source, design, ctrl.signal);
      if (ctrl.signal.aborted || !mounted.current) {
        return;
      }
      resultSeq.current += 1;
      setResult({
        seq: resultSeq.current,
        option,
        suggestions: Array.isArray(answer?.suggestions) ? answer.suggestions : [],
        design: (answer?.design ?? {}) as Record<string, unknown>,
        source: (answer?.source ?? null) as Record<string, unknown> | null,
        sent: designJson
      });
      setExpanded(new Set([0]));
    } catch (error) {
      if (ctrl.signal.aborted || isAbort(error) || !mounted.current) {
        return;
      }
      setResult(null);
      setSuggestError(error);
    } finally {
      if (suggestCtrl.current === ctrl) {
        suggestCtrl.current = null;
        if (mounted.current) {
          setSuggesting(false);
        }
      }
    }
  };

  // ---- insert -------------------------------------------------------------------------
  const insertAbility = (option: SourceOption): InsertAbility => {
    const base = host.canInsert();
    if (!base.ok) {
      return base;
    }
    if (isStale(option) && option.kind === 'kernel') {
      return {
        ok: false,
        why: trans.__("'%1' is not a DataFrame of the active notebook's kernel: go back to its notebook or choose the data again.", option.variable)
      };
    }
    if (option.kind === 'file') {
      if (!host.notebookPath()) {
        return { ok: false, why: trans.__('Open a notebook to insert into.') };
      }
      if (!loaderFor(option.file.path)) {
        return { ok: false, why: trans.__('No loader template reads %1.', baseName(option.file.path)) };
      }
    }
    return base;
  };

  const insertSuggestion = async (option: SourceOption, s: Suggestion): Promise<string> => {
    const ability = insertAbility(option);
    if (!ability.ok) {
      throw new Error(ability.why);
    }
    const notebook = host.notebookPath();
    const cells = insertionCells(option, s, notebook);
    await host.insert(cells);
    if (option.kind === 'file' && cells.length > 1) {
      return trans.__(
        'Inserted 2 cells below the active cell: the first reads %1 into %2, the second runs the test on it. Run both.',
        relativePath(dirName(notebook ?? ''), option.file.path),
        variableName(option.file.path)
      );
    }
    return trans.__('Inserted below the active cell.');
  };

  // ---- render -------------------------------------------------------------------------
  const noSources =
    sourcesLoaded &&
    !framesPending &&
    !filesError &&
    !framesError &&
    groups.length === 0 &&
    kernelOptions.length === 0 &&
    !selected;
  const Caret = moreRoles ? caretDownIcon : caretRightIcon;
  const sourceInfo = profile?.source ?? null;
  const rowsRead = num(sourceInfo?.rows_read);
  const rowsTotal = num(sourceInfo?.rows_total);

  return (
    <div className="dd-assistant">
      {/* ---- step 1: data ---- */}
      <section className="dd-assistant-step" aria-labelledby={`${id}-data`}>
        <h3 className="dd-assistant-heading" id={`${id}-data`}>
          <span className="dd-assistant-stepno">1</span>
          {trans.__('Data')}
        </h3>
        <label className="dd-assistant-label" htmlFor={`${id}-source`}>
          {trans.__('Data file or DataFrame')}
        </label>
        <div className="dd-assistant-row-controls">
          <HTMLSelect
            id={`${id}-source`}
            className="dd-assistant-select"
            data-testid="dd-assistant-source"
            value={selectValue}
            onChange={e => onSourceChange(e.currentTarget.value)}
          >
            <option value="">{trans.__('Choose data…')}</option>
            {groups.map(g => (
              <optgroup key={g.project.id} label={trans.__('Files in %1', g.project.name)}>
                {g.options.map(o => (
                  <option key={o.key} value={o.key}>
                    {o.label}
                  </option>
                ))}
              </optgroup>
            ))}
            {kernelOptions.length > 0 && (
              <optgroup label={trans.__("DataFrames in the notebook's kernel")}>
                {kernelOptions.map(o => (
                  <option key={o.key} value={o.key}>
                    {o.label}
                  </option>
                ))}
              </optgroup>
            )}
            {staleSelection && selected && (
              <optgroup label={trans.__('Chosen earlier')}>
                <option value={`stale:${selected.key}`}>{trans.__('%1 (another kernel)', sourceName(selected))}</option>
              </optgroup>
            )}
          </HTMLSelect>
          <Button
            minimal
            small
            type="button"
            className={sourcesLoading ? 'dd-assistant-refresh dd-assistant-busy' : 'dd-assistant-refresh'}
            data-testid="dd-assistant-refresh"
            aria-busy={sourcesLoading}
            title={trans.__('Refresh the list of data files and DataFrames')}
            aria-label={trans.__('Refresh the list of data files and DataFrames')}
            onClick={() => {
              setTick(t => t + 1);
              void loadSources();
            }}
          >
            <refreshIcon.react tag="span" />
          </Button>
        </div>
        {sourcesLoading && !sourcesLoaded && (
          <Progress text={trans.__('Looking for data…')} trans={trans} step="sources" />
        )}
        {sourcesLoaded && framesPending && !framesKnown && (
          <Progress text={trans.__("Asking the notebook's kernel for its DataFrames…")} trans={trans} step="kernel" />
        )}
        {filesError !== null && (
          <ErrorBox error={filesError} trans={trans} step="sources" title={trans.__('Could not list the data files')} onRetry={() => void loadSources()} />
        )}
        {framesError !== null && (
          <ErrorBox error={framesError} trans={trans} step="sources" title={trans.__("Could not list the kernel's DataFrames")} onRetry={() => void loadSources()} />
        )}
        {noSources && (
          <p className="dd-assistant-empty">
            {trans.__('No data files in this project. Add a CSV to the project folder, or run a cell that creates a DataFrame.')}
          </p>
        )}
        {!noSources && sourcesLoaded && frames && frames.variables.length === 0 && !framesError && (
          <p className="dd-assistant-hint">
            {trans.__("No DataFrames in the notebook's kernel yet: run a cell that creates one, then refresh.")}
          </p>
        )}
        {staleSelection && selected && (
          <p className="dd-assistant-note">
            {trans.__("'%1' is not in the active notebook's kernel. Its profile stays here; to insert, go back to its notebook or choose the data again.", sourceName(selected))}
          </p>
        )}
        {!selected && !noSources && sourcesLoaded && (
          <p className="dd-assistant-hint">{trans.__('Choose a data file or a DataFrame to see its columns.')}</p>
        )}
        {profiling !== null && (
          <Progress text={trans.__('Profiling %1…', profiling)} trans={trans} step="profile" onCancel={() => choose(null)} />
        )}
        {profileError !== null && selected && (
          <ErrorBox
            error={profileError}
            trans={trans}
            step="profile"
            title={trans.__('Could not profile %1', sourceName(selected))}
            onRetry={() => void runProfile(selected)}
          />
        )}
        {profile && (
          <>
            <p className="dd-assistant-meta">
              {profile.rows !== null && trans._n('%1 row', '%1 rows', profile.rows)}
              {profile.rows !== null && ' · '}
              {trans._n('%1 column', '%1 columns', profile.columns.length)}
              {sourceInfo?.sampled === true && rowsRead !== null && (
                <>
                  {' · '}
                  {rowsTotal !== null
                    ? trans.__('a random sample of %1 of %2 rows', rowsRead.toLocaleString(), rowsTotal.toLocaleString())
                    : trans.__('a random sample of %1 rows', rowsRead.toLocaleString())}
                </>
              )}
            </p>
            {columns.length > 0 ? (
              <ProfileTable
                columns={columns}
                caption={trans.__('Columns of %1', selected ? sourceName(selected) : '')}
                outcome={roles.outcome}
                predictors={roles.predictors}
                onOutcome={setOutcome}
                onPredictor={setPredictor}
                trans={trans}
              />
            ) : (
              <p className="dd-assistant-empty">{trans.__('This data has no columns.')}</p>
            )}
          </>
        )}
      </section>

      {/* ---- step 2: question ---- */}
      {profile && columns.length > 0 && (
        <section className="dd-assistant-step" aria-labelledby={`${id}-question`}>
          <h3 className="dd-assistant-heading" id={`${id}-question`}>
            <span className="dd-assistant-stepno">2</span>
            {trans.__('Question')}
          </h3>
          <div className="dd-assistant-field">
            <label className="dd-assistant-label" htmlFor={`${id}-outcome`}>
              {trans.__('Outcome')}
            </label>
            <HTMLSelect
              id={`${id}-outcome`}
              className="dd-assistant-select"
              data-testid="dd-outcome"
              value={roles.outcome}
              onChange={e => setOutcome(e.currentTarget.value)}
            >
              <option value="">{trans.__('Choose the outcome…')}</option>
              {columns.map(c => (
                <option key={c.name} value={c.name}>
                  {c.level ? `${c.name} (${c.level})` : c.name}
                </option>
              ))}
            </HTMLSelect>
            {!roles.outcome && (
              <p className="dd-assistant-hint">{trans.__('Click a row of the table, or choose here, the variable you measure.')}</p>
            )}
          </div>
          <div className="dd-assistant-field">
            <span className="dd-assistant-label">{trans.__('Predictors')}</span>
            <p className="dd-assistant-value">
              {roles.predictors.length
                ? roles.predictors.join(', ')
                : trans.__('None: tick "Pred." in the table for the groups or variables that may explain the outcome.')}
            </p>
          </div>

          <button
            type="button"
            className="dd-assistant-disclosure"
            data-testid="dd-more-roles"
            aria-expanded={moreRoles}
            aria-controls={`${id}-roles`}
            onClick={() => setMoreRoles(m => !m)}
          >
            <Caret.react tag="span" className="dd-assistant-caret" />
            {extraRoles ? trans.__('More roles (%1 set)', extraRoles) : trans.__('More roles')}
          </button>
          {moreRoles && (
            <div className="dd-assistant-roles" id={`${id}-roles`}>
              <p className="dd-assistant-hint">{trans.__('In the lists, Ctrl- or ⌘-click to choose several columns.')}</p>
              {(
                [
                  ['between', trans.__('Between'), trans.__('Factors that split the subjects into independent groups.')],
                  ['within', trans.__('Within'), trans.__('Factors measured on the same subjects (repeated measures).')],
                  ['covariates', trans.__('Covariates'), trans.__('Continuous variables to adjust for.')]
                ] as [ListRole, string, string][]
              ).map(([key, label, help]) => (
                <div className="dd-assistant-field" key={key}>
                  <label className="dd-assistant-label" htmlFor={`${id}-${key}`}>
                    {label}
                  </label>
                  <select
                    multiple
                    id={`${id}-${key}`}
                    className="dd-assistant-multi"
                    data-testid={`dd-role-${key}`}
                    aria-describedby={`${id}-${key}-help`}
                    size={Math.min(4, Math.max(2, names.length - 1))}
                    value={roles[key]}
                    onChange={e => setListRole(key, Array.from(e.currentTarget.selectedOptions, o => o.value))}
                  >
                    {names
                      .filter(n => n !== roles.outcome)
                      .map(n => (
                        <option key={n} value={n}>
                          {n}
                        </option>
                      ))}
                  </select>
                  <span className="dd-assistant-help" id={`${id}-${key}-help`}>
                    {help}
                  </span>
                </div>
              ))}
              {(
                [
                  ['subject', trans.__('Subject'), trans.__('The column that identifies each subject, for repeated measures.')],
                  ['weights', trans.__('Weights'), trans.__('The count column of an aggregated table.')],
                  ['strata', trans.__('Strata'), trans.__('A stratification factor, such as the centre.')]
                ] as [OneRole, string, string][]
              ).map(([key, label, help]) => (
                <div className="dd-assistant-field" key={key}>
                  <label className="dd-assistant-label" htmlFor={`${id}-${key}`}>
                    {label}
                  </label>
                  <HTMLSelect
                    id={`${id}-${key}`}
                    className="dd-assistant-select"
                    data-testid={`dd-role-${key}`}
                    aria-describedby={`${id}-${key}-help`}
                    value={roles[key]}
                    onChange={e => setOneRole(key, e.currentTarget.value)}
                  >
                    <option value="">{trans.__('None')}</option>
                    {names
                      .filter(n => n !== roles.outcome)
                      .map(n => (
                        <option key={n} value={n}>
                          {n}
                        </option>
                      ))}
                  </HTMLSelect>
                  <span className="dd-assistant-help" id={`${id}-${key}-help`}>
                    {help}
                  </span>
                </div>
              ))}
            </div>
          )}

          <div className="dd-assistant-field">
            <label className="dd-assistant-label" htmlFor={`${id}-goal`}>
              {trans.__('Goal')}
            </label>
            <HTMLSelect
              id={`${id}-goal`}
              className="dd-assistant-select"
              data-testid="dd-goal"
              value={roles.goal}
              onChange={e => setRoles(r => ({ ...r, goal: e.currentTarget.value as Goal }))}
            >
              <option value="">{trans.__('Auto: let the assistant decide')}</option>
              <option value="difference">{trans.__('Difference between groups or conditions')}</option>
              <option value="association">{trans.__('Association between variables')}</option>
              <option value="prediction">{trans.__('Prediction or adjustment')}</option>
            </HTMLSelect>
          </div>

          <div className="dd-assistant-actions">
            <button
              type="button"
              className="jp-mod-styled jp-mod-accept dd-assistant-button"
              data-testid="dd-suggest"
              disabled={!roles.outcome || suggesting || !selected}
              title={roles.outcome ? trans.__('Suggest the tests that fit this question') : trans.__('Choose an outcome first')}
              onClick={() => void suggest()}
            >
              {trans.__('Suggest')}
            </button>
          </div>
        </section>
      )}

      {/* ---- step 3: suggestions ---- */}
      {(suggesting || suggestError !== null || result) && (
        <section className="dd-assistant-step" aria-labelledby={`${id}-suggestions`} ref={resultsRef}>
          <h3 className="dd-assistant-heading" id={`${id}-suggestions`}>
            <span className="dd-assistant-stepno">3</span>
            {trans.__('Suggestions')}
          </h3>
          {suggesting && <Progress text={trans.__('Checking the data and ranking the tests…')} trans={trans} step="suggest" />}
          {suggestError !== null && (
            <ErrorBox error={suggestError} trans={trans} step="suggest" title={trans.__('Could not suggest a test')} labelPath={labelPath} />
          )}
          {result && (
            <>
              {result.sent !== designJson && (
                <p className="dd-assistant-note">{trans.__('The question has changed since these suggestions: press Suggest again.')}</p>
              )}
              <ResultFacts result={result} trans={trans} />
              {result.suggestions.length ? (
                <ol className="dd-assistant-cards">
                  {result.suggestions.map((s, i) => (
                    <SuggestionCard
                      key={`${result.seq}-${i}`}
                      suggestion={s}
                      rank={i + 1}
                      expanded={expanded.has(i)}
                      onToggle={() =>
                        setExpanded(prev => {
                          const next = new Set(prev);
                          if (next.has(i)) {
                            next.delete(i);
                          } else {
                            next.add(i);
                          }
                          return next;
                        })
                      }
                      canInsert={insertAbility(result.option)}
                      onInsert={() => insertSuggestion(result.option, s)}
                      trans={trans}
                    />
                  ))}
                </ol>
              ) : (
                <p className="dd-assistant-empty">
                  {trans.__('No test fits this question. Check the outcome and the roles, or choose other columns.')}
                </p>
              )}
            </>
          )}
        </section>
      )}
    </div>
  );
}

/** What the assistant assumed and how much data it used, above the cards. */
function ResultFacts(props: { result: SuggestResult; trans: AssistantHost['trans'] }): JSX.Element | null {
  const { result, trans } = props;
  const d = result.design;
  const assumed = asStrings(d.assumed);
  const sampled = result.source?.sampled === true;
  const rowsRead = num(result.source?.rows_read);
  const rowsTotal = num(result.source?.rows_total);
  const lines: string[] = [];
  if (sampled && rowsRead !== null) {
    lines.push(
      rowsTotal !== null
        ? trans.__('Read a random sample of %1 of %2 rows.', rowsRead.toLocaleString(), rowsTotal.toLocaleString())
        : trans.__('Read a random sample of %1 rows.', rowsRead.toLocaleString())
    );
  }
  if (!lines.length && !assumed.length) {
    return null;
  }
  return (
    <ul className="dd-assistant-facts-list">
      {lines.map((line, i) => (
        <li key={`l${i}`}>{line}</li>
      ))}
      {assumed.map((a, i) => (
        <li key={`a${i}`}>
          <span className="dd-assistant-muted">{trans.__('Assumed:')} </span>
          {a}
        </li>
      ))}
    </ul>
  );
}
