/**
 * The declarations of one OAuth provider's routes (FastAPI Users' `get_oauth_router` and
 * `get_oauth_associate_router`): the login group and the association group, with the request and response
 * schemas; each route's errors come from its table in `OAuthErrors`. `OAuth.make` implements them.
 *
 * @since 0.2.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import type * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import { AssociateAuthorizeErrors, AssociateCallbackErrors, AuthorizeErrors, CallbackErrors } from "./OAuthErrors.js"
import { MfaRequired } from "./SignIn.js"
import * as UserSchemas from "./UserSchemas.js"

const AuthorizeResponse = Schema.Struct({ authorization_url: Schema.String }).annotations({
  identifier: "OAuth2AuthorizeResponse"
})
const Scope = Schema.String.pipe(Schema.maxLength(256))
const Scopes = Schema.Union(Scope, Schema.Array(Scope).pipe(Schema.maxItems(64)))
const AuthorizeParams = Schema.Struct({
  scopes: Schema.optional(Scopes),
  redirect_to: Schema.optional(Schema.String.pipe(Schema.maxLength(2048)))
})
const AssociateAuthorizeParams = Schema.Struct({ scopes: Schema.optional(Scopes) })
const Param = Schema.String.pipe(Schema.maxLength(4096))
const callbackFields = {
  code: Schema.optional(UserSchemas.Token),
  state: Schema.optional(UserSchemas.Token),
  iss: Schema.optional(Param),
  error: Schema.optional(Param),
  error_description: Schema.optional(Param),
  user: Schema.optional(Param)
}
/**
 * What a provider sends to the callback (query or form).
 *
 * @since 0.2.0
 */
export const CallbackParams = Schema.Struct(callbackFields)
const CallbackForm = Schema.Struct(callbackFields).pipe(HttpApiSchema.withEncoding({ kind: "UrlParams" }))
/**
 * What a provider sends to the callback.
 *
 * @since 0.2.0
 */
export type CallbackParams = typeof CallbackParams.Type

/**
 * The two groups of a provider: login, and association for a logged-in user.
 *
 * @since 0.1.0
 */
export const declareGroups = <
  const Name extends string,
  I extends HttpApiMiddleware.HttpApiMiddleware.AnyId,
  S,
  ReadSchema extends Schema.Schema.Any
>(
  name: Name,
  authenticated: Context.Tag<I, S>,
  UserRead: ReadSchema,
  prefix: `/${string}`
) => ({
  group: HttpApiGroup.make(`oauth.${name}`)
    .add(
      HttpApiEndpoint.get("authorize", "/authorize")
        .setUrlParams(AuthorizeParams)
        .addSuccess(AuthorizeResponse)
        .addError(AuthorizeErrors.schema)
        .annotate(OpenApi.Summary, `Authorization URL of ${name}`)
        .annotate(OpenApi.Description, "Sets the state cookie the callback needs; open the URL in the same browser.")
    )
    .add(
      HttpApiEndpoint.get("callback", "/callback")
        .setUrlParams(CallbackParams)
        .addSuccess(Schema.Unknown)
        .addError(CallbackErrors.schema)
        .addError(MfaRequired)
        .annotate(OpenApi.Summary, `Log in with ${name}`)
    )
    .add(
      HttpApiEndpoint.post("callbackForm", "/callback")
        .setPayload(CallbackForm)
        .addSuccess(Schema.Unknown)
        .addError(CallbackErrors.schema)
        .addError(MfaRequired)
        .annotate(OpenApi.Summary, `Log in with ${name} (response_mode=form_post)`)
    )
    .prefix(prefix),
  associateGroup: HttpApiGroup.make(`oauthAssociate.${name}`)
    .add(
      HttpApiEndpoint.get("authorize", "/associate/authorize")
        .setUrlParams(AssociateAuthorizeParams)
        .addSuccess(AuthorizeResponse)
        .addError(AssociateAuthorizeErrors.schema)
        .middleware(authenticated)
        .annotate(OpenApi.Summary, `Authorization URL to link a ${name} account`)
        .annotate(
          OpenApi.Description,
          "Needs a session opened by a password or provider login within the re-authentication window (5 minutes)."
        )
    )
    .add(
      HttpApiEndpoint.get("callback", "/associate/callback")
        .setUrlParams(CallbackParams)
        .addSuccess(UserRead)
        .addError(AssociateCallbackErrors.schema)
        .middleware(authenticated)
        .annotate(OpenApi.Summary, `Link a ${name} account to the current user`)
    )
    .prefix(prefix)
})
