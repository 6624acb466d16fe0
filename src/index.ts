/**
 * effect-users: FastAPI Users' user manager for Effect.
 */

export * as AccessTokenStore from "./AccessTokenStore.js"
export {
  type Argon2WorkersOptions,
  type Argon2WorkersService,
  acquireArgon2Workers,
  layerArgon2Workers,
  makeArgon2Workers
} from "./Argon2Workers.js"
// The sub-path entries, re-exported whole so that the root and `effect-users/http`, `/sql` never drift apart.
export * from "./http.js"
export { IdParser, type IdParserService, integerParser, uuidParser } from "./IdParser.js"
export {
  type AsymmetricAlgorithm,
  type JsonWebKeySet,
  JwtKeySet,
  type JwtKeySetOptions,
  type JwtKeySetService,
  type PublicJwk,
  type SigningKey,
  type VerifyingKey
} from "./JwtKeySet.js"
export * as Login from "./Login.js"
export * as OAuthProvider from "./OAuthProvider.js"
export * as OAuthStateStore from "./OAuthStateStore.js"
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
export * as RefreshTokenStore from "./RefreshTokenStore.js"
export * as Sessions from "./Sessions.js"
export * from "./sql.js"
export * as Throttle from "./Throttle.js"
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
export * as Unavailable from "./Unavailable.js"
export * from "./User.js"
export * from "./UserError.js"
export {
  type HookRequest,
  hookNames,
  noHooks,
  type UserChanges,
  UserHooks,
  type UserHooksService
} from "./UserHooks.js"
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
