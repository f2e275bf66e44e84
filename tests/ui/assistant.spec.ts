/**
 * Scenario 4 of issue 10: the assistant panel on the demo CSV (flavour collab).
 *
 * Choose study.csv, read its profile (one row per column: inferred level, reason,
 * sparkline), pick the outcome and the group, ask for suggestions, check the cards
 * and their assumption checks, insert the top one (a `load-csv` cell reading the
 * file into `study`, then the test's cells on `study`, below the active cell), run
 * the inserted cells and see the test's output. Then a DataFrame of the notebook's
 * kernel as the source, and the server's errors shown in the panel: a refused
 * question (an identifier as the outcome) and a data file that cannot be read.
 *
 * Expected figures come from the Python library on the same generated data
 * (`cell_templates.assistant.suggest(demo, 'score', predictors=['group'])`):
 * one_way_anova, welch_anova, kruskal_wallis; Shapiro-Wilk per group and Levene
 * all pass (p = .364, .642, .562, .444); eta squared 0.333; Tukey HSD.
 */
import { Locator, Page } from '@playwright/test';
import {
  api,
  cells,
  copyNotebook,
  execCommand,
  expect,
  leftTab,
  notebookPanel,
  openNotebook,
  shot,
  test,
  waitKernelIdle
} from './helpers';

/** Open the Datadive sidebar on its Assistant section; returns the section's root. */
async function openAssistant(page: Page): Promise<Locator> {
  await leftTab(page, 'datadive-sidebar').click();
  await expect(page.locator('#datadive-sidebar')).toBeVisible();
  await page.locator('[data-testid=dd-tab-assistant]').click();
  await expect(page.locator('[data-testid=dd-tab-assistant]')).toHaveAttribute('aria-selected', 'true');
  const panel = page.locator('#datadive-sidebar .dd-assistant');
  await expect(panel).toBeVisible();
  return panel;
}

/** The source select, once it offers `label` (files load asynchronously). */
async function chooseSource(page: Page, label: string): Promise<string> {
  const select = page.locator('[data-testid=dd-assistant-source]');
  await expect(select.locator('option', { hasText: new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) })).toHaveCount(1);
  const [value] = await select.selectOption({ label });
  return value;
}

/** The notebook model's cells as plain data: id, type, source, metadata.datadive, execution count. */
async function modelCells(page: Page): Promise<
  { id: string; type: string; source: string; datadive: any; executionCount: number | null }[]
> {
  return page.evaluate(() => {
    const app = (window as any).jupyterapp;
    const nb = app.shell.currentWidget.content;
    const out = [];
    for (let i = 0; i < nb.model.cells.length; i++) {
      const c = nb.model.cells.get(i);
      const meta = c.sharedModel.getMetadata();
      out.push({
        id: c.id,
        type: c.type,
        source: c.sharedModel.getSource(),
        datadive: meta?.datadive ?? null,
        executionCount: c.type === 'code' ? (c.executionCount ?? null) : null
      });
    }
    return out;
  });
}

async function activeCellIndex(page: Page): Promise<number> {
  return page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.activeCellIndex);
}

async function setActiveCell(page: Page, index: number): Promise<void> {
  await page.evaluate(i => {
    const nb = (window as any).jupyterapp.shell.currentWidget.content;
    nb.deselectAll();
    nb.activeCellIndex = i;
    nb.mode = 'command';
  }, index);
}

/** Error outputs (tracebacks) of the active notebook, as text. */
async function errorOutputs(page: Page): Promise<string[]> {
  const nb = notebookPanel(page);
  const errors = nb.locator(
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"], ' +
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
  );
  const texts = await errors.allInnerTexts();
  return texts.filter(t => /Traceback|Error\b|Exception/.test(t));
}

test.describe('assistant panel (collab)', () => {
  test.use({ flavour: 'collab' });

  test('suggests a test for the demo CSV, inserts the top one and runs it', async ({ page, server }) => {
    test.setTimeout(150_000);
    const nb = await copyNotebook(server);
    await openNotebook(page, server, nb);
    const assistant = await openAssistant(page);
    await shot(page, 'assistant-open');

    // ---- step 1: data -------------------------------------------------------------
    const value = await chooseSource(page, 'study.csv');
    expect(value).toMatch(new RegExp(`^file:${server.demo.id}:${server.demo.csv.replace(/\./g, '\\.')}$`));
    const profile = assistant.locator('[data-testid=dd-profile]');
    await expect(profile).toBeVisible();
    await expect(assistant.locator('.dd-assistant-meta')).toHaveText('90 rows · 5 columns');
    const rows = profile.locator('[data-testid=dd-profile-row]');
    await expect(rows).toHaveCount(5);
    expect(await rows.evaluateAll(rs => rs.map(r => r.getAttribute('data-column')))).toEqual([
      'subject',
      'group',
      'sex',
      'age',
      'score'
    ]);
    const expected: Record<string, { level: string; reason: RegExp; spark: 'histogram' | 'bar' | null; bars?: number }> = {
      subject: { level: 'identifier', reason: /identifier/, spark: null },
      group: { level: 'nominal', reason: /text categories \(3 values\)/, spark: 'bar', bars: 3 },
      sex: { level: 'binary', reason: /two values/, spark: 'bar', bars: 2 },
      age: { level: 'ratio', reason: /whole numbers/, spark: 'histogram' },
      score: { level: 'ratio', reason: /continuous values/, spark: 'histogram' }
    };
    for (const [column, want] of Object.entries(expected)) {
      const row = profile.locator(`[data-testid=dd-profile-row][data-column="${column}"]`);
      const level = row.locator('.dd-assistant-level');
      await expect(level, `level of ${column}`).toHaveText(want.level);
      // the reason: on hover (title) and for screen readers
      await expect(level).toHaveAttribute('title', want.reason);
      await expect(row.locator('.jp-sr-only').filter({ hasText: want.reason })).toHaveCount(1);
      await expect(row.locator('.dd-assistant-num')).toHaveText('0'); // nothing missing
      if (want.spark) {
        const svg = row.locator(`svg.dd-assistant-spark-${want.spark}`);
        await expect(svg, `a ${want.spark} sparkline for ${column}`).toHaveCount(1);
        const bars = await svg.locator('rect').count();
        if (want.bars !== undefined) {
          expect(bars, `bars of ${column}`).toBe(want.bars);
        } else {
          expect(bars, `histogram bins of ${column}`).toBeGreaterThanOrEqual(5);
        }
        // at least one bar with a height
        const tallest = await svg.locator('rect').evaluateAll(rs => Math.max(...rs.map(r => Number(r.getAttribute('height')))));
        expect(tallest).toBeGreaterThan(0);
      } else {
        await expect(row.locator('svg')).toHaveCount(0);
      }
    }
    await shot(page, 'profile-of-study-csv');

    // ---- step 2: question ---------------------------------------------------------
    await assistant.locator('[data-testid=dd-outcome]').selectOption('score');
    await expect(profile.locator('[data-column=score]')).toHaveClass(/dd-assistant-row-outcome/);
    await expect(assistant.locator('[data-testid=dd-predictor-score]')).toBeDisabled();
    await assistant.locator('[data-testid=dd-predictor-group]').check();
    await expect(assistant.locator('.dd-assistant-value')).toHaveText('group');
    await expect(assistant.locator('[data-testid=dd-suggest]')).toBeEnabled();
    await shot(page, 'outcome-score-predictor-group');

    // ---- step 3: suggestions ------------------------------------------------------
    await assistant.locator('[data-testid=dd-suggest]').click();
    const cards = assistant.locator('[data-testid=dd-suggestion]');
    await expect(cards.first()).toBeVisible();
    expect(await cards.evaluateAll(cs => cs.map(c => c.getAttribute('data-test')))).toEqual([
      'one_way_anova',
      'welch_anova',
      'kruskal_wallis'
    ]);
    const top = cards.first();
    await expect(top).toHaveAttribute('data-test', 'one_way_anova');
    await expect(top.locator('.dd-assistant-card-title')).toHaveText('One-way ANOVA');
    await expect(top.locator('.dd-assistant-badge-top')).toHaveText('recommended');
    await expect(top.locator('.dd-assistant-rationale')).toContainText("'score' is ratio and 'group' defines 3 independent groups");
    const checks = top.locator('[data-testid=dd-assumption]');
    await expect(checks).toHaveCount(4);
    expect(await checks.evaluateAll(cs => cs.map(c => c.getAttribute('data-passed')))).toEqual(['true', 'true', 'true', 'true']);
    await expect(checks.nth(0)).toContainText('normality (group = control)');
    await expect(checks.nth(0).locator('.dd-assistant-check-figures')).toHaveText('0.963, p = .364');
    await expect(checks.nth(3)).toContainText('equal variances');
    await expect(checks.nth(3).locator('.dd-assistant-check-figures')).toHaveText('0.820, p = .444');
    await expect(checks.nth(3).locator('.dd-assistant-check-mark')).toHaveText('✓');
    await expect(top.locator('.dd-assistant-facts')).toContainText('eta squared = 0.333');
    await expect(top.locator('.dd-assistant-facts')).toContainText('Tukey HSD');
    // only the first card is expanded
    await expect(cards.nth(1).locator('.dd-assistant-card-body')).toHaveCount(0);
    await expect(cards.nth(1).locator('.dd-assistant-card-toggle')).toHaveAttribute('aria-expanded', 'false');
    await shot(page, 'suggestions-one-way-anova-first');

    // ---- insert the top suggestion below the active cell ---------------------------
    const before = await modelCells(page);
    const activeAt = 1; // the demo's first code cell (its own load-csv into df)
    await setActiveCell(page, activeAt);
    expect(await activeCellIndex(page)).toBe(activeAt);
    await top.locator('[data-testid=dd-suggestion-insert]').click();
    await expect(top.locator('.dd-assistant-done')).toHaveText(
      'Inserted 2 cells below the active cell: the first reads study.csv into study, the second runs the test on it. Run both.'
    );
    await expect(top.locator('[data-testid=dd-assistant-error]')).toHaveCount(0);
    // load-csv (1 cell) + stat-one-way-anova (markdown + 4 code cells)
    await expect(cells(page)).toHaveCount(before.length + 6);
    const after = await modelCells(page);
    expect(after.slice(0, activeAt + 1).map(c => c.id)).toEqual(before.slice(0, activeAt + 1).map(c => c.id));
    expect(after.slice(activeAt + 7).map(c => c.id)).toEqual(before.slice(activeAt + 1).map(c => c.id));
    const inserted = after.slice(activeAt + 1, activeAt + 7);
    expect(inserted.map(c => c.datadive?.template)).toEqual([
      'load-csv',
      'stat-one-way-anova',
      'stat-one-way-anova',
      'stat-one-way-anova',
      'stat-one-way-anova',
      'stat-one-way-anova'
    ]);
    expect(inserted.map(c => c.type)).toEqual(['code', 'markdown', 'code', 'code', 'code', 'code']);
    expect(inserted[0].datadive.inputs).toMatchObject({ path: 'study.csv', name: 'study' });
    expect(inserted[0].source).toMatch(/^study = pd\.read_csv\(\s*'study\.csv'/m);
    for (const c of inserted.slice(1)) {
      expect(c.datadive.inputs).toMatchObject({ df: 'study', outcome: 'score', group: 'group' });
    }
    expect(inserted[2].source).toContain("stat_data = study[['score', 'group']]");
    // the server path (live room): the cells came from the cells REST API, so the server journaled them
    const history = await api(
      server,
      'GET',
      `api/datadive/projects/${server.demo.id}/notebooks/${encodeURIComponent(nb.slice(server.demo.dir.length + 1))}/history`
    );
    expect(history.ok, `history: HTTP ${history.status} ${history.text.slice(0, 300)}`).toBe(true);
    const ops = JSON.stringify(history.body);
    expect(ops).toContain('load-csv');
    expect(ops).toContain('stat-one-way-anova');
    await shot(page, 'inserted-load-csv-and-anova');

    // ---- run the inserted cells, from the load-csv one ----------------------------------
    await setActiveCell(page, activeAt + 1);
    for (let i = 0; i < inserted.length; i++) {
      await execCommand(page, 'notebook:run-cell-and-select-next');
    }
    await waitKernelIdle(page, 90_000);
    const ran = (await modelCells(page)).slice(activeAt + 1, activeAt + 7);
    for (const c of ran.filter(c => c.type === 'code')) {
      expect(c.executionCount, `execution count of a ${c.datadive?.template} cell`).not.toBeNull();
    }
    const nbCells = cells(page);
    const assumptionsCell = nbCells.nth(activeAt + 3);
    const anovaCell = nbCells.nth(activeAt + 4);
    const posthocCell = nbCells.nth(activeAt + 5);
    const plotCell = nbCells.nth(activeAt + 6);
    await expect(assumptionsCell.locator('.jp-OutputArea-output')).toContainText('Shapiro-Wilk');
    await expect(assumptionsCell.locator('.jp-OutputArea-output')).toContainText('Levene (median)');
    const anovaOutput = anovaCell.locator('.jp-OutputArea-output');
    await expect(anovaOutput.first()).toContainText(/F\(2, 87\) = \d+\.\d{3}, p = [\d.e-]+, partial eta2 = 0\.333/);
    await expect(anovaOutput.last()).toContainText('omega2');
    await expect(posthocCell.locator('.jp-OutputArea-output')).toContainText('p_tukey');
    await expect(plotCell.locator('.jp-OutputArea-output img')).toHaveCount(1);
    expect(await errorOutputs(page), 'no traceback in any output').toEqual([]);
    await anovaCell.scrollIntoViewIfNeeded();
    await shot(page, 'anova-output');
  });

  test('profiles a DataFrame of the kernel, and shows the server errors', async ({ page, server }) => {
    test.setTimeout(120_000);
    const nb = await copyNotebook(server);
    const broken = `${server.demo.dir}/broken-${Date.now().toString(36)}.parquet`;
    const put = await api(server, 'PUT', `api/contents/${broken}`, {
      type: 'file',
      format: 'text',
      content: 'this is not a parquet file\n'
    });
    expect(put.ok, put.text).toBe(true);
    try {
      await openNotebook(page, server, nb);

      // ---- a DataFrame made in the kernel ----------------------------------------------
      const code = "df2 = __import__('pandas').DataFrame({'x': [1, 2, 3]})";
      await page.evaluate(() => {
        const nbw = (window as any).jupyterapp.shell.currentWidget.content;
        nbw.activeCellIndex = nbw.model.cells.length - 1;
      });
      await execCommand(page, 'notebook:insert-cell-below');
      await page.evaluate(source => {
        const nbw = (window as any).jupyterapp.shell.currentWidget.content;
        nbw.activeCell.model.sharedModel.setSource(source);
      }, code);
      await execCommand(page, 'notebook:run-cell');
      await waitKernelIdle(page);
      await expect(cells(page).last()).toContainText('df2 = ');

      const assistant = await openAssistant(page);
      await assistant.locator('[data-testid=dd-assistant-refresh]').click();
      const select = assistant.locator('[data-testid=dd-assistant-source]');
      await expect(select.locator('optgroup[label="DataFrames in the notebook\'s kernel"] option', { hasText: 'df2' })).toHaveCount(1);
      const [value] = await select.selectOption({ label: 'df2' });
      expect(value).toBe('kernel:df2');
      const profile = assistant.locator('[data-testid=dd-profile]');
      await expect(profile).toBeVisible();
      await expect(assistant.locator('.dd-assistant-meta')).toHaveText('3 rows · 1 column');
      const rows = profile.locator('[data-testid=dd-profile-row]');
      await expect(rows).toHaveCount(1);
      await expect(rows.first()).toHaveAttribute('data-column', 'x');
      await expect(rows.first().locator('.dd-assistant-level')).toHaveText('ordinal');
      await expect(rows.first().locator('svg.dd-assistant-spark rect')).toHaveCount(3);
      await shot(page, 'kernel-dataframe-df2');

      // ---- the server refuses the question: an identifier as the outcome --------------
      await chooseSource(page, 'study.csv');
      await expect(profile.locator('[data-testid=dd-profile-row]')).toHaveCount(5);
      await assistant.locator('[data-testid=dd-outcome]').selectOption('subject');
      await assistant.locator('[data-testid=dd-predictor-group]').check();
      await assistant.locator('[data-testid=dd-suggest]').click();
      const suggestError = assistant.locator('[data-testid=dd-assistant-error][data-step=suggest]');
      await expect(suggestError).toBeVisible();
      await expect(suggestError.locator('.dd-assistant-error-title')).toHaveText('Could not suggest a test');
      await expect(suggestError).toContainText("'subject' is identifier");
      await expect(suggestError).toContainText('it cannot be an outcome');
      await expect(suggestError.locator('.dd-assistant-error-foot')).toContainText(/^4\d\d \w+/);
      await expect(assistant.locator('[data-testid=dd-suggestion]')).toHaveCount(0);
      await shot(page, 'suggest-refused-identifier-outcome');

      // ---- a data file that cannot be read ---------------------------------------------
      await assistant.locator('[data-testid=dd-assistant-refresh]').click();
      const name = broken.slice(server.demo.dir.length + 1);
      await chooseSource(page, name);
      const profileError = assistant.locator('[data-testid=dd-assistant-error][data-step=profile]');
      await expect(profileError).toBeVisible();
      await expect(profileError.locator('.dd-assistant-error-title')).toHaveText(`Could not profile ${name}`);
      await expect(profileError.locator('.dd-assistant-error-message')).toContainText('could not be read as parquet');
      await expect(profileError.locator('.dd-assistant-error-foot')).toContainText(/^4\d\d \w+/);
      await expect(profileError.getByRole('button', { name: 'Try again' })).toBeVisible();
      await expect(assistant.locator('[data-testid=dd-profile]')).toHaveCount(0);
      await shot(page, 'profile-error-broken-parquet');
    } finally {
      await api(server, 'DELETE', `api/contents/${broken}`);
    }
  });
});

