/**
 * DynamoDB's item size rules, for the storage a run leaves (figure 7, the dollar model's storage lines):
 * DynamoDB Local reports no table size, so the bench scans the tables and adds up the sizes itself.
 *
 * Rules (Amazon DynamoDB Developer Guide, "Item sizes and formats"): an attribute is its name's UTF-8 bytes plus
 * its value; a string is its UTF-8 bytes, a number about one byte per two significant digits plus one, binary its
 * bytes, a boolean or null one byte, a list or map 3 bytes plus one per element plus its elements (a map's keys
 * counted as names). Storage adds 100 bytes of overhead per item, in the table and in every index that holds it
 * (an index entry: its projected attributes, here ALL, plus 100 bytes).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export const ITEM_OVERHEAD_BYTES = 100;

function numberBytes(text: string): number {
  const digits = text
    .replace(/^-/, '')
    .replace(/e.*$/i, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

export function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return numberBytes(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((a, s) => a + Buffer.byteLength(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((a, n) => a + numberBytes(n), 0);
  if (value.BS !== undefined) return value.BS.reduce((a, b) => a + b.byteLength, 0);
  if (value.L !== undefined) return 3 + value.L.reduce((a, v) => a + 1 + valueBytes(v), 0);
  if (value.M !== undefined)
    return 3 + Object.entries(value.M).reduce((a, [k, v]) => a + 1 + Buffer.byteLength(k) + valueBytes(v), 0);
  return 0;
}

/** An item's size as DynamoDB counts it for capacity (no overhead). */
export function itemBytes(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce(
    (a, [name, value]) => a + Buffer.byteLength(name) + valueBytes(value),
    0,
  );
}
