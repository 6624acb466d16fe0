/**
 * effect-users: FastAPI Users' user manager for Effect.
 */

export * as AccessTokenStore from "./AccessTokenStore.js"
export { type Argon2WorkersOptions, makeArgon2Workers } from "./Argon2Workers.js"
export * as AuthBackend from "./http/AuthBackend.js"
export * as Authentication from "./http/Authentication.js"
export * as AuthStrategy from "./http/AuthStrategy.js"
export * as BackgroundWork from "./http/BackgroundWork.js"
export {
  Authenticator,
  type AuthenticatorService,
  CurrentUser,
  OptionalUser,
  type Requirement
} from "./http/CurrentUser.js"
export * as Failures from "./http/Failures.js"
export * as HttpErrors from "./http/HttpErrors.js"
export * as OAuth from "./http/OAuth.js"
export * as RequestLimits from "./http/RequestLimits.js"
export * as UserSchemas from "./http/UserSchemas.js"
export * as UsersApi from "./http/UsersApi.js"
export * as UsersGroups from "./http/UsersGroups.js"
export { IdParser, type IdParserService, integerParser, uuidParser } from "./IdParser.js"
export * as Migrations from "./Migrations.js"
export {
  type Argon2Options,
  type BoundedHasherService,
  defaultQueuePerCore,
  makeArgon2,
  PasswordHasher,
  type PasswordHasherService,
  queueFull,
  withConcurrencyLimit
} from "./PasswordHasher.js"
export {
  type PasswordOwner,
  type PasswordRule,
  PasswordValidator,
  type PasswordValidatorService
} from "./PasswordValidator.js"
export * as SqlAccessTokenStore from "./SqlAccessTokenStore.js"
export * as SqlUserRepository from "./SqlUserRepository.js"
export {
  type Claims,
  type HmacAlgorithm,
  InvalidToken,
  makeJwt,
  maxTokenLength,
  type SignOptions,
  TokenCodec,
  type TokenCodecService,
  type VerifyOptions
} from "./TokenCodec.js"
export * from "./User.js"
export * from "./UserError.js"
export { type HookRequest, noHooks, type UserChanges, UserHooks, type UserHooksService } from "./UserHooks.js"
export {
  type Credentials,
  maxLoginPasswordLength,
  type OAuthCallbackOptions,
  type SafeOption,
  UserManager,
  type UserManagerService
} from "./UserManager.js"
export {
  minimumSecretBytes,
  UserManagerConfig,
  type UserManagerOptions,
  type UserManagerSettings
} from "./UserManagerConfig.js"
export * as UserModel from "./UserModel.js"
export {
  defaultListLimit,
  type ListOptions,
  makeMemory,
  maxListLimit,
  type OAuthAccountUpdate,
  type UserExpectation,
  type UserFilters,
  UserRepository,
  type UserRepositoryService
} from "./UserRepository.js"
