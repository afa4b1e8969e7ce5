import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Repository root: entries, package.json and package-lock.json live there. */
export const PROJECT_ROOT = path.resolve(__dirname, '..');

/** The current Node.js runtime on Lambda (22 is the other supported one; 20 is deprecated). */
export const FUNCTION_RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * esbuild options shared by both functions. Bundled locally (esbuild from devDependencies, never Docker).
 *
 * The AWS SDK is bundled (`externalModules: []`), not taken from the runtime: the bundle then runs the exact
 * versions package-lock.json pins and the tests exercise, not whatever SDK build the runtime ships that week.
 * Cost: a larger bundle (about 1 MB minified), paid once per cold start.
 */
export const BUNDLING: NonNullable<NodejsFunctionProps['bundling']> = {
  format: OutputFormat.CJS,
  target: 'node24',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  externalModules: [],
  forceDockerBundling: false,
};

export interface AppFunctionProps {
  /** Entry file relative to the project root, e.g. `functions/poller.ts`. */
  readonly entry: string;
  readonly memoryMiB: number;
  readonly timeoutSec: number;
  readonly environment: Record<string, string>;
  readonly logRetentionDays: number;
  readonly description: string;
  readonly reservedConcurrency?: number;
}

/**
 * A NodejsFunction (arm64, current runtime) with its own log group and its own role: the role starts empty
 * but for writing to that one log group (no AWSLambdaBasicExecutionRole, whose logs:* rights span every log
 * group), and each concern adds exactly the rights it needs.
 */
export class AppFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: AppFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description}: writes its own log group, plus the grants of its construct`,
    });
    this.logGroup.grantWrite(this.role);
    this.function = new NodejsFunction(this, 'Function', {
      entry: path.join(PROJECT_ROOT, props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: FUNCTION_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memoryMiB,
      timeout: Duration.seconds(props.timeoutSec),
      description: props.description,
      role: this.role,
      logGroup: this.logGroup,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      ...(props.reservedConcurrency !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrency }
        : {}),
      bundling: BUNDLING,
    });
  }
}
