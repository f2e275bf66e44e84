/**
 * How generated cells reach the notebook.
 *
 * `server`: POST to the project's cells route; the server writes through the live
 * collaboration room, so every open browser sees the cells at once.
 * `browser`: the cells are added to the notebook model in this browser.
 */

export type InsertPath = 'server' | 'browser';

export interface InsertContext {
  /** The user's setting: `auto` lets the server insert when it can. */
  mode: 'auto' | 'browser';
  /** The notebook is open in a live collaboration room. */
  collaborative: boolean;
  projectId: string | null;
  notebookPathInProject: string | null;
  /** The user's role in the project may change notebooks (owner or editor). */
  canWrite: boolean;
}

export function chooseInsertPath(ctx: InsertContext): { path: InsertPath; reason: string } {
  if (ctx.mode === 'browser') {
    return { path: 'browser', reason: 'Inserting in the browser, as set in the settings' };
  }
  if (!ctx.projectId || ctx.notebookPathInProject === null || ctx.notebookPathInProject === '') {
    return { path: 'browser', reason: 'The notebook is not in a project' };
  }
  if (!ctx.collaborative) {
    return { path: 'browser', reason: 'The notebook is not open in a live collaboration room' };
  }
  if (!ctx.canWrite) {
    return { path: 'browser', reason: 'Your role in this project cannot change notebooks' };
  }
  return { path: 'server', reason: 'The server inserts through the live collaboration room' };
}

function segments(path: string): string[] {
  return path.split('/').filter(s => s !== '' && s !== '.');
}

function longestContaining<P extends { path: string }>(
  parts: string[],
  projects: P[]
): { project: P; relative: string } | null {
  let best: { project: P; relative: string; depth: number } | null = null;
  for (const project of projects) {
    const folder = segments(project.path ?? '');
    if (folder.length >= parts.length || (best && folder.length <= best.depth)) {
      continue;
    }
    if (folder.every((s, i) => parts[i] === s)) {
      best = { project, relative: parts.slice(folder.length).join('/'), depth: folder.length };
    }
  }
  return best ? { project: best.project, relative: best.relative } : null;
}

/**
 * The project whose folder holds `path` (the deepest one when folders nest), and the
 * path inside that folder. Whole segments are compared: `projects/a` holds
 * `projects/a/x.ipynb` but not `projects/ab/x.ipynb`. A path with a drive prefix
 * (`RTC:projects/a/x.ipynb`) is also tried without it.
 */
export function projectOfPath<P extends { id: string; path: string; role?: string }>(
  path: string,
  projects: P[]
): { project: P; relative: string } | null {
  if (typeof path !== 'string' || !Array.isArray(projects)) {
    return null;
  }
  const found = longestContaining(segments(path), projects);
  if (found) {
    return found;
  }
  const colon = path.indexOf(':');
  const slash = path.indexOf('/');
  if (colon > 0 && (slash === -1 || colon < slash)) {
    return longestContaining(segments(path.slice(colon + 1)), projects);
  }
  return null;
}
