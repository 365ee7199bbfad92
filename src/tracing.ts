/**
 * OpenTelemetry traces, off by default (TRACING, or OTEL_EXPORTER_OTLP_ENDPOINT). When on:
 *
 * - every GraphQL operation, on every transport, is a span opened by the operation core (`{type} {name}`, with the
 *   request id, transport, cost and error code as attributes); an incoming W3C `traceparent` makes it a child of the
 *   caller's span, and HTTP responses carry the operation span's own `traceparent` back;
 * - every SQL statement the operation runs is a child span (src/db/sql-stats.ts);
 * - a job records the trace context of the operation that queued it (`jobs.trace_context`), and its run is a span in
 *   that same trace, with the job's statements as children;
 * - each event a subscription executes is a span of its own, linked to the subscription's span.
 *
 * `startTracing` (main.ts) runs the NodeSDK with the OTLP/HTTP exporter, which reads the standard OTEL_* variables
 * (endpoint, headers, service name). No automatic instrumentation is loaded: the spans above are the ones that name
 * GraphQL operations, and a generic HTTP span per request would only duplicate the operation's.
 */
import {
  context as contextApi,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Link,
  type Span,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/** The W3C trace headers of a request or a stored job, as plain strings. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

const propagator = new W3CTraceContextPropagator();

const getter: TextMapGetter<TraceCarrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => (key === 'traceparent' || key === 'tracestate' ? carrier[key] : undefined),
};

/** The trace headers of an HTTP request or a WebSocket upgrade (only the first of repeated headers counts). */
export function traceHeaders(headers: Record<string, string | string[] | undefined>): TraceCarrier | undefined {
  const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
  const traceparent = first(headers.traceparent);
  if (!traceparent) return undefined;
  const tracestate = first(headers.tracestate);
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/** The parent a carrier names, or the root context (a malformed `traceparent` is ignored, as the W3C spec says). */
function parentContext(carrier: TraceCarrier | null | undefined): Context {
  return carrier?.traceparent ? propagator.extract(ROOT_CONTEXT, carrier, getter) : ROOT_CONTEXT;
}

/** `traceparent` of a span: `00-<trace id>-<span id>-<flags>`. */
export function traceparentOf(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`;
}

/** The trace context to store with work that runs later (a job): the active span's, or null outside a trace. */
export function activeTraceCarrier(): TraceCarrier | null {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return null;
  const carrier: TraceCarrier = {};
  propagator.inject(contextApi.active(), carrier, { set: (target, key, value) => void (target[key as keyof TraceCarrier] = value) });
  return carrier.traceparent ? carrier : null;
}

export function tracerFor(on: boolean, name: string): Tracer | null {
  return on ? trace.getTracer(name) : null;
}

/** A span and the context in which it is active: what runs inside `run` sees it as its parent. */
export interface ActiveSpan {
  span: Span;
  run<T>(fn: () => T): T;
  /** Ends the span; an error code sets its status to ERROR. */
  end(errorCode?: string): void;
}

function activeSpan(span: Span, parent: Context): ActiveSpan {
  const active = trace.setSpan(parent, span);
  let ended = false;
  return {
    span,
    run: (fn) => contextApi.with(active, fn),
    end(errorCode) {
      if (ended) return;
      ended = true;
      if (errorCode) {
        span.setAttribute('opshub.error_code', errorCode);
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorCode });
      }
      span.end();
    },
  };
}

/** The span of one operation, child of the caller's span when the request carried a `traceparent`. */
export function startOperationSpan(
  tracer: Tracer,
  carrier: TraceCarrier | undefined,
  attributes: { requestId: string; transport: string },
): ActiveSpan {
  const parent = parentContext(carrier);
  const span = tracer.startSpan(
    'graphql',
    { kind: SpanKind.SERVER, attributes: { 'opshub.request_id': attributes.requestId, 'opshub.transport': attributes.transport } },
    parent,
  );
  return activeSpan(span, parent);
}

/** A span in the trace a stored carrier names (a job's run), or a new trace when it names none. */
export function startSpanFrom(
  tracer: Tracer,
  name: string,
  carrier: TraceCarrier | null | undefined,
  attributes: Record<string, string | number>,
  kind: SpanKind = SpanKind.CONSUMER,
): ActiveSpan {
  const parent = parentContext(carrier);
  return activeSpan(tracer.startSpan(name, { kind, attributes }, parent), parent);
}

/** A root span linked to another (an event a subscription executes, linked to the subscription). */
export function startLinkedSpan(tracer: Tracer, name: string, to: Span, attributes: Record<string, string>): ActiveSpan {
  const links: Link[] = [{ context: to.spanContext() }];
  return activeSpan(tracer.startSpan(name, { kind: SpanKind.INTERNAL, links, attributes }, ROOT_CONTEXT), ROOT_CONTEXT);
}

export interface TracingHandle {
  shutdown(): Promise<void>;
}

/**
 * The process's OpenTelemetry SDK with the OTLP/HTTP trace exporter; metrics stay with prom-client (/metrics) and
 * logs with pino. Loaded only when tracing is on, so a server without it pays nothing at start-up.
 */
export async function startTracing(options: { version: string }): Promise<TracingHandle> {
  const [{ NodeSDK }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': 'opshub', 'service.version': options.version }),
    traceExporter: new OTLPTraceExporter(),
    instrumentations: [],
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
