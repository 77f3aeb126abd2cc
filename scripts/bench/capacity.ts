/**
 * DynamoDB request units, computed from the items themselves, as DynamoDB
 * bills them on demand (and as dynalite does not report them: it counts the
 * base table only). Pure.
 *
 * - Item size: attribute names (UTF-8) plus values — strings by their UTF-8
 *   length, numbers about one byte per two significant digits plus one, maps
 *   and lists 3 bytes plus 1 per element plus the elements.
 * - Writes: one WRU per started KB of the larger of the old and new item, plus
 *   the index writes the change causes in each GSI (a put of the projected
 *   entry, a delete, or both when an index key changes).
 * - Reads: one RRU per started 4 KB, strongly consistent; half of that for an
 *   eventually consistent read (every GSI query). A read that finds nothing
 *   still costs the minimum.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type Item = Record<string, AttributeValue>;

export interface IndexShape {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  /** ALL: the whole item; KEYS_ONLY: table and index keys; INCLUDE: the keys and `nonKeyAttributes`. */
  readonly projection: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  readonly nonKeyAttributes?: readonly string[];
}

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

/** The size DynamoDB assigns a number: 1 byte per two significant digits, plus 1. */
export function numberSize(text: string): number {
  const digits = text.replace(/^-/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.max(1, Math.ceil(digits.length / 2)) + 1;
}

export function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, entry) => sum + utf8(entry), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, entry) => sum + numberSize(entry), 0);
  if (value.L !== undefined) return 3 + value.L.reduce((sum, entry) => sum + 1 + valueSize(entry), 0);
  if (value.M !== undefined) return 3 + Object.keys(value.M).length + itemSize(value.M);
  return 0;
}

export function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += utf8(name) + valueSize(value);
  return size;
}

function kilobytes(bytes: number, unit: number): number {
  return Math.max(1, Math.ceil(bytes / unit));
}

function inIndex(item: Item | undefined, index: IndexShape): boolean {
  return item !== undefined && item[index.partitionKey] !== undefined && item[index.sortKey] !== undefined;
}

/** The attributes of `item` the index holds. */
function projected(item: Item, index: IndexShape, tableKey: string): Item {
  if (index.projection === 'ALL') return item;
  const names = [tableKey, index.partitionKey, index.sortKey, ...(index.projection === 'INCLUDE' ? (index.nonKeyAttributes ?? []) : [])];
  const entry: Item = {};
  for (const name of names) if (item[name]) entry[name] = item[name];
  return entry;
}

function projectedSize(item: Item, index: IndexShape, tableKey: string): number {
  return itemSize(projected(item, index, tableKey));
}

function sameValue(a: AttributeValue | undefined, b: AttributeValue | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export interface WriteUnits {
  readonly table: number;
  readonly indexes: Readonly<Record<string, number>>;
  readonly total: number;
}

/**
 * WRUs of one write that replaced `before` (absent: a new item) with `after`
 * (absent: a delete).
 */
export function writeUnits(before: Item | undefined, after: Item | undefined, indexes: readonly IndexShape[], tableKey: string): WriteUnits {
  const table = kilobytes(Math.max(before ? itemSize(before) : 0, after ? itemSize(after) : 0), 1_024);
  const perIndex: Record<string, number> = {};
  for (const index of indexes) {
    const was = inIndex(before, index);
    const is = inIndex(after, index);
    let units = 0;
    if (!was && is) units = kilobytes(projectedSize(after!, index, tableKey), 1_024);
    else if (was && !is) units = 1;
    else if (was && is) {
      const keyChanged = !sameValue(before![index.partitionKey], after![index.partitionKey]) || !sameValue(before![index.sortKey], after![index.sortKey]);
      if (keyChanged) units = 1 + kilobytes(projectedSize(after!, index, tableKey), 1_024);
      else if (index.projection !== 'KEYS_ONLY' && JSON.stringify(projected(before!, index, tableKey)) !== JSON.stringify(projected(after!, index, tableKey))) {
        units = kilobytes(projectedSize(after!, index, tableKey), 1_024);
      }
    }
    perIndex[index.name] = units;
  }
  const total = table + Object.values(perIndex).reduce((sum, units) => sum + units, 0);
  return { table, indexes: perIndex, total };
}

/** RRUs of a read returning `items` (none: the minimum), strongly consistent or not. */
export function readUnits(items: readonly Item[], consistent: boolean): number {
  const bytes = items.reduce((sum, item) => sum + itemSize(item), 0);
  return kilobytes(bytes, 4_096) * (consistent ? 1 : 0.5);
}
