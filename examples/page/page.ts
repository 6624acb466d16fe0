/**
 * The sign-in page's module (`npm start` serves it at `/page.js`, the page at `/` and `/magic-link`): register, log
 * in with a password, a passkey, an e-mail link or an e-mail code, take the second step of a login (a TOTP code, a
 * recovery code or a passkey), set up and turn off an authenticator app (its QR code drawn here, so the secret never
 * leaves the browser), add and remove passkeys (with the step-up a second factor asks for), list and end sessions,
 * log out. It speaks the JSON API only, through the cookie backend (`/auth/cookie/...`); the browser sends its own
 * origin, which the CSRF rules accept. No framework; esbuild bundles it with `qrcode`.
 */
import * as QRCode from "qrcode"

type Json = Record<string, unknown>

const $ = <E extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as E
const input = (id: string) => $<HTMLInputElement>(id)

const status = (text: string, error = false) => {
  const line = $("status")
  line.textContent = text
  line.className = error ? "error" : ""
}

/** A refusal of the API: its code (`detail`, or `detail.code`) as the message, and the whole `detail`. */
class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly detail: unknown
  ) {
    super(code)
  }
}

/** A JSON request to the API; the body of its answer, or an `ApiError`. */
const api = async (path: string, init: { method?: string; json?: unknown } = {}): Promise<unknown> => {
  const response = await fetch(path, {
    method: init.method ?? (init.json === undefined ? "GET" : "POST"),
    credentials: "same-origin",
    headers: init.json === undefined ? {} : { "content-type": "application/json" },
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) })
  })
  const text = await response.text()
  const body: unknown = text === "" ? null : JSON.parse(text)
  if (!response.ok) {
    const detail = (body as { detail?: unknown } | null)?.detail
    const code = (detail as { code?: unknown } | null | undefined)?.code
    throw new ApiError(
      typeof detail === "string" ? detail : typeof code === "string" ? code : JSON.stringify(detail ?? response.status),
      detail
    )
  }
  return body
}

// WebAuthn's JSON forms carry binary fields as base64url.
const fromB64 = (text: string): ArrayBuffer => {
  const base64 = text
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(text.length / 4) * 4, "=")
  const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0))
  return bytes.buffer
}
const toB64 = (buffer: ArrayBuffer | null): string =>
  buffer === null
    ? ""
    : btoa(String.fromCharCode(...new Uint8Array(buffer)))
        .replace(/\+/g, "-")
        .replace(/\//g, "_")
        .replace(/=+$/, "")

const descriptors = (list: unknown) =>
  ((list as Array<{ id: string; transports?: Array<string> }> | undefined) ?? []).map((each) => ({
    type: "public-key" as const,
    id: fromB64(each.id),
    ...(each.transports === undefined ? {} : { transports: each.transports as Array<AuthenticatorTransport> })
  }))

// The JSON forms hold every field of the browser's options; only the binary ones differ (converted below).
const creationOptions = (json: Json): PublicKeyCredentialCreationOptions => {
  const user = json.user as { id: string; name: string; displayName: string }
  return {
    ...(json as unknown as PublicKeyCredentialCreationOptions),
    challenge: fromB64(json.challenge as string),
    user: { ...user, id: fromB64(user.id) },
    excludeCredentials: descriptors(json.excludeCredentials)
  }
}

const requestOptions = (json: Json): PublicKeyCredentialRequestOptions => ({
  ...(json as unknown as PublicKeyCredentialRequestOptions),
  challenge: fromB64(json.challenge as string),
  allowCredentials: descriptors(json.allowCredentials)
})

const registrationJson = (credential: PublicKeyCredential) => {
  const response = credential.response as AuthenticatorAttestationResponse
  return {
    id: credential.id,
    rawId: toB64(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toB64(response.clientDataJSON),
      attestationObject: toB64(response.attestationObject),
      transports: response.getTransports?.() ?? []
    },
    clientExtensionResults: credential.getClientExtensionResults(),
    ...(credential.authenticatorAttachment === null
      ? {}
      : { authenticatorAttachment: credential.authenticatorAttachment })
  }
}

const assertionJson = (credential: PublicKeyCredential) => {
  const response = credential.response as AuthenticatorAssertionResponse
  return {
    id: credential.id,
    rawId: toB64(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toB64(response.clientDataJSON),
      authenticatorData: toB64(response.authenticatorData),
      signature: toB64(response.signature),
      ...(response.userHandle === null ? {} : { userHandle: toB64(response.userHandle) })
    },
    clientExtensionResults: credential.getClientExtensionResults(),
    ...(credential.authenticatorAttachment === null
      ? {}
      : { authenticatorAttachment: credential.authenticatorAttachment })
  }
}

const item = (text: string, action: string, onClick: () => void, id: string) => {
  const li = document.createElement("li")
  li.dataset.id = id
  li.append(`${text} `)
  const button = document.createElement("button")
  button.type = "button"
  button.textContent = action
  button.addEventListener("click", onClick)
  li.append(button)
  return li
}

/** Shows who is signed in, their passkeys and sessions; or the sign-in forms. */
const refresh = async () => {
  let me: { email: string } | undefined
  try {
    me = (await api("/users/me")) as { email: string }
  } catch {
    me = undefined
  }
  $("signed-out").hidden = me !== undefined
  $("signed-in").hidden = me === undefined
  if (me === undefined) {
    closeEnrolment()
    $("recovery").hidden = true
    $("recovery-codes").replaceChildren()
    return
  }
  $("me").textContent = me.email
  const passkeys = (await api("/users/me/passkeys")) as Array<{ id: string; name: string; last_used_at: string | null }>
  $("passkeys").replaceChildren(
    ...passkeys.map((passkey) =>
      item(
        `${passkey.name}${passkey.last_used_at === null ? "" : ` (last used ${new Date(passkey.last_used_at).toLocaleString()})`}`,
        "Remove",
        () => void removePasskey(passkey.id),
        passkey.id
      )
    )
  )
  // Without second factors on the server (404), the authenticator app's section stays hidden.
  const mfa = (await api("/users/me/mfa").catch(() => undefined)) as
    | { totp: boolean; recovery_codes_left: number }
    | undefined
  $("totp").hidden = mfa === undefined
  $("totp-state").textContent =
    mfa === undefined
      ? ""
      : mfa.totp
        ? `On: sign-ins ask for a code from your app (${mfa.recovery_codes_left} recovery codes left).`
        : "Off."
  $("totp-start").hidden = mfa?.totp !== false
  $("totp-off").hidden = mfa?.totp !== true
  // A user with a second factor confirms sensitive changes with it too.
  $("stepup-factor").hidden = mfa?.totp !== true && passkeys.length === 0
  const sessions = (await api("/users/me/sessions")) as Array<{
    id: string
    current: boolean
    method: string | null
    user_agent: string | null
  }>
  $("sessions").replaceChildren(
    ...sessions.map((session) =>
      item(
        `${session.method ?? "?"} · ${session.user_agent ?? "unknown client"}${session.current ? " (this one)" : ""}`,
        "End",
        () => void endSession(session.id),
        session.id
      )
    )
  )
}

const run = (work: () => Promise<string | undefined>) => async () => {
  // Recovery codes are shown once: the next action takes them off the page.
  $("recovery").hidden = true
  $("recovery-codes").replaceChildren()
  try {
    const done = await work()
    // A code or passkey proof works once.
    input("stepup-code").value = ""
    input("stepup-passkey").checked = false
    // The view first, then the status: what the status announces is on the page when it shows.
    await refresh()
    if (done !== undefined) status(done)
  } catch (error) {
    status(error instanceof Error ? error.message : String(error), true)
  }
}

/** The pending two-step login (kept in memory only): its token from `LOGIN_MFA_REQUIRED`. */
let mfaToken: string | undefined

const endSecondStep = () => {
  mfaToken = undefined
  $("mfa-step").hidden = true
  input("mfa-code").value = ""
  input("mfa-recovery").value = ""
}

/** Shows the second step a login answered 401 `LOGIN_MFA_REQUIRED` for, with the methods it offers. */
const secondStep = (detail: unknown): string => {
  const { mfa_token, methods } = detail as { mfa_token: string; methods: Array<string> }
  mfaToken = mfa_token
  $("mfa-step").hidden = false
  $("mfa-code-form").hidden = !methods.includes("totp")
  $("mfa-recovery-form").hidden = !methods.includes("recovery_code")
  $("mfa-passkey").hidden = !methods.includes("webauthn")
  if (methods.includes("totp")) input("mfa-code").focus()
  return "This account needs a second step"
}

/** A sign-in at `path`: `done` once the cookie is set, or the second step when the account asks for one. */
const signIn = async (path: string, json: Json, done: string): Promise<string> => {
  try {
    await api(path, { json })
  } catch (error) {
    if (error instanceof ApiError && error.code === "LOGIN_MFA_REQUIRED") return secondStep(error.detail)
    throw error
  }
  endSecondStep()
  return done
}

/** The second step with the proof `proof` gives (`{code}`, `{recovery_code}` or `{webauthn}`). */
const finishSecondStep = (proof: (token: string) => Promise<Json>) =>
  run(async () => {
    const token = mfaToken
    if (token === undefined) throw new Error("Log in with your password first")
    try {
      await api("/auth/cookie/login/mfa", { json: { mfa_token: token, ...(await proof(token)) } })
    } catch (error) {
      // A dead or expired pending login: start over at the password.
      if (error instanceof ApiError && error.code === "LOGIN_MFA_TOKEN_INVALID") endSecondStep()
      throw error
    }
    endSecondStep()
    input("login-password").value = ""
    return "Signed in with two steps"
  })

const mfaWithCode = finishSecondStep(async () => ({ code: input("mfa-code").value.trim() }))
const mfaWithRecoveryCode = finishSecondStep(async () => ({ recovery_code: input("mfa-recovery").value.trim() }))
const mfaWithPasskey = finishSecondStep(async (token) => {
  const options = (await api("/auth/cookie/login/mfa/webauthn/options", { json: { mfa_token: token } })) as Json
  const credential = (await navigator.credentials.get({ publicKey: requestOptions(options) })) as PublicKeyCredential
  return { webauthn: assertionJson(credential) }
})

const login = run(async () => {
  const done = await signIn(
    "/auth/cookie/login",
    { username: input("login-email").value, password: input("login-password").value },
    "Logged in"
  )
  if (done === "Logged in") input("login-password").value = ""
  return done
})

const register = run(async () => {
  const email = input("register-email").value
  const password = input("register-password").value
  await api("/auth/register", { json: { email, password } })
  await api("/auth/cookie/login", { json: { username: email, password } })
  input("register-password").value = ""
  return "Registered and logged in"
})

const signInWithPasskey = run(async () => {
  const { challenge_token, options } = (await api("/auth/cookie/passkey/options", { json: {} })) as {
    challenge_token: string
    options: Json
  }
  const credential = (await navigator.credentials.get({ publicKey: requestOptions(options) })) as PublicKeyCredential
  await api("/auth/cookie/passkey/login", { json: { challenge_token, response: assertionJson(credential) } })
  return "Signed in with a passkey"
})

/**
 * The step-up body of a sensitive change: the current password, and for a user with a second factor a TOTP code
 * (six digits), a recovery code, or a passkey's proof to `POST /users/me/mfa/webauthn/options`.
 */
const stepUp = async (): Promise<Json> => {
  const body: Json = {}
  const password = input("current-password").value
  if (password !== "") body.current_password = password
  if (input("stepup-passkey").checked) {
    const options = (await api("/users/me/mfa/webauthn/options", { json: {} })) as Json
    const credential = (await navigator.credentials.get({ publicKey: requestOptions(options) })) as PublicKeyCredential
    body.webauthn = assertionJson(credential)
    return body
  }
  const code = input("stepup-code").value.trim()
  if (code !== "") body[/^\d{6}$/.test(code) ? "code" : "recovery_code"] = code
  return body
}

const addPasskey = run(async () => {
  const options = (await api("/users/me/passkeys/options", { json: await stepUp() })) as Json
  const credential = (await navigator.credentials.create({
    publicKey: creationOptions(options)
  })) as PublicKeyCredential
  const name = input("passkey-name").value.trim()
  await api("/users/me/passkeys", {
    json: { response: registrationJson(credential), ...(name === "" ? {} : { name }) }
  })
  return "Passkey added"
})

const removePasskey = (id: string) =>
  run(async () => {
    await api(`/users/me/passkeys/${encodeURIComponent(id)}`, { method: "DELETE", json: await stepUp() })
    return "Passkey removed"
  })()

const endSession = (id: string) =>
  run(async () => {
    await api(`/users/me/sessions/${encodeURIComponent(id)}`, { method: "DELETE" })
    return "Session ended"
  })()

const closeEnrolment = () => {
  $("totp-enrol").hidden = true
  $("totp-secret").textContent = ""
  input("totp-code").value = ""
  const canvas = $<HTMLCanvasElement>("totp-qr")
  canvas.width = 0
  canvas.height = 0
}

const totpStart = run(async () => {
  const { secret, otpauth_uri } = (await api("/users/me/mfa/totp", { json: await stepUp() })) as {
    secret: string
    otpauth_uri: string
  }
  // Drawn here: the secret goes to no other server.
  await QRCode.toCanvas($<HTMLCanvasElement>("totp-qr"), otpauth_uri, { width: 220, margin: 2 })
  $("totp-secret").textContent = secret
  $("totp-enrol").hidden = false
  input("totp-code").focus()
  return "Scan the QR code, then type the code your app shows"
})

const totpConfirm = run(async () => {
  const { recovery_codes } = (await api("/users/me/mfa/totp/confirm", {
    json: { code: input("totp-code").value.trim() }
  })) as { recovery_codes: Array<string> }
  closeEnrolment()
  $("recovery-codes").replaceChildren(
    ...recovery_codes.map((code) => {
      const li = document.createElement("li")
      const text = document.createElement("code")
      text.textContent = code
      li.append(text)
      return li
    })
  )
  $("recovery").hidden = false
  return "The authenticator app is on"
})

const totpOff = run(async () => {
  await api("/users/me/mfa/totp", { method: "DELETE", json: await stepUp() })
  return "The authenticator app is off"
})

const emailAddress = () => input("email-signin-address").value.trim()

const requestMagicLink = run(async () => {
  await api("/auth/magic-link", { json: { email: emailAddress() } })
  return "If this address has an account, a sign-in link is on its way"
})

const requestEmailCode = run(async () => {
  await api("/auth/email-code", { json: { email: emailAddress() } })
  input("email-code").focus()
  return "If this address has an account, a code is on its way"
})

const emailCodeLogin = run(async () => {
  const done = await signIn(
    "/auth/cookie/email-code/login",
    { email: emailAddress(), code: input("email-code").value.trim() },
    "Signed in by e-mail code"
  )
  input("email-code").value = ""
  return done
})

/** The page opened from a sign-in mail (`/magic-link?token=...`): the token leaves the address bar, then signs in. */
const magicLinkLanding = run(async () => {
  const token = new URLSearchParams(location.search).get("token")
  history.replaceState(null, "", "/")
  if (token === null || token === "") throw new Error("This sign-in link has no token")
  return signIn("/auth/cookie/magic-link/login", { token }, "Signed in by e-mail link")
})

const logout = run(async () => {
  await api("/auth/cookie/logout", { method: "POST" })
  return "Logged out"
})

const submit = (id: string, action: () => Promise<void>) =>
  $(id).addEventListener("submit", (event) => {
    event.preventDefault()
    void action()
  })

const click = (id: string, action: () => Promise<void>) => $(id).addEventListener("click", () => void action())

submit("login-form", login)
submit("register-form", register)
submit("mfa-code-form", mfaWithCode)
submit("mfa-recovery-form", mfaWithRecoveryCode)
click("mfa-passkey", mfaWithPasskey)
click("mfa-cancel", async () => {
  endSecondStep()
  status("Start over: log in again")
})
submit("email-signin-form", requestMagicLink)
click("email-code-request", requestEmailCode)
submit("email-code-form", emailCodeLogin)
click("passkey-signin", signInWithPasskey)
click("passkey-add", addPasskey)
click("totp-start", totpStart)
submit("totp-confirm-form", totpConfirm)
click("totp-off", totpOff)
click("logout", logout)
void (location.pathname === "/magic-link" ? magicLinkLanding() : refresh())
