/**
 * The core reads the request a platform server provides through a tag of its own (`src/internal/httpRequest.ts`),
 * so that it does not load `@effect/platform`: that tag must be platform's `HttpServerRequest`.
 */
import { HttpServerRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { PasswordHasher, UserHooks, UserManager, UserRepository } from "effect-users"
import { HttpServerRequestTag } from "../src/internal/httpRequest.js"
import { freshEmail, makeFakeHasher, password, testConfig } from "./utils/TestUsers.js"

describe("the core's HttpServerRequest tag", () => {
  it("is @effect/platform's HttpServerRequest tag: one key, so one service", () => {
    assert.strictEqual(HttpServerRequestTag.key, HttpServerRequest.HttpServerRequest.key)
    const request = HttpServerRequest.fromWeb(new Request("http://127.0.0.1/"))
    const context = Context.make(HttpServerRequest.HttpServerRequest, request)
    assert.strictEqual(Context.get(context, HttpServerRequestTag), request)
  })

  it.effect("a hook receives the request a platform server provides", () => {
    const seen: Array<UserHooks.HookRequest> = []
    const Users = UserManager.layer.pipe(
      Layer.provide([
        UserRepository.layerMemory,
        testConfig(),
        PasswordHasher.layer(makeFakeHasher().service),
        UserHooks.layer({ onAfterRegister: (_user, request) => Effect.sync(() => seen.push(request)) })
      ])
    )
    const request = HttpServerRequest.fromWeb(new Request("http://127.0.0.1/auth/register", { method: "POST" }))
    return Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      yield* users.create({ email: freshEmail(), password: password("correct horse") })
      yield* users
        .create({ email: freshEmail(), password: password("correct horse") })
        .pipe(Effect.provideService(HttpServerRequest.HttpServerRequest, request))
      assert.lengthOf(seen, 2)
      assert.isTrue(Option.isNone(seen[0]!))
      assert.strictEqual(Option.getOrUndefined(seen[1]!), request)
    }).pipe(Effect.provide(Users))
  })
})
