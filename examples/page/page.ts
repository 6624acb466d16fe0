/**
 * The sign-in page's module (`npm start` serves it at `/page.js`, the page at `/`): register, log in with a password
 * or a passkey, add and remove passkeys, list and end sessions, log out. It speaks the JSON API only, through the
 * cookie backend (`/auth/cookie/...`); the browser sends its own origin, which the CSRF rules accept. No framework,
 * no bundle: WebAuthn's JSON options are turned into the browser's objects here.
 */

type Json = Record<string, unknown>

const $ = <E extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as E
const input = (id: string) => $<HTMLInputElement>(id)

const status = (text: string, error = false) => {
  const line = $("status")
  line.textContent = text
  line.className = error ? "error" : ""
}

/** A JSON request to the API; the body of its answer, or an error carrying the `detail` code. */
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
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail ?? response.status))
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
  if (me === undefined) return
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
  try {
    const done = await work()
    // The view first, then the status: what the status announces is on the page when it shows.
    await refresh()
    if (done !== undefined) status(done)
  } catch (error) {
    status(error instanceof Error ? error.message : String(error), true)
  }
}

/**
 * Phase B slot: a login that needs a second step answers 401 `LOGIN_MFA_REQUIRED` with an `mfa_token` and its
 * methods; the second-factor issue fills `#mfa-step` with the code or passkey prompt and finishes the login.
 */
const secondStep = (_detail: unknown): string => {
  $("mfa-step").hidden = false
  return "This account needs a second step"
}

const login = run(async () => {
  try {
    await api("/auth/cookie/login", {
      json: { username: input("login-email").value, password: input("login-password").value }
    })
  } catch (error) {
    if (error instanceof Error && error.message.includes("LOGIN_MFA_REQUIRED")) return secondStep(error.message)
    throw error
  }
  input("login-password").value = ""
  return "Logged in"
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

const stepUp = () => {
  const password = input("current-password").value
  return password === "" ? {} : { current_password: password }
}

const addPasskey = run(async () => {
  const options = (await api("/users/me/passkeys/options", { json: stepUp() })) as Json
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
    await api(`/users/me/passkeys/${encodeURIComponent(id)}`, { method: "DELETE", json: stepUp() })
    return "Passkey removed"
  })()

const endSession = (id: string) =>
  run(async () => {
    await api(`/users/me/sessions/${encodeURIComponent(id)}`, { method: "DELETE" })
    return "Session ended"
  })()

const logout = run(async () => {
  await api("/auth/cookie/logout", { method: "POST" })
  return "Logged out"
})

const submit = (id: string, action: () => Promise<void>) =>
  $(id).addEventListener("submit", (event) => {
    event.preventDefault()
    void action()
  })

submit("login-form", login)
submit("register-form", register)
$("passkey-signin").addEventListener("click", () => void signInWithPasskey())
$("passkey-add").addEventListener("click", () => void addPasskey())
$("logout").addEventListener("click", () => void logout())
void refresh()
