import { assertValidId, idProblem, InvalidIdError } from '../../lib/ids';

describe('id validation', () => {
  it.each([
    ['visitorId', 'cyNGViYjc4MmU2MzEzZThm'],
    ['sid', 'qCsUrTldTh0UEWLjLCGqkQ'],
    ['sid', 'jnPABZYjQcOS2Uk5fp_HnA.c524460e4432e9f93cf700af590f16ef181f20e6'],
    ['visitorId', 'a~b-c_d.e'],
    ['accountId', '12345678'],
    ['accountId', 'le_site-1'],
  ] as const)('accepts %s %s', (kind, value) => {
    expect(idProblem(kind, value)).toBeUndefined();
  });

  it.each([
    ['visitorId', '', /empty/],
    ['visitorId', '.', /'\.' or '\.\.'/],
    ['sid', '..', /'\.' or '\.\.'/],
    ['visitorId', 'a/b', /'\/'/],
    ['visitorId', '../../admin', /'\/'/],
    ['sid', 'a b', /whitespace/],
    ['sid', 'a\nb', /whitespace or control/],
    ['sid', 'a\u0000b', /control/],
    ['sid', 'x'.repeat(129), /longer than 128/],
    ['visitorId', 'a%2Fb', /may only hold/],
    ['visitorId', 'a?b=c', /may only hold/],
    ['visitorId', 'a#b', /may only hold/],
    ['visitorId', 'é', /may only hold/],
    ['accountId', 'a.b', /may only hold/],
    ['accountId', 'x'.repeat(65), /longer than 64/],
    ['sid', 42, /must be a string/],
    ['sid', null, /must be a string, got null/],
  ] as const)('rejects %s %j', (kind, value, reason) => {
    expect(idProblem(kind, value)).toMatch(reason);
    expect(() => assertValidId(kind, value)).toThrow(InvalidIdError);
  });

  it('never echoes the rejected value', () => {
    expect(() => assertValidId('sid', 'secret stuff/..')).toThrow(/^invalid sid: /);
    try {
      assertValidId('sid', 'secret stuff/..');
    } catch (error) {
      expect((error as Error).message).not.toContain('secret');
    }
  });
});
