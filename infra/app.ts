import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ContextError, loadDeploymentConfig, type DeploymentConfig } from './config';
import { LpVisitCaptureStack } from './stack';

/**
 * `cdk synth` / `cdk deploy` entry point (cdk.json: `npx tsx infra/app.ts`). Settings come from the CDK context
 * (cdk.json, or `-c lpv:key=value`); cdk-nag's AwsSolutions checks run on every synthesis and fail it on a
 * finding that is not acknowledged (with a reason) in the construct that owns it.
 */
const app = new App();
let config: DeploymentConfig;
try {
  config = loadDeploymentConfig((key) => app.node.tryGetContext(key), Object.keys(app.node.getAllContext()));
} catch (error) {
  if (!(error instanceof ContextError)) throw error;
  // A bad setting is the operator's to fix: the message names the key and the value, a stack trace adds nothing.
  console.error(`lp-visit-capture: ${error.message}`);
  process.exit(1);
}
new LpVisitCaptureStack(app, 'LpVisitCapture', {
  config,
  description: 'lp-visit-capture: captures LivePerson visit information before it expires',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
