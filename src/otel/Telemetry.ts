/**
 * OpenTelemetry for an effect-users app, through `@effect/opentelemetry`: the app's spans (every `UserManager`,
 * `Login`, `Sessions`, `RefreshTokens`, `Throttle` and `PasswordHasher` operation, the HTTP server's request spans)
 * and Effect's metrics (`AuthMetrics`, plus whatever else the app records) go to the span processors and metric
 * readers given. Provide the layer around the whole app (`Layer.provide(Telemetry.layer(...))` on the server), so
 * that every fiber it starts uses its tracer. Count logins, sessions and refresh reuse with `AuthMetrics.layer`
 * beside the app's other `AuthEvents` sinks.
 *
 * @since 0.2.0
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import type * as Resource from "@effect/opentelemetry/Resource"
import type { MetricReader } from "@opentelemetry/sdk-metrics"
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * Where spans and metrics go, and what the service is called (`service.name`: `serviceName`, else
 * `OTEL_SERVICE_NAME`, else `effect-users`; `OTEL_RESOURCE_ATTRIBUTES` adds attributes).
 *
 * @since 0.2.0
 */
export interface Options {
  readonly serviceName?: string | undefined
  readonly serviceVersion?: string | undefined
  readonly spanProcessor?: SpanProcessor | ReadonlyArray<SpanProcessor> | undefined
  readonly metricReader?: MetricReader | ReadonlyArray<MetricReader> | undefined
  /** How long shutting down may take to flush what is pending (default 3 seconds). */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
}

/**
 * The tracer and metric producer over these processors and readers, flushed and shut down with the layer.
 *
 * @since 0.2.0
 */
export const layer = (options: Options): Layer.Layer<Resource.Resource> =>
  NodeSdk.layer(
    Effect.map(
      Config.string("OTEL_SERVICE_NAME").pipe(
        Config.withDefault("effect-users"),
        Effect.orElseSucceed(() => "effect-users")
      ),
      (fromEnv): NodeSdk.Configuration => ({
        resource: {
          serviceName: options.serviceName ?? fromEnv,
          ...(options.serviceVersion === undefined ? {} : { serviceVersion: options.serviceVersion })
        },
        spanProcessor: options.spanProcessor,
        metricReader: options.metricReader,
        shutdownTimeout: options.shutdownTimeout
      })
    )
  )

/**
 * Options of `layerOtlp`.
 *
 * @since 0.2.0
 */
export interface OtlpOptions {
  readonly serviceName?: string | undefined
  readonly serviceVersion?: string | undefined
  /** How often metrics are exported (default `OTEL_METRIC_EXPORT_INTERVAL` milliseconds, else 60 seconds). */
  readonly metricInterval?: Duration.DurationInput | undefined
  readonly shutdownTimeout?: Duration.DurationInput | undefined
}

/**
 * Spans (batched) and metrics (periodically) exported by OTLP over HTTP/protobuf-JSON to the endpoint that the
 * standard variables name (`OTEL_EXPORTER_OTLP_ENDPOINT`, `..._TRACES_ENDPOINT`, `..._HEADERS`, ...). The
 * exporters (`@opentelemetry/exporter-trace-otlp-http`, `@opentelemetry/exporter-metrics-otlp-http`) are loaded
 * when the layer is built.
 *
 * @since 0.2.0
 */
export const layerOtlp = (options: OtlpOptions = {}): Layer.Layer<Resource.Resource> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const interval =
        options.metricInterval === undefined
          ? yield* Config.integer("OTEL_METRIC_EXPORT_INTERVAL").pipe(
              Config.withDefault(60_000),
              Effect.orElseSucceed(() => 60_000)
            )
          : Duration.toMillis(options.metricInterval)
      const [traces, metrics, traceBase, metricsSdk] = yield* Effect.promise(() =>
        Promise.all([
          import("@opentelemetry/exporter-trace-otlp-http"),
          import("@opentelemetry/exporter-metrics-otlp-http"),
          import("@opentelemetry/sdk-trace-base"),
          import("@opentelemetry/sdk-metrics")
        ])
      )
      return layer({
        serviceName: options.serviceName,
        serviceVersion: options.serviceVersion,
        shutdownTimeout: options.shutdownTimeout,
        spanProcessor: new traceBase.BatchSpanProcessor(new traces.OTLPTraceExporter()),
        metricReader: new metricsSdk.PeriodicExportingMetricReader({
          exporter: new metrics.OTLPMetricExporter(),
          exportIntervalMillis: interval,
          // The reader refuses a timeout longer than its interval.
          exportTimeoutMillis: Math.min(30_000, interval)
        })
      })
    })
  )
