import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = join(__dirname, '..', 'src', 'logic');
const files = readdirSync(dir).filter(f => f.endsWith('.ts'));

describe('logic modules', () => {
  it('exist', () => {
    expect(files.sort()).toEqual(
      expect.arrayContaining(['cellState.ts', 'columns.ts', 'errors.ts', 'formSchema.ts', 'gallery.ts', 'histogram.ts', 'insertPath.ts'])
    );
  });

  it('import no JupyterLab, Lumino or React code, and api.ts only for types', () => {
    for (const file of files) {
      const text = readFileSync(join(dir, file), 'utf8');
      const imports = [...text.matchAll(/^\s*import\s+(type\s+)?[^'"]*['"]([^'"]+)['"]/gm)];
      for (const [, typeOnly, from] of imports) {
        expect(from, file).not.toMatch(/^@jupyterlab\/|^@lumino\/|^react(-dom)?$|^@rjsf\//);
        if (from === '../api') {
          expect(typeOnly, `${file} imports ../api for values`).toBeTruthy();
        }
      }
    }
  });
});
