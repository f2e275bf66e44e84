/**
 * The state of a generated cell, by the same rule as the server
 * (`cell_templates.cells.cell_state`): a cell remembers in `metadata.datadive`
 * which template and version made it and the hash of the source it was given.
 */
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils';
import type { CellState } from '../api';

export type { CellState };

export const META_KEY = 'datadive';

export type DatadiveMeta = {
  template: string;
  version?: number;
  part?: number;
  inputs?: Record<string, unknown>;
  source_hash: string;
  locked?: boolean;
};

/** A cell source as one string (nbformat allows a list of lines). */
export function sourceText(source: string | string[] | null | undefined): string {
  if (Array.isArray(source)) {
    return source.join('');
  }
  return typeof source === 'string' ? source : '';
}

/** `"sha256:" + hex(sha256(utf8(text)))`, as the server records it. */
export function sourceHash(source: string | string[] | null | undefined): string {
  return 'sha256:' + bytesToHex(sha256(utf8ToBytes(sourceText(source))));
}

/** The `metadata.datadive` block of a generated cell, or null for a plain cell. */
export function provenance(metadata: unknown): DatadiveMeta | null {
  if (typeof metadata !== 'object' || metadata === null) {
    return null;
  }
  const meta = (metadata as Record<string, unknown>)[META_KEY];
  if (
    typeof meta === 'object' &&
    meta !== null &&
    !Array.isArray(meta) &&
    typeof (meta as Record<string, unknown>).template === 'string' &&
    Object.prototype.hasOwnProperty.call(meta, 'source_hash')
  ) {
    return meta as DatadiveMeta;
  }
  return null;
}

/**
 * `plain`, `generated`, `edited` or `outdated`.
 *
 * `edited` (the source no longer matches the recorded hash) wins over `outdated`,
 * since re-generating would lose the edit. `outdated` needs `latestVersion` greater
 * than the whole-number version recorded in the cell.
 */
export function cellState(
  source: string | string[] | null | undefined,
  metadata: unknown,
  latestVersion?: number | null
): CellState {
  const meta = provenance(metadata);
  if (meta === null) {
    return 'plain';
  }
  if (sourceHash(source) !== meta.source_hash) {
    return 'edited';
  }
  const version = meta.version;
  if (
    typeof latestVersion === 'number' &&
    typeof version === 'number' &&
    Number.isInteger(version) &&
    latestVersion > version
  ) {
    return 'outdated';
  }
  return 'generated';
}
