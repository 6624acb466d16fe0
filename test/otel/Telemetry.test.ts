/**
 * OpenTelemetry over a full HTTP session (`effect-users/otel` with an in-memory span exporter and metric reader):
 * every operation of a login, a refused login, a refresh and its reuse, a throttled login, a reset is a named span;
 * no span attribute, event or status holds a password, token, reset token or hash the session used; the metrics
 * count logins by outcome, method and backend, sessions created, refresh reuse, throttled requests and the hash
 * queue's wait.
 */
import { createServer } from "node:http"
import { HttpApi, HttpApiBuilder } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { AggregationTemporality, type DataPoint, type Histogram, MetricReader } from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Redacted } from "effect"
import { AuthEvents, AuthMetrics, AuthStrategy, PasswordHasher, Throttle, UserManager } from "effect-users"
import { AuthBackend, UsersApi } from "effect-users/http"
import { Telemetry } from "effect-users/otel"
import { Migrations, SqlAccessTokenStore, SqlRefreshTokenStore, SqlUserRepository } from "effect-users/sql"
import { eventually } from "../utils/Eventually.js"
import { nextToken, request } from "../utils/HttpTest.js"
import { freshEmail, makeFakeHasher, recordingHooks, testConfig } from "../utils/TestUsers.js"

/** A reader the test collects from when it wants. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
  }
  protected onForceFlush() {
    return Promise.resolve()
  }
  protected onShutdown() {
    return Promise.resolve()
  }
}

const spans = new InMemorySpanExporter()
const reader = new TestReader()
const jwtSecret = Redacted.make("telemetry-test-secret-telemetry-test-secret")
const Users = UsersApi.make({
  name: "telemetry-test",
  backends: [
    AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret: jwtSecret, lifetime: "5 minutes" }), {
      refresh: { graceWindow: 0 }
    })
  ]
})
class Api extends Users.addTo(HttpApi.make("telemetry-test")) {}
const hooks = recordingHooks()
const fake = makeFakeHasher()

const server = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(Api)),
  Layer.provide(Users.layer(Api)),
  // Two wrong passwords in a row lock the account: the next login is throttled.
  Layer.provide(Throttle.layerMemory({ accounts: { maxAttempts: 2, freeAttempts: 10 } })),
  Layer.provideMerge(Layer.merge(SqlRefreshTokenStore.layer(), SqlAccessTokenStore.layer())),
  Layer.provideMerge(
    UserManager.layer.pipe(
      Layer.provide([
        SqlUserRepository.layer(),
        testConfig(),
        hooks.layer,
        // One hash at a time: the session's hashes queue behind each other and the queue's metrics see them.
        PasswordHasher.layer(PasswordHasher.withConcurrencyLimit(fake.service, 1))
      ])
    )
  ),
  Layer.provideMerge(AuthMetrics.layer),
  Layer.provideMerge(AuthEvents.layer()),
  Layer.provide(Migrations.layer()),
  Layer.provide(SqliteClient.layer({ filename: ":memory:" })),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.provide(Telemetry.layer({ spanProcessor: new SimpleSpanProcessor(spans), metricReader: reader })),
  Layer.orDie
)

const password = "correct-horse-battery-staple"
const wrongPassword = "wrong-horse-battery-staple"
const newPassword = "another-horse-battery-staple"

/** The data points of a metric, with their attributes. */
const pointsOf = (name: string) =>
  Effect.promise(() => reader.collect()).pipe(
    Effect.map(({ resourceMetrics }) =>
      resourceMetrics.scopeMetrics
        .flatMap((scope) => scope.metrics)
        .filter((metric) => metric.descriptor.name === name)
        .flatMap((metric) => metric.dataPoints as Array<DataPoint<unknown>>)
    )
  )
/** The value of the data point of `name` whose attributes include `attributes`, 0 when there is none. */
const counterValue = (name: string, attributes: Record<string, string>) =>
  Effect.map(pointsOf(name), (points) => {
    const point = points.find((point) =>
      Object.entries(attributes).every(([key, value]) => point.attributes[key] === value)
    )
    return point === undefined ? 0 : (point.value as number)
  })
/** Waits for a counter to reach `at least` (the events sink counts after the response). */
const awaitCount = (name: string, attributes: Record<string, string>, atLeast: number) =>
  eventually(
    Effect.filterOrFail(
      counterValue(name, attributes),
      (value) => value >= atLeast,
      (value) => new Error(`${name} ${JSON.stringify(attributes)} is ${value}, expected ${atLeast}`)
    )
  )

layer(server, { excludeTestServices: true, timeout: 60_000 })("OpenTelemetry over a full HTTP session", (it) => {
  const secrets = new Set<string>([password, wrongPassword, newPassword, Redacted.value(jwtSecret)])
  const login = (email: string, secret = password) =>
    Effect.tap(request("/auth/jwt/login", { form: { username: email, password: secret } }), (reply) => {
      if (reply.body?.access_token !== undefined) secrets.add(reply.body.access_token).add(reply.body.refresh_token)
    })
  const refresh = (token: string) =>
    Effect.tap(request("/auth/jwt/refresh", { json: { refresh_token: token } }), (reply) => {
      if (reply.body?.access_token !== undefined) secrets.add(reply.body.access_token).add(reply.body.refresh_token)
    })

  it.effect("a login (success and failure), a refresh reuse, a throttled login: spans and metrics", () =>
    Effect.gen(function* () {
      const email = freshEmail("otel")
      assert.strictEqual((yield* request("/auth/register", { json: { email, password } })).status, 201)
      const loggedIn = yield* login(email)
      assert.strictEqual(loggedIn.status, 200)
      const me = yield* request("/users/me", { headers: { authorization: `Bearer ${loggedIn.body.access_token}` } })
      assert.strictEqual(me.status, 200)
      assert.strictEqual((yield* login(email, wrongPassword)).status, 400)

      const rotated = yield* refresh(loggedIn.body.refresh_token)
      assert.strictEqual(rotated.status, 200)
      const reused = yield* refresh(loggedIn.body.refresh_token)
      assert.deepStrictEqual([reused.status, reused.body], [401, { detail: "REFRESH_TOKEN_REUSED" }])

      const locked = freshEmail("otel-locked")
      assert.strictEqual((yield* request("/auth/register", { json: { email: locked, password } })).status, 201)
      yield* login(locked, wrongPassword)
      yield* login(locked, wrongPassword)
      assert.strictEqual((yield* login(locked)).status, 429)

      const resets = hooks.named("onAfterForgotPassword").length
      assert.strictEqual((yield* request("/auth/forgot-password", { json: { email } })).status, 202)
      const resetToken = yield* nextToken(hooks, "onAfterForgotPassword", resets)
      secrets.add(resetToken)
      const reset = yield* request("/auth/reset-password", { json: { token: resetToken, password: newPassword } })
      assert.strictEqual(reset.status, 200)

      // Metrics.
      const login_ = { method: "password", backend: "jwt" }
      yield* awaitCount("effect_users.logins", { outcome: "success", ...login_ }, 1)
      yield* awaitCount("effect_users.logins", { outcome: "badCredentials", ...login_ }, 3)
      yield* awaitCount("effect_users.logins", { outcome: "throttled" }, 1)
      yield* awaitCount("effect_users.sessions.created", login_, 1)
      yield* awaitCount("effect_users.refresh.reuse", { backend: "jwt" }, 1)
      assert.strictEqual(yield* counterValue("effect_users.refresh.reuse", { backend: "jwt" }), 1)
      assert.strictEqual(yield* counterValue("effect_users.throttled", { route: "login", scope: "account" }), 1)
      const [wait] = yield* pointsOf("effect_users.password_hasher.queue.wait")
      // Two registrations, seven logins' verifies (the throttled one checks none) and the reset's hash.
      assert.isAtLeast((wait!.value as Histogram).count, 8)
      assert.deepStrictEqual(
        (yield* pointsOf("effect_users.password_hasher.queue.depth")).map((point) => point.value),
        [0]
      )

      // Spans.
      const finished = spans.getFinishedSpans()
      const names = new Set(finished.map((span) => span.name))
      for (const name of [
        "UserManager.create",
        "UserManager.authenticate",
        "UserManager.forgotPassword",
        "UserManager.resetPassword",
        "Login.start",
        "Login.refresh",
        "RefreshTokens.login",
        "RefreshTokens.refresh",
        "Sessions.lookup",
        "Throttle.login",
        "Throttle.route"
      ]) {
        assert.isTrue(names.has(name), `no ${name} span among ${[...names].join(", ")}`)
      }
      // The server's request spans, one per request, with the route.
      const serverSpans = finished.filter((span) => span.attributes["http.request.method"] !== undefined)
      assert.includeMembers(
        serverSpans.map((span) => span.attributes["url.path"]),
        ["/auth/register", "/auth/jwt/login", "/users/me", "/auth/jwt/refresh", "/auth/forgot-password"]
      )
      // A refused login ends its span in error; the reuse's refresh span too.
      const failedLogin = finished.find((span) => span.name === "UserManager.authenticate" && span.status.code === 2)
      assert.isDefined(failedLogin)
      assert.isTrue(finished.some((span) => span.name === "RefreshTokens.refresh" && span.status.code === 2))

      // No secret in any span's name, attributes, events or status.
      assert.isAbove(finished.length, 50)
      const seen = JSON.stringify(
        finished.map((span) => [span.name, span.attributes, span.events, span.status, span.links]),
        (_key, value) => (typeof value === "bigint" ? String(value) : value)
      )
      assert.include(seen, "/auth/jwt/refresh")
      for (const secret of secrets) assert.notInclude(seen, secret)
      assert.notInclude(seen, "fake$")
    })
  )
})
