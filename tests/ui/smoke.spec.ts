/**
 * Smoke test, on both flavours: JupyterLab starts with the extension installed, the
 * demo project's notebook opens and shows its cells, collaboration is on or off as the
 * flavour says, and the left bar has the Datadive panel.
 */
import {
  FLAVOURS,
  cells,
  expect,
  leftTab,
  openNotebook,
  readNotebook,
  shot,
  test,
  trackWebSockets
} from './helpers';

// A shared document's room: /api/collaboration/room/json:notebook:<file id>. (JupyterLab
// also opens `JupyterLab:globalAwareness`, user presence only, with or without RTC.)
const DOCUMENT_ROOM = /\/api\/collaboration\/room\/json:notebook:/;

for (const flavour of FLAVOURS) {
  test.describe(`smoke, ${flavour}`, () => {
    test.use({ flavour });

    test('the demo notebook opens and shows its cells', async ({ page, server }) => {
      const sockets = trackWebSockets(page);
      await openNotebook(page, server, server.demo.notebook);

      const onDisk = await readNotebook(server, server.demo.notebook);
      expect(onDisk.cells.length).toBeGreaterThan(1);
      await expect(cells(page)).toHaveCount(onDisk.cells.length);
      await expect(cells(page).first()).toContainText('Demo study');
      const firstCode = onDisk.cells.find((c: any) => c.cell_type === 'code');
      const firstLine = String(Array.isArray(firstCode.source) ? firstCode.source.join('') : firstCode.source)
        .split('\n')
        .find((l: string) => l.trim() !== '' && !l.trim().startsWith('#'));
      await expect(page.locator('.jp-NotebookPanel .jp-CodeCell').first()).toContainText(firstLine!.trim());
      await shot(page, `${flavour}-demo-notebook`);

      const state = await page.evaluate(() => {
        const app = (window as any).jupyterapp;
        const w = app.shell.currentWidget;
        const config = document.getElementById('jupyter-config-data')?.textContent ?? '{}';
        return {
          disableRTC: JSON.parse(config).disableRTC,
          collaborative: w.context.model.collaborative
        };
      });
      const rooms = sockets.filter(u => DOCUMENT_ROOM.test(u));
      if (flavour === 'collab') {
        expect(state.disableRTC).toBe(false);
        expect(state.collaborative).toBe(true);
        expect(rooms.length, `a document room among the websockets ${sockets.join(', ')}`).toBeGreaterThan(0);
      } else {
        expect(state.disableRTC).toBe(true);
        expect(state.collaborative).toBe(false);
        expect(rooms, 'no document room websocket').toEqual([]);
      }
    });

    test('the left bar has the Datadive panel', async ({ page, server }) => {
      await openNotebook(page, server, server.demo.notebook, { kernel: false });
      const tab = leftTab(page, 'datadive-sidebar');
      await expect(tab, 'a left-bar tab for the widget #datadive-sidebar').toHaveCount(1);
      await expect(tab).toHaveAttribute('title', /^Datadive/);
      await tab.click();
      await expect(page.locator('#datadive-sidebar')).toBeVisible();
      await shot(page, `${flavour}-datadive-sidebar`);
    });
  });
}
