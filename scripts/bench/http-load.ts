/**
 * A small HTTP load generator for `POST /v1/exits`: keep-alive connections,
 * one per concurrent caller, so the figure is the server's and not the cost of
 * connection set-up (node:http rather than fetch: less client CPU per request
 * on a machine the server shares).
 */
import { Agent, request } from 'node:http';

export interface PostResult {
  readonly status: number;
  readonly body: string;
}

export class ExitPoster {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(endpoint: string, connections: number) {
    this.url = new URL('/v1/exits', endpoint);
    this.agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  }

  post(body: string): Promise<PostResult> {
    return new Promise((resolve, reject) => {
      const call = request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), accept: 'application/json' },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          response.on('error', reject);
        },
      );
      call.on('error', reject);
      call.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
