import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CONTEXT_PREFIX, loadDeploymentConfig, type DeploymentConfig } from '../../infra/config';
import { LpVisitCaptureStack } from '../../infra/stack';

/** The minimal context a deployment needs (what cdk.json ships). */
export const BASE_CONTEXT: Record<string, unknown> = {
  [`${CONTEXT_PREFIX}accountId`]: '12345678',
  [`${CONTEXT_PREFIX}credentialsSecret`]: 'lp-visit-capture/liveperson',
};

export interface SynthesizedStack {
  app: App;
  stack: LpVisitCaptureStack;
  template: Template;
  config: DeploymentConfig;
}

/**
 * Builds the stack the way infra/app.ts does, from a context, without esbuild bundling
 * ('aws:cdk:bundling-stacks': [] keeps runtime and handler, skips the ~4 s of bundling per function).
 */
export function synthesize(context: Record<string, unknown> = {}): SynthesizedStack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...BASE_CONTEXT, ...context } });
  const config = loadDeploymentConfig(
    (key) => app.node.tryGetContext(key),
    Object.keys(app.node.getAllContext()),
  );
  const stack = new LpVisitCaptureStack(app, 'LpVisitCapture', { config });
  return { app, stack, template: Template.fromStack(stack), config };
}

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

/** The one resource of a type whose logical id contains `idPart`. */
export function resource(
  template: Template,
  type: string,
  idPart: string,
): { logicalId: string; properties: Record<string, unknown> } {
  const all = template.findResources(type) as Resources;
  const matches = Object.entries(all).filter(([id]) => id.includes(idPart));
  if (matches.length !== 1) {
    throw new Error(
      `expected one ${type} with "${idPart}" in its id, found ${matches.map(([id]) => id).join(', ') || 'none'}`,
    );
  }
  const [logicalId, value] = matches[0]!;
  return { logicalId, properties: value.Properties };
}

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Every statement of the inline policies attached to the role with logical id `roleId`. */
export function statementsOfRole(template: Template, roleId: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy') as Resources;
  return Object.values(policies)
    .filter((p) =>
      (p.Properties.Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId })),
    )
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

export function actionsOf(statement: Statement): string[] {
  return (Array.isArray(statement.Action) ? statement.Action : [statement.Action]).slice().sort();
}
