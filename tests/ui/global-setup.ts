/**
 * Once per run: check that the browser and the Jupyter environment exist (with a
 * message saying how to get them), give the run an id (screenshot folders of an
 * earlier run are emptied on first use) and print where the screenshots go.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FullConfig } from '@playwright/test';
import { jupyterBin } from './server';

export default async function globalSetup(config: FullConfig): Promise<void> {
  const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(chromium)) {
    throw new Error(`${chromium} is missing: \`apt-get install chromium\` (or set CHROMIUM), or run \`make test-ui\``);
  }
  const jupyter = jupyterBin();
  if (!fs.existsSync(jupyter)) {
    throw new Error(`${jupyter} is missing: run \`make install-test\` (or set DATADIVE_VENV)`);
  }
  process.env.DATADIVE_UI_RUN_ID = `${Date.now()}-${process.pid}`;
  const dir = path.join(__dirname, 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  console.log(`Datadive UI tests: screenshots in ${dir}/<spec>/ ; traces of failures in ${config.projects[0]?.outputDir ?? path.join(__dirname, 'test-results')}`);
}
