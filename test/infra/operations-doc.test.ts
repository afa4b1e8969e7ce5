import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { RUNBOOK } from '../../infra/monitoring';
import { synthesize } from './stack-fixture';

/**
 * docs/operations.md and the alarms cannot drift: every alarm in the synthesized template has a runbook section
 * headed by its id (the alarm name without the stack's prefix, also the construct id), every section names an
 * alarm that exists, and each section says what the alarm means, the first three things to check and how to
 * recover.
 */
const { stack, template } = synthesize();
const doc = readFileSync(path.join(__dirname, '..', '..', RUNBOOK), 'utf8');

const alarmIds = Object.values(
  template.findResources('AWS::CloudWatch::Alarm') as Record<string, { Properties: { AlarmName: string } }>,
)
  .map((a) => a.Properties.AlarmName.replace(`${stack.stackName}-`, ''))
  .sort();

/** `## <Id>` sections, each with its text up to the next one. */
function sections(markdown: string): Map<string, string> {
  const found = new Map<string, string>();
  const parts = markdown.split(/^## /m).slice(1);
  for (const part of parts) {
    const newline = part.indexOf('\n');
    found.set(part.slice(0, newline).trim(), part.slice(newline + 1));
  }
  return found;
}

describe(`${RUNBOOK}`, () => {
  const bySection = sections(doc);

  it('has one section per alarm of the stack, and no section for an alarm that does not exist', () => {
    expect(alarmIds.length).toBeGreaterThanOrEqual(23);
    expect([...bySection.keys()].sort()).toEqual(alarmIds);
  });

  it('tells, for each alarm, what it means, the first three things to check and how to recover', () => {
    for (const id of alarmIds) {
      const text = bySection.get(id) ?? '';
      const missing = [
        '**Fires when:**',
        '**What it means:**',
        '**First three checks:**',
        '**Recovery:**',
      ].filter((label) => !text.includes(label));
      expect({ id, missing }).toEqual({ id, missing: [] });
      const checks = text.slice(text.indexOf('**First three checks:**'), text.indexOf('**Recovery:**'));
      expect({ id, checks: checks.match(/^\d+\. /gm) }).toEqual({ id, checks: ['1. ', '2. ', '3. '] });
    }
  });

  it('is where every alarm description points', () => {
    const descriptions = Object.values(
      template.findResources('AWS::CloudWatch::Alarm') as Record<
        string,
        { Properties: Record<string, string> }
      >,
    ).map((a) => a.Properties.AlarmDescription);
    for (const d of descriptions) expect(d).toMatch(/ Runbook: docs\/operations\.md, section \w+\.$/);
  });
});
