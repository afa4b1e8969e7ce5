/**
 * A DynamoDB fault proxy: an HTTP server on loopback between the AWS SDK (point DYNAMODB_ENDPOINT at
 * `proxy.endpoint`) and a real DynamoDB-compatible server (dynalite or DynamoDB Local). It forwards every call
 * untouched, except those a rule picks: by operation (the X-Amz-Target header, `DynamoDB_20120810.<Operation>`),
 * by table (the body's TableName, or the RequestItems keys of the batch operations), by any predicate on the
 * request body, at a chosen rate (seeded, so a run repeats) or for the next N calls. A picked call can be
 * delayed, answered with what DynamoDB answers when it throttles or fails (ProvisionedThroughputExceededException
 * or ThrottlingException, 400; InternalServerError, 500; a BatchWriteItem whose items all come back
 * unprocessed), or have its connection reset, before forwarding (the call never reached the table) or after
 * (it did, and its answer is lost).
 *
 * Errors are shaped as DynamoDB's JSON 1.0 protocol shapes them (`__type`, `message`, x-amzn-RequestId and
 * x-amz-crc32 headers), so the SDK sees them as it would in AWS: same error names, same retry decisions.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Random } from '../../lib/simulator/random';

/** What a picked call gets instead of (or, for `reset_after_forward`, besides) a plain forward. */
export type DynamoFault =
  /** 400 ProvisionedThroughputExceededException (a table or index over its capacity). */
  | 'throughput_exceeded'
  /** 400 ThrottlingException (control-plane or account-level throttling). */
  | 'throttling'
  /** 500 InternalServerError. */
  | 'internal_error'
  /** BatchWriteItem only: 200 with every request item returned in UnprocessedItems, nothing written. */
  | 'unprocessed'
  /** The connection is destroyed before the call is forwarded: nothing reached the table. */
  | 'reset'
  /** The call is forwarded and applied, then the connection is destroyed: the client never sees the answer. */
  | 'reset_after_forward';

/** One call as the rules see it. */
export interface DynamoCall {
  /** `BatchWriteItem`, `Query`, `UpdateItem`, ... (X-Amz-Target without its prefix). */
  operation: string;
  /** TableName, or the keys of RequestItems (BatchWriteItem, BatchGetItem). */
  tables: string[];
  /** The parsed JSON body (undefined if it was not JSON). */
  body: Record<string, unknown> | undefined;
  /** The body as sent (a cheap `includes` for predicates on large batches). */
  text: string;
}

export interface DynamoFaultRule {
  /** Operations it applies to (any when unset). */
  operations?: readonly string[];
  /** Tables it applies to: a call matches when any of its tables is listed (any when unset). */
  tables?: readonly string[];
  /** Any further condition on the call (a claim's or an ack's UpdateItem, say). */
  match?: (call: DynamoCall) => boolean;
  /** What a picked call gets; unset: forwarded (after delayMs). */
  fault?: DynamoFault;
  /** Wait this long before answering or forwarding a picked call. */
  delayMs?: number;
  /** Share of matching calls picked, drawn from the proxy's seeded PRNG. @default 1 */
  rate?: number;
  /** Pick only the next N matching calls (after the rate's draw), then the rule is spent. @default unlimited */
  times?: number;
}

export interface DynamoFaultRuleHandle {
  /** Calls this rule matched (operation, table, predicate), picked or not. */
  readonly matched: number;
  /** Calls this rule picked (delayed, faulted or reset). */
  readonly picked: number;
  /** True once `times` calls were picked. */
  readonly spent: boolean;
  remove(): void;
}

export interface DynamoFaultProxyStats {
  /** Every call received. */
  requests: number;
  /** Calls by operation. */
  byOperation: Record<string, number>;
  /** Picked calls by `Operation:fault` (`delay` for a delay without fault). */
  faults: Record<string, number>;
}

const TARGET_PREFIX = 'DynamoDB_20120810.';

const ERRORS: Record<
  Exclude<DynamoFault, 'unprocessed' | 'reset' | 'reset_after_forward'>,
  { status: number; type: string; message: string }
> = {
  throughput_exceeded: {
    status: 400,
    type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message:
      'The level of configured provisioned throughput for the table was exceeded. ' +
      'Consider increasing your provisioning level with the UpdateTable API.',
  },
  throttling: {
    status: 400,
    type: 'com.amazon.coral.availability#ThrottlingException',
    message: 'Rate of requests exceeds the allowed throughput.',
  },
  internal_error: {
    status: 500,
    type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
    message: 'Internal server error',
  },
};

const CRC32_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of a body, as DynamoDB sends it in x-amz-crc32. */
export function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = (CRC32_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

interface ActiveRule {
  rule: DynamoFaultRule;
  matched: number;
  picked: number;
  removed: boolean;
}

export class DynamoFaultProxy {
  private readonly server: http.Server;
  private readonly upstream: URL;
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly rng: Random;
  private rules: ActiveRule[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private counters: DynamoFaultProxyStats = { requests: 0, byOperation: {}, faults: {} };
  private port: number | undefined;

  private constructor(target: string, seed: number) {
    this.upstream = new URL(target);
    if (this.upstream.protocol !== 'http:') throw new Error('the proxy forwards to an http:// endpoint only');
    this.rng = new Random(seed);
    this.server = http.createServer({ noDelay: true }, (req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
  }

  /** Starts a proxy on a free loopback port in front of `target` (an http:// DynamoDB endpoint). */
  static async start(options: { target: string; seed?: number }): Promise<DynamoFaultProxy> {
    const proxy = new DynamoFaultProxy(options.target, options.seed ?? 1);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => {
        proxy.server.off('error', reject);
        resolve();
      });
    });
    proxy.port = (proxy.server.address() as AddressInfo).port;
    return proxy;
  }

  /** What DYNAMODB_ENDPOINT should say. */
  get endpoint(): string {
    if (this.port === undefined) throw new Error('proxy not started');
    return `http://127.0.0.1:${this.port}`;
  }

  /** Adds a rule after the existing ones; a call goes to the first rule that picks it. */
  addRule(rule: DynamoFaultRule): DynamoFaultRuleHandle {
    const rate = rule.rate ?? 1;
    if (!(rate >= 0 && rate <= 1)) throw new RangeError('rate must be in [0, 1]');
    if (rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times >= 1)) {
      throw new RangeError('times must be a whole number >= 1');
    }
    if (rule.delayMs !== undefined && !(rule.delayMs >= 0)) throw new RangeError('delayMs must be >= 0');
    if (rule.fault === undefined && rule.delayMs === undefined) {
      throw new RangeError('a rule needs a fault, a delay, or both');
    }
    if (rule.fault === 'unprocessed' && rule.operations?.some((op) => op !== 'BatchWriteItem') !== false) {
      throw new RangeError(
        "'unprocessed' applies to BatchWriteItem alone: say operations: ['BatchWriteItem']",
      );
    }
    const active: ActiveRule = { rule: { ...rule }, matched: 0, picked: 0, removed: false };
    this.rules.push(active);
    return {
      get matched() {
        return active.matched;
      },
      get picked() {
        return active.picked;
      },
      get spent() {
        return active.rule.times !== undefined && active.picked >= active.rule.times;
      },
      remove: () => {
        active.removed = true;
        this.rules = this.rules.filter((r) => r !== active);
      },
    };
  }

  /** Removes every rule: every call is forwarded untouched from now on. */
  clearRules(): void {
    for (const r of this.rules) r.removed = true;
    this.rules = [];
  }

  stats(): DynamoFaultProxyStats {
    return {
      requests: this.counters.requests,
      byOperation: { ...this.counters.byOperation },
      faults: { ...this.counters.faults },
    };
  }

  resetStats(): void {
    this.counters = { requests: 0, byOperation: {}, faults: {} };
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.agent.destroy();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const call = describeCall(req, body);
      this.counters.requests++;
      this.counters.byOperation[call.operation] = (this.counters.byOperation[call.operation] ?? 0) + 1;
      const rule = this.pick(call);
      if (rule === undefined) {
        this.forward(req, res, body);
        return;
      }
      const label = `${call.operation}:${rule.fault ?? 'delay'}`;
      this.counters.faults[label] = (this.counters.faults[label] ?? 0) + 1;
      const act = (): void => {
        if (res.destroyed || res.writableEnded) return;
        this.act(rule, call, req, res, body);
      };
      if (rule.delayMs === undefined || rule.delayMs <= 0) {
        act();
        return;
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        act();
      }, rule.delayMs);
      this.timers.add(timer);
      res.once('close', () => {
        clearTimeout(timer);
        this.timers.delete(timer);
      });
    });
  }

  /** The first rule that matches the call and picks it (rate, then times); counts both. */
  private pick(call: DynamoCall): DynamoFaultRule | undefined {
    for (const active of this.rules) {
      const { rule } = active;
      if (rule.times !== undefined && active.picked >= rule.times) continue;
      if (rule.operations !== undefined && !rule.operations.includes(call.operation)) continue;
      if (rule.tables !== undefined && !call.tables.some((t) => rule.tables?.includes(t))) continue;
      if (rule.match !== undefined && !rule.match(call)) continue;
      active.matched++;
      const rate = rule.rate ?? 1;
      // Drawn only for a partial rate: adding a rate-1 rule does not shift the draws of the others.
      if (rate < 1 && !(this.rng.next() < rate)) continue;
      active.picked++;
      return rule;
    }
    return undefined;
  }

  private act(
    rule: DynamoFaultRule,
    call: DynamoCall,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
  ): void {
    switch (rule.fault) {
      case undefined:
        this.forward(req, res, body);
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'reset_after_forward':
        this.forward(req, res, body, () => req.socket.destroy());
        return;
      case 'unprocessed': {
        const requestItems = call.body?.RequestItems;
        sendJson(res, 200, { UnprocessedItems: requestItems ?? {} });
        return;
      }
      default: {
        const error = ERRORS[rule.fault];
        sendJson(res, error.status, { __type: error.type, message: error.message });
      }
    }
  }

  /** Sends the call on to the real server and its answer back; `instead` replaces sending the answer back. */
  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
    instead?: () => void,
  ): void {
    const upstream = http.request(
      {
        host: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        // As sent: the SDK signed them (the host header included).
        headers: req.headers,
        agent: this.agent,
      },
      (answer) => {
        if (instead !== undefined) {
          answer.resume();
          answer.once('end', instead);
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => req.socket.destroy());
    upstream.end(body);
  }
}

function describeCall(req: http.IncomingMessage, body: Buffer): DynamoCall {
  const target = String(req.headers['x-amz-target'] ?? '');
  const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target;
  const text = body.toString('utf8');
  let parsed: Record<string, unknown> | undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      parsed = value as Record<string, unknown>;
    }
  } catch {
    parsed = undefined;
  }
  const tables: string[] = [];
  if (typeof parsed?.TableName === 'string') tables.push(parsed.TableName);
  const items = parsed?.RequestItems;
  if (items !== null && typeof items === 'object') tables.push(...Object.keys(items));
  return { operation, tables, body: parsed, text };
}

function sendJson(res: http.ServerResponse, status: number, payload: unknown): void {
  const body = Buffer.from(JSON.stringify(payload));
  res.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.0',
    'Content-Length': body.length,
    'x-amzn-RequestId': randomUUID(),
    'x-amz-crc32': String(crc32(body)),
  });
  res.end(body);
}
