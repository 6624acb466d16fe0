/**
 * `effect-users/otel`: OpenTelemetry tracing and metrics for the app, through `@effect/opentelemetry`. Not exported
 * by the package root, so that apps without OpenTelemetry never load it (an optional peer dependency).
 *
 * @since 0.2.0
 */

/** @since 0.2.0 */
export * as Telemetry from "./otel/Telemetry.js"
