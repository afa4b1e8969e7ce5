/**
 * Payload columns and their source paths, as the flattener itself reports them: an answer goes through
 * lib/capture/flatten.ts's `flattenVisitState` with FRESH flatten plans made with a column listener
 * (`newFlattenPlans`), which hears every column of every plan made, so every payload column of the rows it
 * returns. There is no second walk of the answer here: the dictionary's sources are the poller's own.
 */
import {
  flattenVisitState,
  newFlattenPlans,
  type ColumnFact,
  type FlattenInput,
  type FlattenResult,
} from '../../lib/capture/flatten';
import { documentationPolicy } from './documentation-key';

/** Which rows a payload column belongs to. */
export interface ColumnGroup {
  rowType: string;
  eventType?: string;
  childPath?: string;
}

export const groupKey = (g: ColumnGroup): string =>
  [g.rowType, g.eventType ?? '', g.childPath ?? ''].join('\u0000');

export function groupOf(fact: ColumnFact): ColumnGroup {
  return {
    rowType: fact.rowType,
    ...(fact.eventType !== undefined ? { eventType: fact.eventType } : {}),
    ...(fact.childPath !== undefined ? { childPath: fact.childPath } : {}),
  };
}

/**
 * Flattens one answer with fresh plans under the default privacy policy and the documentation key
 * (documentation-key.ts): its rows, and the facts (source path in the answer, `[]` marking array elements,
 * encoding, personal-data category and treatment) of every payload column, dropped ones included, once per plan
 * made (a column of several shapes of object, or of several app sessions, may come more than once).
 */
export function payloadFacts(input: FlattenInput): { facts: ColumnFact[]; flattened: FlattenResult } {
  const facts: ColumnFact[] = [];
  const flattened = flattenVisitState(
    input,
    newFlattenPlans({ privacy: documentationPolicy(), onColumn: (fact) => facts.push(fact) }),
  );
  return { facts, flattened };
}
