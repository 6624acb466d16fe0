/** A `Login` whose `start` is known to log in (no second factor in these tests): the outcome narrowed to `LoggedIn`. */
import { Effect } from "effect"
import type { Login } from "effect-users"

type LoggedIn = Extract<Login.Outcome, { readonly _tag: "LoggedIn" }>

/** The outcome, which must be `LoggedIn` (dies otherwise). */
export const loggedIn = (outcome: Login.Outcome): Effect.Effect<LoggedIn> =>
  outcome._tag === "LoggedIn" ? Effect.succeed(outcome) : Effect.dieMessage(`expected LoggedIn, got ${outcome._tag}`)

/** The login with `start` narrowed to `LoggedIn`. */
export const loggedInOnly = (login: Login.LoginService) => ({
  ...login,
  start: (attempt: Login.Attempt) => Effect.flatMap(login.start(attempt), loggedIn)
})
