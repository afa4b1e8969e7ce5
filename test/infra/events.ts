import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context, ScheduledEvent } from 'aws-lambda';

/**
 * Event shapes as AWS delivers them, for handler tests (test/integration/enqueue*.test.ts) and the bundle test.
 * Field values follow the AWS documentation's examples.
 */

/** An API Gateway HTTP API request, payload format 2.0, for POST /enqueue. */
export function httpApiEvent(options: {
  body?: string;
  headers?: Record<string, string>;
  isBase64Encoded?: boolean;
}): APIGatewayProxyEventV2 {
  const now = new Date();
  return {
    version: '2.0',
    routeKey: 'POST /enqueue',
    rawPath: '/enqueue',
    rawQueryString: '',
    headers: {
      accept: 'application/json',
      'content-type': 'application/json',
      host: 'abc123def4.execute-api.eu-west-1.amazonaws.com',
      'user-agent': 'site-backend/1.0',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}),
      ...options.headers,
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123def4',
      domainName: 'abc123def4.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'abc123def4',
      http: {
        method: 'POST',
        path: '/enqueue',
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: 'site-backend/1.0',
      },
      requestId: randomUUID(),
      routeKey: 'POST /enqueue',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
    isBase64Encoded: options.isBase64Encoded ?? false,
  };
}

/** The event an EventBridge schedule rule sends. */
export function scheduledEvent(
  ruleArn = 'arn:aws:events:eu-west-1:123456789012:rule/LpVisitCapture-Schedule',
): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: 'eu-west-1',
    resources: [ruleArn],
    detail: {},
  };
}

/** A Lambda context whose remaining time counts down from `timeoutMs`. */
export function lambdaContext(functionName: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2025/01/01/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
