import { describe, expect, it } from 'vitest';
import { chooseInsertPath, projectOfPath, type InsertContext } from '../src/logic/insertPath';

const ok: InsertContext = {
  mode: 'auto',
  collaborative: true,
  projectId: 'p1',
  notebookPathInProject: 'analysis.ipynb',
  canWrite: true
};

describe('chooseInsertPath', () => {
  it('uses the server only when every condition holds', () => {
    expect(chooseInsertPath(ok).path).toBe('server');
  });

  it('falls back to the browser, each time with a reason', () => {
    const cases: [Partial<InsertContext>, RegExp][] = [
      [{ mode: 'browser' }, /settings/i],
      [{ collaborative: false }, /collaboration/i],
      [{ projectId: null }, /not in a project/i],
      [{ notebookPathInProject: null }, /not in a project/i],
      [{ canWrite: false }, /role/i]
    ];
    for (const [change, reason] of cases) {
      const choice = chooseInsertPath({ ...ok, ...change });
      expect(choice.path, JSON.stringify(change)).toBe('browser');
      expect(choice.reason).toMatch(reason);
    }
  });

  it('the browser setting wins over everything else', () => {
    expect(chooseInsertPath({ ...ok, mode: 'browser', canWrite: false, collaborative: false }).reason).toMatch(/settings/i);
  });
});

describe('projectOfPath', () => {
  const projects = [
    { id: 'a', path: 'projects/a', role: 'owner' },
    { id: 'ab', path: 'projects/ab', role: 'viewer' },
    { id: 'nested', path: 'projects/a/sub', role: 'editor' },
    { id: 'slashes', path: '/shared/team/', role: 'editor' }
  ];

  it('finds the project folder holding the notebook', () => {
    expect(projectOfPath('projects/a/x.ipynb', projects)).toEqual({ project: projects[0], relative: 'x.ipynb' });
    expect(projectOfPath('projects/a/deep/er/x.ipynb', projects)).toEqual({
      project: projects[0],
      relative: 'deep/er/x.ipynb'
    });
  });

  it('compares whole segments', () => {
    expect(projectOfPath('projects/ab/x.ipynb', projects)?.project.id).toBe('ab');
    expect(projectOfPath('projects/abc/x.ipynb', projects)).toBeNull();
    expect(projectOfPath('projects/x.ipynb', projects)).toBeNull();
  });

  it('prefers the deepest folder when projects nest', () => {
    expect(projectOfPath('projects/a/sub/y.ipynb', projects)).toEqual({ project: projects[2], relative: 'y.ipynb' });
    expect(projectOfPath('projects/a/subway/y.ipynb', projects)).toEqual({
      project: projects[0],
      relative: 'subway/y.ipynb'
    });
  });

  it('ignores leading and trailing slashes on either side', () => {
    expect(projectOfPath('/shared/team/n.ipynb', projects)).toEqual({ project: projects[3], relative: 'n.ipynb' });
    expect(projectOfPath('shared/team/n.ipynb', projects)?.project.id).toBe('slashes');
  });

  it('does not treat the folder itself as inside', () => {
    expect(projectOfPath('projects/a', projects)).toBeNull();
  });

  it('accepts a drive prefix such as RTC:', () => {
    expect(projectOfPath('RTC:projects/a/x.ipynb', projects)).toEqual({ project: projects[0], relative: 'x.ipynb' });
  });

  it('a project at the contents root holds everything', () => {
    const root = [{ id: 'root', path: '', role: 'owner' }, ...projects];
    expect(projectOfPath('notes/n.ipynb', root)).toEqual({ project: root[0], relative: 'notes/n.ipynb' });
    expect(projectOfPath('projects/a/x.ipynb', root)?.project.id).toBe('a');
  });

  it('null without projects', () => {
    expect(projectOfPath('projects/a/x.ipynb', [])).toBeNull();
  });
});
