import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A span as received, with the `service.name` of the process that sent it. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** The span's `saga.id` attribute, if any. */
  sagaId?: string;
}

interface OtlpValue {
  stringValue?: string;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpTraces {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        attributes?: OtlpAttribute[];
      }[];
    }[];
  }[];
}

const attribute = (attributes: OtlpAttribute[] | undefined, key: string) =>
  attributes?.find((a) => a.key === key)?.value.stringValue;

/** The smallest OTLP/HTTP trace receiver (JSON encoding, `POST /v1/traces`), for end-to-end specs. */
export class OtlpCollector {
  readonly spans: ReceivedSpan[] = [];
  private server?: Server;

  /** Listens on a free port of 127.0.0.1; resolves with the endpoint to give as `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        try {
          this.receive(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpTraces);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch {
          res.writeHead(400).end();
        }
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private receive(body: OtlpTraces): void {
    for (const resourceSpans of body.resourceSpans ?? []) {
      const service = attribute(resourceSpans.resource?.attributes, 'service.name') ?? '?';
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          this.spans.push({
            service,
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId || undefined,
            name: span.name,
            sagaId: attribute(span.attributes, 'saga.id'),
          });
        }
      }
    }
  }
}
