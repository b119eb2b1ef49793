// What every dashboard page shares: the API key field (kept for the browser session), the
// sign-in form (a user's access token goes where a key would), the Authorization header they
// give, and REST calls unwrapped from the envelope.
"use strict";

const $ = (id) => document.getElementById(id);
const keyInput = $("api-key");
keyInput.value = sessionStorage.getItem("embodied-api-key") || "";

// ``callback`` runs when the operator enters another key (reconnect, reload what is shown).
function onKeyChange(callback) {
  keyInput.addEventListener("change", () => {
    sessionStorage.setItem("embodied-api-key", keyInput.value.trim());
    callback();
  });
}

function authHeaders(extra = {}) {
  const key = keyInput.value.trim();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

function errorText(body, status) {
  const error = body && body.error;
  if (!error) return `HTTP ${status}`;
  return `${error.code} ${error.message}${error.details ? ": " + JSON.stringify(error.details) : ""}`;
}

async function api(method, path, options = {}) {
  const response = await fetch(path, { method, ...options, headers: authHeaders(options.headers) });
  const body = await response.json().catch(() => null);
  if (!response.ok || !body || body.success === false) throw new Error(errorText(body, response.status));
  return body.data;
}

// Sign in as a user (`embodied users create`): the access token takes the key field's place, so
// every request and the WebSocket carry it; the pages reconnect as for a new key.
$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = $("signed-in");
  try {
    // Without the old key or token: a stale one must not stand in the way of signing in.
    const response = await fetch("/v1/auth/login", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: $("username").value.trim(), password: $("password").value }),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok || !body || body.success === false) throw new Error(errorText(body, response.status));
    const data = body.data;
    $("password").value = "";
    keyInput.value = data.access_token;
    keyInput.dispatchEvent(new Event("change"));
    status.textContent = `signed in as ${data.user.username} (${data.user.role})`;
    status.className = "ok";
  } catch (error) {
    status.textContent = error.message;
    status.className = "error";
  }
});
