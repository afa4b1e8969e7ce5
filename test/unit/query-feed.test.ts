import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import { feedRow, handler } from '../../lib/query/feed';
import { partitionOf } from '../../lib/query/partition';

const record = (
  eventName: DynamoDBRecord['eventName'],
  image?: Record<string, AttributeValue>,
): DynamoDBRecord => ({
  eventName,
  dynamodb: image ? { NewImage: image } : {},
});

describe('the S3 feed enrichment', () => {
  const image: Record<string, AttributeValue> = {
    pk: { S: 'S#1#sid1' },
    sk: { S: 'EVENT#purchase#0001710028800000#abc#0' },
    gsi2pk: { S: 'E#1#purchase#2024-03-10#3' },
    gsi2sk: { S: 'x' },
    total: { N: '11.7' },
    orderId: { S: 'DRV1534XC' },
    rowType: { S: 'event' },
    sid: { S: 'sid1' },
    serverTimeStamp: { N: '1710028800000' },
    capturedAtMs: { N: '1710028900000' },
    currency: { NULL: true },
    repeated: { BOOL: false },
  };

  it('turns a new image into the analyst row of lpv export (no storage attributes, stable order)', () => {
    const row = feedRow(record('INSERT', image));
    expect(row).toEqual({
      rowType: 'event',
      sid: 'sid1',
      serverTimeStamp: 1710028800000,
      capturedAtMs: 1710028900000,
      currency: null,
      orderId: 'DRV1534XC',
      repeated: false,
      total: 11.7,
    });
    expect(Object.keys(row ?? {})).toEqual([
      'rowType',
      'sid',
      'serverTimeStamp',
      'capturedAtMs',
      'currency',
      'orderId',
      'repeated',
      'total',
    ]);
    expect(partitionOf(row ?? {})).toEqual({ rowType: 'event', dt: '2024-03-10' });
  });

  it('forwards inserts and modifications, not removals', async () => {
    const rows = await handler([
      record('INSERT', image),
      record('REMOVE', image),
      record('MODIFY', image),
      record('MODIFY'),
    ]);
    expect(rows).toHaveLength(2);
  });
});
