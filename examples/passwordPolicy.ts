/**
 * The password policy of `npm start` (and of `npm run users -- create-superuser`, which reads the same variable):
 * NIST SP 800-63B-4's (`PasswordValidator.nist`: 15 characters while the password is the only factor) unless
 * USERS_PASSWORD_POLICY=compat, the default policy with FastAPI Users' 8 characters, for front ends written for
 * FastAPI Users that ask for 8. Both refuse the 100,000 most common passwords and the words of the user's e-mail.
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { PasswordValidator } from "effect-users"

/** The policy named by USERS_PASSWORD_POLICY (`nist`, the default, or `compat`); another value stops the start. */
export const policyName = Config.literal("nist", "compat")("USERS_PASSWORD_POLICY").pipe(Config.withDefault("nist"))

/** The `PasswordValidator` of the named policy. */
export const PasswordPolicy = Layer.unwrapEffect(
  Effect.map(policyName, (name) =>
    PasswordValidator.layer(name === "compat" ? PasswordValidator.defaultRule : PasswordValidator.nist)
  )
)
