// Cluster page: the workers of the cluster distributed training runs on (seed 003's clients: status,
// CPU and RAM use, last seen, their tasks) and the training tasks (status, progress, pause / resume /
// stop), refreshed by the WebSocket's cluster and jobs channels. No build step; plain browser APIs only.
// The key field, authHeaders and api() are common.js's.
"use strict";

onKeyChange(() => { refresh(); reconnect(); });

const TASK_PAGE = 50;
// The buttons a task in each status shows: the status each one asks for (PUT /v1/tasks/{id}/status).
const ACTIONS = { pending: [["pause", "paused"], ["stop", "stopped"]], running: [["pause", "paused"], ["stop", "stopped"]],
                  paused: [["resume", "running"], ["stop", "stopped"]] };

function cells(row, texts) {
  for (const text of texts) {
    const cell = document.createElement("td");
    cell.textContent = text;
    row.appendChild(cell);
  }
}

function percent(value) {
  return value === null || value === undefined ? "–" : `${Number(value).toFixed(0)} %`;
}

// -- workers --------------------------------------------------------------------------------
async function refreshWorkers() {
  try {
    const page = await api("GET", "/v1/clients?limit=1000");
    $("workers-total").textContent = `${page.total} (${page.backend})`;
    const rows = page.clients.map((worker) => {
      const row = document.createElement("tr");
      row.className = `worker-row ${worker.status}`;
      row.dataset.worker = worker.id;
      const use = worker.resources || {};
      cells(row, [worker.hostname ? `${worker.hostname} (${worker.id.slice(0, 12)})` : worker.id, worker.status,
                  `${percent(use.cpu_usage)} of ${use.cpu_cores ?? "?"} cores`, `${percent(use.ram_usage)} of ${use.ram_mb ?? "?"} MB`,
                  (worker.last_seen || "–").replace("T", " ").slice(0, 19), worker.tasks.join(", ") || "–"]);
      return row;
    });
    $("workers").replaceChildren(...rows);
  } catch (error) {
    $("workers-total").textContent = error.message;
  }
}

// -- tasks ----------------------------------------------------------------------------------
async function refreshTasks() {
  try {
    const page = await api("GET", `/v1/tasks?limit=${TASK_PAGE}`);
    $("tasks-total").textContent = `${page.tasks.length} of ${page.total}`;
    const rows = page.tasks.map((task) => {
      const row = document.createElement("tr");
      row.className = `task-row ${task.status}`;
      row.dataset.task = task.id;
      cells(row, [task.id, task.status, `${task.progress.toFixed(0)} %`, task.updated_at.replace("T", " ").slice(0, 19)]);
      const buttons = document.createElement("td");
      for (const [label, status] of ACTIONS[task.status] || []) {
        const button = document.createElement("button");
        button.textContent = label;
        button.className = `task-${label}`;
        button.addEventListener("click", () => setStatus(task.id, status));
        buttons.appendChild(button);
      }
      row.appendChild(buttons);
      return row;
    });
    $("tasks").replaceChildren(...rows);
  } catch (error) {
    $("tasks-total").textContent = error.message;
  }
}

async function setStatus(taskId, status) {
  $("task-error").textContent = "";
  try {
    await api("PUT", `/v1/tasks/${taskId}/status`, {
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ status, reason: "dashboard" }),
    });
  } catch (error) {
    $("task-error").textContent = `task ${taskId}: ${error.message}`;
  }
  refreshTasks();
}

function refresh() {
  refreshWorkers();
  refreshTasks();
}

// -- live changes ---------------------------------------------------------------------------
// A heartbeat (every few seconds per worker) refreshes the workers; a task's change the tasks (a
// burst of progress events refreshes once a second at most).
let socket = null, tasksPending = false;

function refreshTasksSoon() {
  if (tasksPending) return;
  tasksPending = true;
  setTimeout(() => { tasksPending = false; refreshTasks(); }, 1000);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onopen = () => {
    const key = keyInput.value.trim();
    if (key) socket.send(JSON.stringify({ action: "authenticate", api_key: key }));
    socket.send(JSON.stringify({ action: "subscribe", channels: ["cluster", "jobs"] }));
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.event === "subscribed") { $("connection").textContent = "live"; $("connection").className = "badge on"; }
    else if (message.channel === "cluster" && message.event === "heartbeat") refreshWorkers();
    else if (message.channel === "cluster" || message.channel === "jobs") { refreshTasksSoon(); refreshWorkers(); }
  };
  socket.onclose = () => {
    $("connection").textContent = "disconnected";
    $("connection").className = "badge off";
    setTimeout(connect, 2000);
  };
}

function reconnect() {
  if (socket) socket.close();   // onclose connects again, with the new key
}

// Besides the events: tasks whose status changes without one reaching this page (a pause takes effect at
// the task's next check) show it within a poll.
const POLL_MS = 3000;

refresh();
connect();
setInterval(refreshTasks, POLL_MS);
