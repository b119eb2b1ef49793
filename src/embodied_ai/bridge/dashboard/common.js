// What every dashboard page shares: the API key field (kept for the browser session), the
// Authorization header it gives, and REST calls unwrapped from the envelope.
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
