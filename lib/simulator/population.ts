/**
 * Who the simulated traffic belongs to: the account (one site, three campaigns) and its visitors' profiles.
 * Each is drawn from a stream of its own, forked by the caller, so a profile's size never shifts later draws.
 */
import type { JsonObject } from '../liveperson/types';
import * as catalog from './catalog';
import { deepFreeze, type Campaign, type VisitorProfile } from './model';
import type { Random } from './random';

export interface SimulatedAccount {
  site: string;
  campaigns: Campaign[];
}

/** The account's site and campaigns (ids in the style of the spec's example). */
export function generateAccount(accountRng: Random): SimulatedAccount {
  const site = accountRng.pick(catalog.SITES);
  const campaigns: Campaign[] = [];
  for (let i = 0; i < 3; i++) {
    const base = accountRng.int(49, 55) * 10_000_000 + accountRng.int(0, 9_999) * 1_000 + 12;
    campaigns.push({
      campaignId: base + 100,
      revision: accountRng.int(1, 300),
      goalId: base + 200,
      vpId: String(base + 300),
      vpRevision: accountRng.int(1, 12),
      vbId: String(base + 400),
      vbRevision: accountRng.int(1, 12),
      oslId: String(base + 500),
      oslRevision: accountRng.int(1, 12),
      engagementIds: [base + 600, base + 700],
      zoneIds: [base + 800, base + 900],
    });
  }
  return { site, campaigns };
}

/** The app session's revision maps (revActiveVPs and the like): id → { revision }. */
export function revisionMap(
  campaigns: Campaign[],
  idKey: 'vpId' | 'vbId' | 'oslId',
  revKey: 'vpRevision' | 'vbRevision' | 'oslRevision',
): JsonObject {
  const out: JsonObject = {};
  for (const c of campaigns) out[c[idKey]] = { revision: c[revKey] };
  return out;
}

/** A new visitor's profile (no sessions yet), drawn from the visitor's own stream `r`. */
export function generateVisitorProfile(visitorId: string, r: Random): VisitorProfile {
  const name = r.pick(catalog.FIRST_NAMES);
  const surname = r.pick(catalog.SURNAMES);
  return {
    visitorId,
    sids: [],
    geo: deepFreeze({ ...r.pick(catalog.GEOS) }),
    device: r.pick(catalog.DEVICES),
    ip: `${r.pick(catalog.IP_FIRST_OCTETS)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`,
    name,
    surname,
    // ASCII local part (Müller → muller): real tags send what the site has, but keep the example's style.
    email: `${name}.${surname}${r.int(1, 99)}@example.com`
      .normalize('NFD')
      .replace(/[^\x20-\x7e]/g, '')
      .toLowerCase(),
    phone: `+1 212-${r.int(200, 999)}-${r.int(1000, 9999)}`,
    gender: r.pick(['MALE', 'FEMALE']),
    company: r.pick(catalog.COMPANIES),
    language: r.pick(catalog.LANGUAGES),
    birth: { year: r.int(1950, 2005), month: r.int(1, 12), day: r.int(1, 28) },
    customerId: `${r.int(100000, 999999)}${r.string('ABCDEFGHJKLMNPQRSTUVWXYZ', 2)}`,
  };
}
