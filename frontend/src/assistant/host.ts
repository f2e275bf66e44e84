/**
 * What the assistant panel needs from the sidebar that hosts it.
 *
 * The sidebar implements this interface; the panel only reads through it, so it
 * can be rendered (and tested) with any object of this shape.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { DatadiveAPI, Project } from '../api';

/** A data file of a project; `path` is inside the contents root, e.g. 'projects/demo-study/study.csv'. */
export interface DataFileChoice {
  project: Project;
  path: string;
}

/** The DataFrame variables of the active notebook's kernel. */
export interface KernelFrames {
  kernelId: string;
  notebookPath: string;
  variables: string[];
}

export interface AssistantHost {
  api: DatadiveAPI;
  trans: TranslationBundle;
  /** Data files (csv/tsv/xlsx/parquet/json) of the active notebook's project, else of all projects. */
  dataFiles(): Promise<DataFileChoice[]>;
  /** DataFrame variables of the active notebook's kernel; null when no notebook/kernel. */
  kernelFrames(): Promise<KernelFrames | null>;
  /** The active notebook's path inside the contents root, e.g. 'projects/demo-study/analysis.ipynb'; null without one. */
  notebookPath(): string | null;
  /** False with a reason when no notebook is active or it is read-only. */
  canInsert(): { ok: boolean; why: string };
  /** Insert below the active cell, in order. */
  insert(cells: { template: string; inputs: Record<string, unknown> }[]): Promise<void>;
  /** The active notebook or its kernel changed (also emit it after setting `preselect`). */
  changed: import('@lumino/signaling').ISignal<unknown, void>;
  /** Set when the user clicked "Analyse in assistant" on a data file (a new object each time). */
  preselect?: DataFileChoice | null;
}
