import { describe, expect, it } from 'vitest';
import { cellState, provenance, sourceHash, sourceText } from '../src/logic/cellState';

// Expected hashes computed with the server's own function:
//   python -c "from cell_templates.cells import source_hash; print(source_hash(...))"
const HASH_PRINT_1 = 'sha256:d287bb7f9d15abdc5b6e98536263815744b6ef21c8f3c839fc434ca70d8efe99'; // 'print(1)'
const HASH_EMPTY = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'; // ''
const HASH_NON_ASCII = 'sha256:ef810d523b7440a8601b017ffe43f18a60d74b6a436247de2de4263a9402003b'; // 'café = "日本"\n'
const HASH_TWO_LINES = 'sha256:cdd564f7ba84fdb46ac2218f2749e02f94d9309a58d9dfa4fd80dd1bbf36334f'; // the two lines below
const HASH_EMOJI = 'sha256:f0443a342c5ef54783a111b51ba56c938e474c32324d90c3a60c9c8e3a37e2d9'; // '😀'
const HASH_X1 = 'sha256:9e26bf369911c45c243c684147b23fc9e1dcfcf257d299a1c632016a6fcd33f4'; // 'x = 1\n'

const LINES = ['import pandas as pd\n', 'df = pd.read_csv("a.csv")'];

describe('sourceText', () => {
  it('joins a list of lines and passes strings through', () => {
    expect(sourceText(LINES)).toBe('import pandas as pd\ndf = pd.read_csv("a.csv")');
    expect(sourceText('abc')).toBe('abc');
    expect(sourceText([])).toBe('');
    expect(sourceText(undefined)).toBe('');
    expect(sourceText(null)).toBe('');
  });
});

describe('sourceHash (same as the Python source_hash)', () => {
  it('hashes ASCII', () => {
    expect(sourceHash('print(1)')).toBe(HASH_PRINT_1);
    expect(sourceHash('x = 1\n')).toBe(HASH_X1);
  });
  it('hashes the empty source', () => {
    expect(sourceHash('')).toBe(HASH_EMPTY);
    expect(sourceHash([])).toBe(HASH_EMPTY);
  });
  it('hashes non-ASCII text as UTF-8', () => {
    expect(sourceHash('café = "日本"\n')).toBe(HASH_NON_ASCII);
    expect(sourceHash('😀')).toBe(HASH_EMOJI);
  });
  it('hashes a list of lines like the joined string', () => {
    expect(sourceHash(LINES)).toBe(HASH_TWO_LINES);
    expect(sourceHash(LINES.join(''))).toBe(HASH_TWO_LINES);
  });
});

describe('provenance', () => {
  it('returns the datadive block of a generated cell', () => {
    const meta = { template: 'histogram', version: 2, part: 0, inputs: { column: 'a' }, source_hash: HASH_X1 };
    expect(provenance({ datadive: meta, tags: [] })).toBe(meta);
  });
  it('is null for plain cells and malformed blocks', () => {
    expect(provenance({})).toBeNull();
    expect(provenance(undefined)).toBeNull();
    expect(provenance(null)).toBeNull();
    expect(provenance({ datadive: 'histogram' })).toBeNull();
    expect(provenance({ datadive: [] })).toBeNull();
    expect(provenance({ datadive: { template: 3, source_hash: HASH_X1 } })).toBeNull();
    expect(provenance({ datadive: { template: 'histogram' } })).toBeNull();
    expect(provenance({ datadive: { source_hash: HASH_X1 } })).toBeNull();
  });
});

describe('cellState', () => {
  const meta = (extra: Record<string, unknown> = {}) => ({
    datadive: { template: 'histogram', version: 3, inputs: {}, source_hash: HASH_X1, ...extra }
  });

  it('plain without provenance', () => {
    expect(cellState('x = 1\n', {})).toBe('plain');
    expect(cellState('x = 1\n', { datadive: { template: 'h' } }, 9)).toBe('plain');
  });

  it('generated when the source matches and no newer version is known', () => {
    expect(cellState('x = 1\n', meta())).toBe('generated');
    expect(cellState(['x = ', '1\n'], meta())).toBe('generated');
    expect(cellState('x = 1\n', meta(), 3)).toBe('generated');
    expect(cellState('x = 1\n', meta(), 2)).toBe('generated');
  });

  it('edited when the source differs from the recorded hash', () => {
    expect(cellState('x = 2\n', meta())).toBe('edited');
    expect(cellState('x = 1', meta())).toBe('edited');
  });

  it('outdated when a newer version exists', () => {
    expect(cellState('x = 1\n', meta(), 4)).toBe('outdated');
  });

  it('edited wins over outdated', () => {
    expect(cellState('x = 2\n', meta(), 4)).toBe('edited');
  });

  it('never outdated without a whole-number recorded version', () => {
    expect(cellState('x = 1\n', meta({ version: undefined }), 4)).toBe('generated');
    expect(cellState('x = 1\n', meta({ version: '3' }), 4)).toBe('generated');
    expect(cellState('x = 1\n', meta({ version: 2.5 }), 4)).toBe('generated');
  });

  it('a recorded hash that is not a string means edited', () => {
    expect(cellState('x = 1\n', meta({ source_hash: null }))).toBe('edited');
  });
});
