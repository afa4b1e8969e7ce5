import type { JsonObject } from '../../lib/liveperson/types';
import { SimulatedWorld, type LookupResult } from '../../lib/simulator/world';

/** The personal values one session's answers carry in a DistinctiveWorld. */
export interface DistinctiveValues {
  name: string;
  surname: string;
  email: string;
  phone: string;
  customerId: string;
  userName: string;
  ip: string;
}

/**
 * A simulated world whose answers carry, for every session, personal values no other text could hold by chance
 * (`Quintessa`, `CUST-7731-QX…`), in every place the spec puts them: the app session's personalInfo and
 * customerInfo, its ipv4/lpv4, and the bodies of personalInfo and customerInfo events. What the simulator serves
 * is the world's answer (well-formed, or cut up into a malformed body), so every path of the poller sees them.
 * A leak test then looks for these values, and for the session's ids, wherever the pipeline writes.
 */
export class DistinctiveWorld extends SimulatedWorld {
  private readonly bySid = new Map<string, DistinctiveValues>();

  /** The values of a session's answers (made at its first lookup, or now). */
  valuesOf(sid: string): DistinctiveValues {
    let values = this.bySid.get(sid);
    if (values === undefined) {
      const n = this.bySid.size + 1;
      const tag = String(n).padStart(3, '0');
      values = {
        name: `Quintessa${tag}`,
        surname: `Vandermolen${tag}`,
        email: `quintessa.v${tag}@example.org`,
        phone: `+1 212-555-0${tag}`,
        customerId: `CUST-7731-QX${tag}`,
        userName: `qvander77x${tag}`,
        ip: `203.0.113.${n}`,
      };
      this.bySid.set(sid, values);
    }
    return values;
  }

  /** Every distinctive value served so far. */
  allValues(): string[] {
    return [...this.bySid.values()].flatMap((v) => Object.values(v));
  }

  override lookup(accountId: string, visitorId: string, sid: string, atMs: number): LookupResult {
    const result = super.lookup(accountId, visitorId, sid, atMs);
    if (result.kind !== 'ok') return result;
    // The world's answers are frozen and shared with its history: change a copy.
    const state = JSON.parse(JSON.stringify(result.state)) as { appSessions: JsonObject[] };
    const v = this.valuesOf(sid);
    const personal = { name: v.name, surname: v.surname, contacts: [{ email: v.email, phone: v.phone }] };
    const customer = { customerId: v.customerId, userName: v.userName };
    for (const app of state.appSessions) {
      app.personalInfo = {
        personalInfo: {
          ...((app.personalInfo as JsonObject | null)?.personalInfo as JsonObject),
          ...personal,
        },
      };
      app.customerInfo = {
        customerInfo: {
          ...((app.customerInfo as JsonObject | null)?.customerInfo as JsonObject),
          ...customer,
        },
      };
      if ('lpv4' in app) app.lpv4 = v.ip;
      else app.ipv4 = v.ip;
      for (const event of (app.events ?? []) as JsonObject[]) {
        const personalBody = event.personalInfo as JsonObject | undefined;
        if (personalBody?.personalInfo !== undefined) {
          personalBody.personalInfo = { ...(personalBody.personalInfo as JsonObject), ...personal };
        }
        const customerBody = event.customerInfo as JsonObject | undefined;
        if (customerBody?.customerInfo !== undefined) {
          customerBody.customerInfo = { ...(customerBody.customerInfo as JsonObject), ...customer };
        }
      }
    }
    return { kind: 'ok', state: state as unknown as typeof result.state };
  }
}
