/**
 * The template gallery, its forms and generated cells (issue 10, browser scenarios
 * 1, 2, 3 and 5):
 *
 * 1. collab: search the gallery, fill a form, Insert: the cell appears below the
 *    active cell without a reload, and the saved file holds it with metadata.datadive.
 * 2. collab: Edit inputs of a generated cell re-generates it in place (same id); a
 *    cell edited by hand asks "Replace hand edits?" first.
 * 3. nocollab: Insert renders in the browser; the notebook is dirty, no "File
 *    Changed" dialog, saving writes the cells.
 * 5. The client's and the server's errors at their fields (and at the top when they
 *    belong to no field); a user template with HTML in its title shows it as text.
 *    Also: the gallery and the form by keyboard only.
 */
import type { Locator, Page } from '@playwright/test';
import * as crypto from 'node:crypto';
import {
  LabServer,
  api,
  cells,
  copyNotebook,
  expect,
  leftTab,
  openNotebook,
  readNotebook,
  saveActive,
  shot,
  test
} from './helpers';

// ---------------------------------------------------------------------------------
// Page helpers (this file only)
// ---------------------------------------------------------------------------------

interface ModelCell {
  id: string;
  type: string;
  source: string;
  datadive: any;
}

/** The active notebook's cells as its model holds them (id, type, source, metadata.datadive). */
async function modelCells(page: Page): Promise<ModelCell[]> {
  return page.evaluate(() => {
    const app = (window as any).jupyterapp;
    const model = app.shell.currentWidget.content.model;
    const out: any[] = [];
    for (let i = 0; i < model.cells.length; i++) {
      const c = model.cells.get(i);
      out.push({
        id: c.id,
        type: c.type,
        source: c.sharedModel.getSource(),
        datadive: c.sharedModel.getMetadata('datadive') ?? null
      });
    }
    return out;
  });
}

/** Index and id of the active cell of the active notebook. */
async function activeCell(page: Page): Promise<{ index: number; id: string }> {
  return page.evaluate(() => {
    const app = (window as any).jupyterapp;
    const nb = app.shell.currentWidget.content;
    return { index: nb.activeCellIndex, id: nb.activeCell.model.id };
  });
}

/** Open the Datadive sidebar from the left bar and wait for the template list. */
async function openSidebar(page: Page): Promise<Locator> {
  const sidebar = page.locator('#datadive-sidebar');
  if (!(await sidebar.isVisible())) {
    await leftTab(page, 'datadive-sidebar').click();
  }
  await expect(sidebar).toBeVisible();
  await expect(sidebar.getByTestId('dd-template-count')).toBeVisible();
  return sidebar;
}

function sourceOf(cell: any): string {
  return Array.isArray(cell.source) ? cell.source.join('') : String(cell.source);
}

/** The rjsf error list under a field (`#root_<name>__error`). */
function fieldErrors(form: Locator, field: string): Locator {
  return form.locator(`#root_${field}__error`);
}

/** The whole block of a field (label, input, description, errors): the nearest `.form-group`. */
function fieldBlock(form: Locator, field: string): Locator {
  return form
    .locator(`#root_${field}`)
    .locator('xpath=ancestor::div[contains(concat(" ", normalize-space(@class), " "), " form-group ")][1]');
}

const IDENTIFIER_MESSAGE = 'must be a Python name: letters, digits and _, not starting with a digit';

/** How many templates the server lists (all pages). */
async function templateCount(server: LabServer): Promise<number> {
  let n = 0;
  let cursor = '';
  for (;;) {
    const r = await api(server, 'GET', `api/datadive/templates?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
    expect(r.status, r.text).toBe(200);
    n += r.body.items.length;
    if (!r.body.next_cursor) {
      return n;
    }
    cursor = encodeURIComponent(r.body.next_cursor);
  }
}

/**
 * The form's outcome: its "done" note, or else its error (so that a failure shows
 * the error's text).
 */
function outcome(form: Locator): Locator {
  return form.getByTestId('dd-form-done').or(form.getByTestId('dd-form-action-error'));
}

/** Open a generated cell's marker menu and pick an item. */
async function markerMenu(page: Page, cell: Locator, item: string): Promise<void> {
  await cell.getByTestId('dd-cell-marker').click();
  const menu = page.locator('.lm-Menu.dd-cell-menu');
  await expect(menu).toBeVisible();
  await menu.locator('.lm-Menu-item', { hasText: item }).click();
  await expect(menu).toBeHidden();
}

/** Nothing matching `dialog` shows during `ms` (polled, so a dialog that comes and goes is seen too). */
async function expectNoDialog(page: Page, ms: number, what = '.jp-Dialog'): Promise<void> {
  const seen = await page.evaluate(
    ([selector, wait]) =>
      new Promise<string | null>(resolve => {
        const end = Date.now() + (wait as number);
        const tick = () => {
          const d = document.querySelector(selector as string);
          if (d) {
            resolve(d.textContent ?? '(no text)');
          } else if (Date.now() > end) {
            resolve(null);
          } else {
            requestAnimationFrame(tick);
          }
        };
        tick();
      }),
    [what, ms] as const
  );
  expect(seen, `no ${what} should appear`).toBeNull();
}

// ---------------------------------------------------------------------------------
// 1. collaboration: search, form, insert below the active cell, save
// ---------------------------------------------------------------------------------

test('1. collab: search the gallery, fill the form, insert below the active cell, save', async ({ page, server }) => {
  const nb = await copyNotebook(server);
  await openNotebook(page, server, nb);
  const before = await modelCells(page);
  // The demo notebook: a heading, load-csv, overview (2 cells), group-summary, boxplot.
  expect(before.map(c => c.datadive?.template ?? null)).toEqual([
    null,
    'load-csv',
    'overview',
    'overview',
    'group-summary',
    'boxplot-by-group'
  ]);
  await expect(page.locator('.jp-Dialog')).toHaveCount(0);

  // Make `df.head(5)` (index 3) the active cell.
  await cells(page).nth(3).locator('.jp-InputPrompt').click();
  const active = await activeCell(page);
  expect(active.index).toBe(3);
  expect(before[3].source).toBe('df.head(5)');
  await page.evaluate(() => ((window as any).__marker = 1));

  const sidebar = await openSidebar(page);
  await expect(sidebar.getByTestId('dd-context')).toContainText('Demo study');
  await expect(sidebar.getByTestId('dd-context')).toContainText('owner');
  const total = await templateCount(server);
  expect(total).toBeGreaterThan(20);
  await expect(sidebar.getByTestId('dd-template-count')).toHaveText(`${total} templates`);
  await shot(page, 'collab-gallery-open');

  // Search as you type.
  const search = sidebar.getByTestId('dd-template-search');
  await search.fill('box');
  const items = sidebar.getByTestId('dd-template-item');
  await expect(items.first()).toHaveAttribute('data-template-id', 'boxplot-by-group');
  await expect(items.first().locator('.dd-template-title')).toHaveText('Box plot by group');
  await expect(sidebar.locator('[data-template-id="load-csv"]')).toHaveCount(0);
  const shown = await items.count();
  expect(shown).toBeLessThan(total);
  await expect(sidebar.getByTestId('dd-template-count')).toHaveText(`${shown} templates`);
  // The Plot chip narrows "box" to the plot templates: the stats templates that draw box plots go.
  await sidebar.getByTestId('dd-category-plot').click();
  await expect(sidebar.getByTestId('dd-category-plot')).toHaveAttribute('aria-pressed', 'true');
  await expect(sidebar.locator('[data-template-id="stat-one-way-anova"]')).toHaveCount(0);
  await expect(sidebar.locator('[data-template-id="boxplot-by-group"]')).toHaveCount(1);
  await expect(sidebar.getByTestId('dd-template-count')).toHaveText('1 template');
  await shot(page, 'collab-gallery-search-box-plot-chip');
  await sidebar.getByTestId('dd-category-plot').click();
  await expect(sidebar.locator('[data-template-id="stat-one-way-anova"]')).toHaveCount(1);

  // Expand: the preview is the code of the first example (value "weight").
  const entry = sidebar.locator('[data-testid="dd-template-item"][data-template-id="boxplot-by-group"]');
  await entry.locator('.dd-template-head').click();
  await expect(entry.locator('.dd-template-head')).toHaveAttribute('aria-expanded', 'true');
  const preview = entry.getByTestId('dd-template-preview');
  await expect(preview).toContainText("ax.set_ylabel('weight')");
  await expect(preview).toContainText("groupby('group', observed=True)['weight']");
  await shot(page, 'collab-gallery-expanded-preview');

  // Use: the form.
  await entry.getByTestId('dd-template-use').click();
  const form = sidebar.getByTestId('dd-form');
  await expect(form).toBeVisible();
  await expect(form.locator('.dd-form-title')).toHaveText('Box plot by group');
  const insert = form.getByTestId('dd-form-insert');
  await expect(insert).toHaveText('Insert');
  await expect(insert).toHaveAttribute('title', 'The server inserts through the live collaboration room');
  await expect(form.getByTestId('dd-form-preview-empty')).toHaveText('Fill the required fields to see the code.');
  await form.locator('#root_value').fill('score');
  await form.locator('#root_group').fill('group');
  const livePreview = form.getByTestId('dd-form-preview');
  await expect(livePreview).toContainText("ax.set_ylabel('score')");
  await expect(livePreview).toContainText("ax.set_xlabel('group')");
  await shot(page, 'collab-form-filled');

  await insert.click();
  await expect(outcome(form)).toHaveText('Inserted 1 cell.');
  await expect(form.getByTestId('dd-form-action-error')).toHaveCount(0);

  // The new cell is right below df.head(5), selected, with its marker.
  await expect(cells(page)).toHaveCount(7);
  const after = await modelCells(page);
  const added = after[4];
  expect(after[3].id).toBe(active.id);
  expect(after.slice(5).map(c => c.id)).toEqual([before[4].id, before[5].id]);
  expect(new Set(before.map(c => c.id)).has(added.id)).toBe(false);
  expect(added.type).toBe('code');
  expect(added.source).toContain(
    "box_groups = df.dropna(subset=['score', 'group']).groupby('group', observed=True)['score']"
  );
  expect(added.source).toContain("ax.set_ylabel('score')");
  expect(added.source).toContain("ax.set_xlabel('group')");
  expect(added.datadive.template).toBe('boxplot-by-group');
  expect(added.datadive.inputs).toMatchObject({ value: 'score', group: 'group', df: 'df' });
  expect((await activeCell(page)).index).toBe(4);
  const newCell = cells(page).nth(4);
  await expect(newCell).toHaveClass(/jp-mod-active/);
  await expect(newCell.locator('.jp-InputArea-editor')).toContainText("ax.set_ylabel('score')");
  const marker = newCell.locator('.jp-Cell-inputWrapper').getByTestId('dd-cell-marker');
  await expect(marker).toHaveAttribute('data-state', 'generated');
  await expect(marker.locator('.dd-marker-title')).toHaveText('Box plot by group');
  await expect(marker.locator('.dd-marker-version')).toHaveText('v1');
  await expect(marker.locator('.dd-marker-state')).toHaveCount(0);
  await newCell.scrollIntoViewIfNeeded();
  await shot(page, 'collab-inserted-cell-with-marker');

  // No reload, no "file changed" dialog.
  expect(await page.evaluate(() => (window as any).__marker)).toBe(1);
  await expectNoDialog(page, 3000);

  // Saved: the file holds the cell right after the active one.
  await saveActive(page);
  await expectNoDialog(page, 1000);
  const onDisk = await readNotebook(server, nb);
  expect(onDisk.cells.length).toBe(7);
  expect(onDisk.cells[3].id).toBe(active.id);
  const saved = onDisk.cells[4];
  expect(saved.id).toBe(added.id);
  expect(saved.metadata.datadive.template).toBe('boxplot-by-group');
  expect(saved.metadata.datadive.version).toBe(1);
  expect(saved.metadata.datadive.inputs.value).toBe('score');
  expect(saved.metadata.datadive.inputs.group).toBe('group');
  expect(sourceOf(saved)).toContain("ax.set_ylabel('score')");
  expect(onDisk.cells.slice(5).map((c: any) => c.id)).toEqual([before[4].id, before[5].id]);
  expect(await page.evaluate(() => (window as any).__marker)).toBe(1);
  await shot(page, 'collab-saved');
});

// ---------------------------------------------------------------------------------
// 2. collaboration: edit inputs, hand edits, confirmation
// ---------------------------------------------------------------------------------

test('2. collab: Edit inputs re-generates in place; a hand-edited cell asks first', async ({ page, server }) => {
  const nb = await copyNotebook(server);
  await openNotebook(page, server, nb);
  const sidebar = await openSidebar(page);
  const before = await modelCells(page);
  const boxId = before[5].id;
  expect(before[5].datadive.template).toBe('boxplot-by-group');
  expect(before[5].datadive.inputs.value).toBe('score');
  const box = cells(page).nth(5);
  const editor = box.locator('.jp-InputArea-editor');
  const marker = box.getByTestId('dd-cell-marker');
  await expect(marker).toHaveAttribute('data-state', 'generated');

  // Edit inputs from the marker's menu: the form, prefilled, says Re-generate.
  await box.scrollIntoViewIfNeeded();
  await marker.click();
  const menu = page.locator('.lm-Menu.dd-cell-menu');
  await expect(menu).toBeVisible();
  await expect(menu.locator('.lm-Menu-item')).toHaveText([
    'Edit cell inputs…',
    /^Upgrade to/,
    'Detach from template',
    'Show template'
  ]);
  await shot(page, 'collab-marker-menu');
  await menu.locator('.lm-Menu-item', { hasText: 'Edit cell inputs' }).click();
  const form = sidebar.getByTestId('dd-form');
  await expect(form).toBeVisible();
  const regen = form.getByTestId('dd-form-insert');
  await expect(regen).toHaveText('Re-generate');
  await expect(form.locator('#root_value')).toHaveValue('score');
  await expect(form.locator('#root_group')).toHaveValue('group');
  await form.locator('#root_value').fill('age');
  await expect(form.getByTestId('dd-form-preview')).toContainText("ax.set_ylabel('age')");
  await shot(page, 'collab-edit-inputs-form');
  await regen.click();
  await expect(outcome(form)).toHaveText('Cell re-generated.');
  await expect(editor).toContainText("ax.set_ylabel('age')");
  expect((await activeCell(page)).index, 'the re-generated cell is selected again').toBe(5);
  await expect(editor).not.toContainText("ax.set_ylabel('score')");

  let now = await modelCells(page);
  expect(now.length).toBe(6);
  expect(now[5].id).toBe(boxId);
  expect(now[5].source).toContain("box_groups = df.dropna(subset=['age', 'group']).groupby('group', observed=True)['age']");
  expect(now[5].datadive.inputs.value).toBe('age');
  await expect(marker).toHaveAttribute('data-state', 'generated');
  await shot(page, 'collab-regenerated-age');

  // Edit by hand: the marker says so.
  await editor.locator('.cm-content').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('\n# my hand edit');
  await expect(editor).toContainText('# my hand edit');
  await expect(marker).toHaveAttribute('data-state', 'edited');
  await expect(marker).toContainText('edited by hand');
  await page.keyboard.press('Escape');
  await shot(page, 'collab-edited-by-hand-marker');

  // Edit inputs again, Re-generate: the confirmation. Cancel keeps the hand edit.
  await markerMenu(page, box, 'Edit cell inputs');
  await expect(form.locator('#root_value')).toHaveValue('age');
  // Editing a cell opens "More options" by itself (its optional inputs are part of the cell).
  await expect(form.locator('details.dd-more-options')).toHaveJSProperty('open', true);
  await form.locator('#root_title').fill('Age by group');
  await expect(form.getByTestId('dd-form-preview')).toContainText("ax.set_title('Age by group')");
  await regen.click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('Replace hand edits?');
  await shot(page, 'collab-replace-hand-edits-dialog');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(outcome(form)).toHaveText('Nothing changed.');
  await expect(editor).toContainText('# my hand edit');
  await expect(marker).toHaveAttribute('data-state', 'edited');

  // Again, and Replace: re-generated, the hand edit gone, same cell id.
  await regen.click();
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Replace' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(outcome(form)).toHaveText('Cell re-generated.');
  await expect(editor).toContainText("ax.set_title('Age by group')");
  expect((await activeCell(page)).index, 'the re-generated cell is selected again').toBe(5);
  await expect(editor).not.toContainText('# my hand edit');
  await expect(marker).toHaveAttribute('data-state', 'generated');
  await expect(marker).not.toContainText('edited by hand');
  now = await modelCells(page);
  expect(now.length).toBe(6);
  expect(now[5].id).toBe(boxId);
  expect(now[5].source).not.toContain('# my hand edit');
  expect(now[5].datadive.inputs).toMatchObject({ value: 'age', title: 'Age by group' });
  await shot(page, 'collab-replaced');

  await saveActive(page);
  const onDisk = await readNotebook(server, nb);
  expect(onDisk.cells.length).toBe(6);
  expect(onDisk.cells[5].id).toBe(boxId);
  expect(onDisk.cells[5].metadata.datadive.inputs.value).toBe('age');
  expect(sourceOf(onDisk.cells[5])).toContain("ax.set_title('Age by group')");
  expect(sourceOf(onDisk.cells[5])).not.toContain('# my hand edit');
});

// ---------------------------------------------------------------------------------
// 3. without collaboration: insert in the browser
// ---------------------------------------------------------------------------------

test.describe('without collaboration', () => {
  test.use({ flavour: 'nocollab' });

  test('3. nocollab: Insert renders in the browser, the notebook is dirty, no "File Changed" dialog', async ({
    page,
    server
  }) => {
    const nb = await copyNotebook(server);
    await openNotebook(page, server, nb);
    expect(await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.context.model.collaborative)).toBe(false);
    const before = await modelCells(page);
    await cells(page).nth(3).locator('.jp-InputPrompt').click();
    const active = await activeCell(page);
    expect(active.index).toBe(3);
    await page.evaluate(() => ((window as any).__marker = 1));
    // JupyterLab itself dirties the notebook when the kernel fills in metadata.language_info:
    // save once, so that only the insert can make it dirty.
    await saveActive(page);
    const tab = page.locator('.jp-mod-current.lm-TabBar-tab');
    await expect(tab).not.toHaveClass(/jp-mod-dirty/);
    expect(await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.context.model.dirty)).toBe(false);

    const sidebar = await openSidebar(page);
    await sidebar.getByTestId('dd-template-search').fill('one-way anova');
    const entry = sidebar.locator('[data-testid="dd-template-item"][data-template-id="stat-one-way-anova"]');
    await entry.locator('.dd-template-head').click();
    await entry.getByTestId('dd-template-use').click();
    const form = sidebar.getByTestId('dd-form');
    await expect(form.locator('.dd-form-title')).toHaveText('One-way ANOVA');
    await expect(form.getByTestId('dd-form-insert')).toHaveAttribute(
      'title',
      'The notebook is not open in a live collaboration room'
    );
    await form.locator('#root_outcome').fill('score');
    await form.locator('#root_group').fill('group');
    await expect(form.getByTestId('dd-form-preview')).toContainText("dv='score', between='group'");
    await shot(page, 'nocollab-form-filled');
    await form.getByTestId('dd-form-insert').click();
    await expect(outcome(form)).toHaveText('Inserted 5 cells.');

    // Five cells (a Markdown heading and four code cells) after df.head(5), the first selected.
    await expect(cells(page)).toHaveCount(11);
    const after = await modelCells(page);
    expect(after[3].id).toBe(active.id);
    expect(after[9].id).toBe(before[4].id);
    const added = after.slice(4, 9);
    expect(added.map(c => c.type)).toEqual(['markdown', 'code', 'code', 'code', 'code']);
    expect(added.map(c => c.datadive?.template)).toEqual(Array(5).fill('stat-one-way-anova'));
    expect(added.map(c => c.datadive?.part)).toEqual([0, 1, 2, 3, 4]);
    expect(added[0].source).toContain('### One-way ANOVA');
    expect(added[0].source).toContain('Do the means of **score** differ between the groups of **group**?');
    expect(added[2].source).toContain("anova = pg.anova(data=stat_data, dv='score', between='group', detailed=True)");
    expect((await activeCell(page)).index).toBe(4);
    await expect(cells(page).nth(4)).toHaveClass(/jp-mod-active/);
    await expect(cells(page).nth(5).getByTestId('dd-cell-marker')).toHaveAttribute('data-state', 'generated');
    await expect(cells(page).nth(5).getByTestId('dd-cell-marker')).toContainText('One-way ANOVA');

    // Unsaved: the model and the tab say so; the file is untouched; no reload, no dialog.
    expect(await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.context.model.dirty)).toBe(true);
    await expect(tab).toHaveClass(/jp-mod-dirty/);
    expect((await readNotebook(server, nb)).cells.length).toBe(6);
    await shot(page, 'nocollab-inserted-dirty');
    await expectNoDialog(page, 3000);
    expect(await page.evaluate(() => (window as any).__marker)).toBe(1);

    await saveActive(page);
    await expect(tab).not.toHaveClass(/jp-mod-dirty/);
    await expectNoDialog(page, 3000);
    const onDisk = await readNotebook(server, nb);
    expect(onDisk.cells.length).toBe(11);
    expect(onDisk.cells[3].id).toBe(active.id);
    for (let i = 4; i < 9; i++) {
      expect(onDisk.cells[i].id).toBe(added[i - 4].id);
      expect(onDisk.cells[i].metadata.datadive.template).toBe('stat-one-way-anova');
      expect(onDisk.cells[i].metadata.datadive.part).toBe(i - 4);
      expect(onDisk.cells[i].metadata.datadive.inputs).toMatchObject({ outcome: 'score', group: 'group' });
      expect(onDisk.cells[i].metadata.datadive.source_hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    expect(sourceOf(onDisk.cells[6])).toContain("dv='score', between='group'");
    expect(await page.evaluate(() => (window as any).__marker)).toBe(1);
    await shot(page, 'nocollab-saved');
  });
});

// ---------------------------------------------------------------------------------
// 5. errors at their fields, keyboard use, untrusted text
// ---------------------------------------------------------------------------------

test('5a. keyboard only; client and server errors at their fields', async ({ page, server }) => {
  const nb = await copyNotebook(server);
  await openNotebook(page, server, nb);
  await cells(page).nth(3).locator('.jp-InputPrompt').click();
  const sidebar = await openSidebar(page);

  // Keyboard only: search, ArrowDown to the first result, Enter expands, Enter opens the form.
  // (focus() because opening the sidebar does not focus the search yet: test 5d.)
  const search = sidebar.getByTestId('dd-template-search');
  await search.focus();
  await page.keyboard.type('box plot');
  await expect(sidebar.getByTestId('dd-template-item').first()).toHaveAttribute('data-template-id', 'boxplot-by-group');
  await page.keyboard.press('ArrowDown');
  const head = sidebar.locator('[data-template-id="boxplot-by-group"] .dd-template-head');
  await expect(head).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(head).toHaveAttribute('aria-expanded', 'true');
  await expect(sidebar.getByTestId('dd-template-preview')).toBeVisible();
  await shot(page, 'keyboard-expanded');
  await page.keyboard.press('Enter');
  const form = sidebar.getByTestId('dd-form');
  await expect(form.locator('.dd-form-title')).toHaveText('Box plot by group');
  // Escape: back to the list, the search kept; Enter in the search opens the first result's form.
  await form.locator('#root_value').focus();
  await page.keyboard.press('Escape');
  await expect(form).toHaveCount(0);
  await expect(search).toHaveValue('box plot');
  await search.focus();
  await page.keyboard.press('Enter');
  await expect(form.locator('.dd-form-title')).toHaveText('Box plot by group');
  // Fields by keyboard: type, Tab, type.
  await form.locator('#root_value').focus();
  await page.keyboard.type('score');
  await page.keyboard.press('Tab');
  await expect(form.locator('#root_group')).toBeFocused();
  await page.keyboard.type('group');
  await expect(form.getByTestId('dd-form-preview')).toContainText("ax.set_ylabel('score')");
  await shot(page, 'keyboard-form-filled');

  // Client: a required field cleared.
  await form.locator('#root_group').fill('');
  await expect(fieldErrors(form, 'group')).toHaveText('is required');
  await expect(fieldErrors(form, 'value')).toHaveCount(0);
  await expect(form.getByTestId('dd-form-preview-empty')).toBeVisible();
  await form.locator('#root_group').fill('group');
  await expect(fieldErrors(form, 'group')).toHaveCount(0);

  // Client: a DataFrame name that is no identifier (the field is under More options).
  await form.locator('details.dd-more-options summary').click();
  await form.locator('#root_df').fill('1 bad name');
  await expect(fieldErrors(form, 'df')).toHaveText(IDENTIFIER_MESSAGE);
  await fieldErrors(form, 'df').scrollIntoViewIfNeeded();
  await shot(page, 'client-error-at-field');
  await form.locator('#root_df').fill('df');
  await expect(fieldErrors(form, 'df')).toHaveCount(0);
  await expect(form.getByTestId('dd-form-preview')).toContainText("ax.set_ylabel('score')");

  // Server, at its field: text the form accepts but no notebook file can store
  // (a lone surrogate): the render answers 400 with /inputs/title.
  await form.locator('#root_title').evaluate((el: HTMLInputElement) => {
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
    setter.call(el, 'Score \ud800');
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await expect(fieldErrors(form, 'title')).toHaveText('is not valid Unicode text (lone surrogate)');
  await expect(form.getByTestId('dd-form-preview-empty')).toHaveText('Fix the fields marked above to see the code.');
  await expect(form.getByTestId('dd-form-error')).toHaveCount(0);
  await fieldErrors(form, 'title').scrollIntoViewIfNeeded();
  await shot(page, 'server-error-at-field');
  await form.locator('#root_title').fill('Score');
  await expect(form.getByTestId('dd-form-preview')).toContainText("ax.set_title('Score')");
  await expect(fieldErrors(form, 'title')).toHaveCount(0);

  // Server: a figure name the pattern allows but the server refuses (it would shadow
  // a builtin). Today the server's error points at the template's cell
  // (/cells/0/source), so the form shows it at the top; were it to point at
  // /inputs/fig_name, it would show under the field: either is right here.
  await form.locator('#root_fig_name').fill('print');
  const shown = form.getByTestId('dd-form-error').or(fieldErrors(form, 'fig_name'));
  await expect(shown).toContainText("invalid name 'print': 'print' would shadow a Python builtin");
  await shown.scrollIntoViewIfNeeded();
  await shot(page, 'server-error-ident');
  // Insert too is refused, with the server's message, and nothing is inserted.
  await form.getByTestId('dd-form-insert').click();
  const actionError = form.getByTestId('dd-form-action-error');
  await expect(actionError).toContainText('template boxplot-by-group could not be rendered');
  await expect(form.getByTestId('dd-form-done')).toHaveCount(0);
  await expect(cells(page)).toHaveCount(6);
  await actionError.scrollIntoViewIfNeeded();
  await shot(page, 'insert-refused-by-the-server');
});

test('5b. a user template with HTML in its title and description shows it as text', async ({ page, server }) => {
  const title = '<img src=x onerror="window.__xss=1">';
  const description = 'A <b>bold</b> claim <script>window.__xss=2</script>';
  const fieldTitle = '<img src=x onerror="window.__xss=3">';
  const id = `xss-${crypto.randomBytes(3).toString('hex')}`;
  const created = await api(server, 'POST', 'api/datadive/templates', {
    id,
    title,
    description,
    category: 'notes',
    tags: ['untrusted'],
    inputs: {
      type: 'object',
      required: ['note'],
      properties: { note: { type: 'string', title: fieldTitle, description: '<i>hint</i>', minLength: 1 } }
    },
    cells: [{ cell_type: 'code', source: 'note = {{ note }}' }],
    examples: [{ inputs: { note: '<b>hi</b>' } }]
  });
  expect(created.status, created.text).toBe(201);

  const nb = await copyNotebook(server);
  await openNotebook(page, server, nb);
  await cells(page).nth(3).locator('.jp-InputPrompt').click();
  page.on('dialog', d => void d.dismiss()); // an alert() would be a script running
  const sidebar = await openSidebar(page);
  await sidebar.getByTestId('dd-template-search').fill('img src');
  const entry = sidebar.locator(`[data-testid="dd-template-item"][data-template-id="${id}"]`);
  await expect(entry).toHaveCount(1);
  const itemTitle = entry.locator('.dd-template-title');
  expect(await itemTitle.evaluate(e => e.textContent)).toBe(title);
  expect(await entry.locator('.dd-template-desc').evaluate(e => e.textContent)).toBe(description);
  await expect(entry.locator('img, b, script')).toHaveCount(0);
  await shot(page, 'untrusted-title-in-gallery');

  await entry.locator('.dd-template-head').click();
  await expect(entry.getByTestId('dd-template-preview')).toContainText("note = '<b>hi</b>'");
  expect(await entry.locator('.dd-template-fulldesc').evaluate(e => e.textContent)).toBe(description);
  await expect(entry.locator('img, b, script')).toHaveCount(0);
  await shot(page, 'untrusted-title-expanded');

  await entry.getByTestId('dd-template-use').click();
  const form = sidebar.getByTestId('dd-form');
  expect(await form.locator('.dd-form-title').evaluate(e => e.textContent)).toBe(title);
  expect(await form.locator('.dd-form-desc').evaluate(e => e.textContent)).toBe(description);
  const noteField = fieldBlock(form, 'note');
  await expect(noteField).toContainText(fieldTitle);
  await expect(noteField).toContainText('<i>hint</i>');
  await form.locator('#root_note').fill('<img src=x onerror="window.__xss=4">');
  await expect(form.getByTestId('dd-form-preview')).toContainText(`note = '<img src=x onerror="window.__xss=4">'`);
  await expect(form.locator('img, b, script, i')).toHaveCount(0);
  await form.getByTestId('dd-form-insert').click();
  await expect(outcome(form)).toHaveText('Inserted 1 cell.');
  const marker = cells(page).nth(4).getByTestId('dd-cell-marker');
  expect(await marker.locator('.dd-marker-title').evaluate(e => e.textContent)).toBe(title);
  await expect(marker.locator('img')).toHaveCount(0);
  await shot(page, 'untrusted-title-form-and-marker');

  await expect(page.locator('img[src="x"]')).toHaveCount(0);
  await page.waitForTimeout(500);
  expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();
});

test('5c. an error under a closed "More options" is shown when Insert is pressed', async ({ page, server }) => {
  const nb = await copyNotebook(server);
  await openNotebook(page, server, nb, { kernel: false });
  await cells(page).nth(3).locator('.jp-InputPrompt').click();
  const sidebar = await openSidebar(page);
  await sidebar.getByTestId('dd-template-search').fill('box plot');
  const entry = sidebar.locator('[data-testid="dd-template-item"][data-template-id="boxplot-by-group"]');
  await entry.locator('.dd-template-head').click();
  await entry.getByTestId('dd-template-use').click();
  const form = sidebar.getByTestId('dd-form');
  await form.locator('#root_value').fill('score');
  await form.locator('#root_group').fill('group');
  const more = form.locator('details.dd-more-options');
  await more.locator('summary').click();
  await form.locator('#root_df').fill('1 bad name');
  await expect(fieldErrors(form, 'df')).toBeVisible();
  // Folded away again, then Insert: the form refuses, and must show why.
  await more.locator('summary').click();
  await expect(form.locator('#root_df')).toBeHidden();
  await form.getByTestId('dd-form-insert').click();
  await expect(fieldErrors(form, 'df'), 'the error of an optional field is visible after Insert').toBeVisible();
  await expect(fieldErrors(form, 'df')).toHaveText(IDENTIFIER_MESSAGE);
  await expect(cells(page)).toHaveCount(6);
  await shot(page, 'error-under-more-options');
});

test('5d. opening the Datadive sidebar puts the focus in the template search', async ({ page, server }) => {
  await openNotebook(page, server, server.demo.notebook, { kernel: false });
  // As from the command palette: datadive:open, then type.
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('datadive:open'));
  const sidebar = page.locator('#datadive-sidebar');
  await expect(sidebar.getByTestId('dd-template-count')).toBeVisible();
  await expect(sidebar.getByTestId('dd-template-search')).toBeFocused();
  await page.keyboard.type('histogram');
  await expect(sidebar.getByTestId('dd-template-item').first()).toHaveAttribute('data-template-id', 'histogram');
  await shot(page, 'focus-on-open');
});
