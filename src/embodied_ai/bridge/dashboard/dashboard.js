// Operator dashboard: live state over the WebSocket (/ws: hardware and cameras channels),
// actions over the REST API. No build step; plain browser APIs only.
// The key field, authHeaders and api() are common.js's.
"use strict";

onKeyChange(() => connect());

// -- live state -------------------------------------------------------------------------
let socket = null;

function connect() {
  if (socket) socket.close();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onopen = () => {
    const key = keyInput.value.trim();
    if (key) socket.send(JSON.stringify({ action: "authenticate", api_key: key }));
    socket.send(JSON.stringify({ action: "subscribe", channels: ["hardware", "cameras"] }));
  };
  socket.onmessage = (event) => handle(JSON.parse(event.data));
  socket.onclose = () => {
    setBadge($("connection"), "disconnected", "off");
    setTimeout(() => { if (socket && socket.readyState === WebSocket.CLOSED) connect(); }, 2000);
  };
}

function setBadge(element, text, state) {
  element.textContent = text;
  element.className = `badge ${state}`;
}

function handle(message) {
  if (message.event === "subscribed") setBadge($("connection"), "live", "on");
  else if (message.event === "error") setBadge($("connection"), `error: ${message.error.message}`, "off");
  else if (message.channel === "hardware" && message.event === "state") showState(message.data);
  else if (message.channel === "hardware" && message.event === "unavailable") {
    $("loop-rate").textContent = message.data.message;
  } else if (message.channel === "cameras" && message.data.camera === "head_camera") {
    if (message.event === "frame") showFrame(message.data);
    else showCameraPlaceholder(message.data.message);
  }
}

function showState(state) {
  const latched = state.emergency_stop;
  setBadge($("estop-state"), latched ? `E-STOP LATCHED: ${state.emergency_stop_reason}` : "e-stop released",
           latched ? "latched" : "released");
  $("loop-rate").textContent = `control loop ${state.control_loop_hz.toFixed(0)} Hz, ${state.backend}`;
  const rows = Object.entries(state.joint_positions).map(([joint, degrees]) => {
    const temperature = state.temperatures[joint];
    const fault = state.joint_faults[joint] || "";
    return `<tr data-joint="${joint}" class="${fault ? "fault" : ""}"><td>${joint}</td>` +
      `<td>${degrees.toFixed(1)}</td><td>${temperature === undefined ? "–" : temperature.toFixed(1)}</td>` +
      `<td>${fault}</td></tr>`;
  });
  $("joints").innerHTML = rows.join("");
  $("forces").textContent = "grip force: " + Object.entries(state.forces)
    .map(([sensor, newtons]) => `${sensor} ${newtons.toFixed(1)} N`).join(", ");
}

// -- camera -----------------------------------------------------------------------------
const canvas = $("camera");
const context = canvas.getContext("2d");
let lastFrameAt = 0;

function showCameraPlaceholder(reason) {
  if (Date.now() - lastFrameAt < 3000) return;
  context.fillStyle = "#111827";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.fillStyle = "#9ca3af";
  context.font = "20px system-ui";
  context.textAlign = "center";
  context.fillText("No camera image", canvas.width / 2, canvas.height / 2 - 12);
  context.font = "14px system-ui";
  context.fillText(reason || "the camera is not publishing", canvas.width / 2, canvas.height / 2 + 14);
  $("camera-status").textContent = "no frames";
}

function showFrame(frame) {
  const image = new Image();
  image.onload = () => {
    lastFrameAt = Date.now();
    canvas.width = image.width;
    canvas.height = image.height;
    context.drawImage(image, 0, 0);
    context.lineWidth = 2;
    context.font = "13px system-ui";
    for (const d of frame.detections) {
      const [x0, y0, x1, y1] = d.bbox;
      context.strokeStyle = "#22c55e";
      context.strokeRect(x0, y0, x1 - x0, y1 - y0);
      context.fillStyle = "#22c55e";
      context.fillText(`${d.class} ${(d.confidence * 100).toFixed(0)}%${d.object_id >= 0 ? " #" + d.object_id : ""}`,
                       x0 + 3, Math.max(12, y0 - 4));
    }
    $("camera-status").textContent = `${image.width}×${image.height}, ${frame.detections.length} detections`;
  };
  image.src = `data:image/jpeg;base64,${frame.jpeg_base64}`;
}

// -- e-stop -------------------------------------------------------------------------------
$("estop-button").addEventListener("click", async () => {
  try { await api("POST", "/v1/hardware/emergency_stop"); } catch (error) { alert(`E-stop failed: ${error.message}`); }
});
$("estop-reset").addEventListener("click", async () => {
  try { await api("POST", "/v1/hardware/emergency_stop/reset"); } catch (error) { alert(`Reset failed: ${error.message}`); }
});

// -- chat (Server-Sent Events over fetch: EventSource cannot POST) --------------------------
function addMessage(kind, text) {
  const line = document.createElement("div");
  line.className = `msg ${kind}`;
  line.textContent = text;
  $("chat-log").appendChild(line);
  $("chat-log").scrollTop = $("chat-log").scrollHeight;
  return line;
}

async function streamChat(prompt) {
  addMessage("user", `you: ${prompt}`);
  const answer = addMessage("assistant", "experts: ");
  const response = await fetch("/v1/inference/generate/stream", {
    method: "POST", headers: authHeaders({ "Content-Type": "application/json" }),
    body: JSON.stringify({ prompt, max_tokens: 128 }),
  });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    answer.className = "msg error";
    answer.textContent = `experts unavailable — ${errorText(body, response.status)}`;
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0 || (end = buffer.indexOf("\r\n\r\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer.startsWith("\r\n\r\n", end) ? 4 : 2));
      const event = (block.match(/^event: ?(.*)$/m) || [])[1] || "message";
      const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (!data) continue;
      const payload = JSON.parse(data);
      if (event === "message") answer.textContent += payload.token;
      else if (event === "done") answer.title = `${payload.expert_used}, ${payload.tokens_generated} tokens`;
      else if (event === "error") { answer.className = "msg error"; answer.textContent += ` [${errorText(payload)}]`; }
    }
  }
}

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const prompt = $("chat-input").value.trim();
  $("chat-input").value = "";
  if (prompt) streamChat(prompt).catch((error) => addMessage("error", error.message));
});

// -- audio command --------------------------------------------------------------------------
$("audio-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("audio-file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("audio", file);
  $("audio-result").textContent = "sending…";
  try {
    const data = await api("POST", "/v1/multimodal/process", { body: form });
    const heard = data.understanding.transcript ? data.understanding.transcript.text : "";
    $("audio-result").className = "";
    $("audio-result").textContent = `heard: “${heard}” — reply: ${data.response || "(none)"}`;
  } catch (error) {
    $("audio-result").className = "error";
    $("audio-result").textContent = error.message;
  }
});

showCameraPlaceholder("waiting for the head camera");
connect();
