import http from 'node:http';
import https from 'node:https';

/**
 * One keep-alive agent per protocol and per process: sockets are reused across requests and ticks
 * (a warm Lambda container keeps its connections). Global fetch reaches ~0.8 of the ideal rate here, a plain
 * keep-alive agent ~0.9 (see the benchmark).
 */
export interface HttpAgents {
  http: http.Agent;
  https: https.Agent;
}

export function createAgents(maxSockets = 256): HttpAgents {
  return {
    http: new http.Agent({ keepAlive: true, maxSockets, keepAliveMsecs: 30_000 }),
    https: new https.Agent({ keepAlive: true, maxSockets, keepAliveMsecs: 30_000 }),
  };
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** True when the body passed maxBodyBytes and was cut there. */
  truncated: boolean;
  totalBytes: number;
}

export interface GetOptions {
  headers: Record<string, string>;
  agents: HttpAgents;
  signal: AbortSignal;
  maxBodyBytes: number;
}

/** A GET that reads at most maxBodyBytes of the answer (a runaway body must not exhaust memory). */
export function httpGet(url: URL, options: GetOptions): Promise<HttpAnswer> {
  const transport = url.protocol === 'https:' ? https : http;
  const agent = url.protocol === 'https:' ? options.agents.https : options.agents.http;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      {
        method: 'GET',
        headers: { accept: 'application/json', ...options.headers },
        agent,
        signal: options.signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        let total = 0;
        let truncated = false;
        res.on('data', (chunk: Buffer) => {
          total += chunk.length;
          if (truncated) return;
          if (kept + chunk.length > options.maxBodyBytes) {
            chunks.push(chunk.subarray(0, options.maxBodyBytes - kept));
            kept = options.maxBodyBytes;
            truncated = true;
            const answer = {
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
              truncated,
              totalBytes: total,
            };
            resolve(answer);
            // Stop reading a runaway answer; the socket is not reused.
            res.destroy();
            return;
          }
          chunks.push(chunk);
          kept += chunk.length;
        });
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            truncated,
            totalBytes: total,
          });
        });
        res.on('error', reject);
        res.on('aborted', () => reject(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
