// Jobs page: the job list (REST, refreshed by the WebSocket's jobs channel), a job's pipeline as
// a DAG of its steps and their states, its live log (SSE, /v1/logs/stream) and its loss curve
// (the METRIC lines that carry a loss). No build step; plain browser APIs only.
// The key field, authHeaders and api() are common.js's.
"use strict";

onKeyChange(() => refreshJobs());

// -- the job list ---------------------------------------------------------------------------
let selected = null;

async function refreshJobs() {
  try {
    const page = await api("GET", "/v1/jobs?limit=50");
    $("jobs-total").textContent = `${page.jobs.length} of ${page.pagination.total}`;
    const rows = page.jobs.map((job) => {
      const row = document.createElement("tr");
      row.dataset.job = job.job_id;
      row.className = `job-row ${job.status}${job.job_id === selected ? " selected" : ""}`;
      for (const text of [job.job_id, job.type, job.name || "", job.status, `${job.progress.percentage.toFixed(0)} %`,
                          job.created_at.replace("T", " ").slice(0, 19)]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.appendChild(cell);
      }
      row.addEventListener("click", () => select(job.job_id));
      return row;
    });
    $("jobs").replaceChildren(...rows);
    if (selected !== null) showJob(await api("GET", `/v1/jobs/${selected}`));
  } catch (error) {
    $("jobs-total").textContent = error.message;
  }
}

// -- one job --------------------------------------------------------------------------------
let stream = null;
let losses = [];

async function select(jobId) {
  selected = jobId;
  for (const row of document.querySelectorAll(".job-row")) row.classList.toggle("selected", Number(row.dataset.job) === jobId);
  $("job-log").replaceChildren();
  losses = [];
  drawLoss();
  showJob(await api("GET", `/v1/jobs/${jobId}`));
  follow(jobId);
}

function showJob(job) {
  $("job-title").textContent = `${job.job_id} (${job.type}${job.name ? ": " + job.name : ""})`;
  $("job-status").textContent = job.status + (job.error ? ` — ${job.error.message}` : "");
  const steps = job.progress.steps.map((step) => {
    const box = document.createElement("div");
    box.className = `step ${step.state}`;
    box.dataset.agent = step.agent_name;
    box.title = step.upstream.length ? `after ${step.upstream.join(", ")}` : "first";
    box.textContent = `${step.agent_name}\n${step.agent_class}\n${step.state}`;
    return box;
  });
  $("dag").replaceChildren(...steps);
}

function follow(jobId) {
  if (stream) stream.close();
  // EventSource cannot send headers: with API keys on, the log is read through the history instead.
  if (keyInput.value.trim()) return pollHistory(jobId, 0);
  stream = new EventSource(`/v1/logs/stream/${jobId}`);
  stream.onmessage = (event) => addLine(JSON.parse(event.data));
  stream.addEventListener("end", () => { stream.close(); refreshJobs(); });
  stream.addEventListener("error", () => stream.close());
}

async function pollHistory(jobId, after) {
  const page = await api("GET", `/v1/logs/history/${jobId}?after=${after}&limit=1000`);
  page.logs.forEach(addLine);
  const last = page.logs.length ? page.logs[page.logs.length - 1].seq : after;
  if (!page.ended && selected === jobId) setTimeout(() => pollHistory(jobId, last), 1000);
}

function addLine(line) {
  const entry = document.createElement("div");
  entry.className = `line ${line.level.toLowerCase()}`;
  entry.textContent = `${line.timestamp.slice(11, 23)} ${line.level.padEnd(6)} ${(line.agent || "-").padEnd(14)} ${line.message}`;
  $("job-log").appendChild(entry);
  $("job-log").scrollTop = $("job-log").scrollHeight;
  if (line.level === "METRIC" && line.loss !== null && line.loss !== undefined) {
    losses.push(line.loss);
    drawLoss();
  }
}

function drawLoss() {
  const canvas = $("loss");
  const context = canvas.getContext("2d");
  context.fillStyle = "#111827";
  context.fillRect(0, 0, canvas.width, canvas.height);
  $("loss-status").textContent = losses.length ? `${losses.length} points, last ${losses[losses.length - 1].toPrecision(4)}` : "no loss yet";
  if (losses.length < 2) return;
  const low = Math.min(...losses), high = Math.max(...losses), span = high - low || 1;
  context.strokeStyle = "#60a5fa";
  context.lineWidth = 2;
  context.beginPath();
  losses.forEach((loss, index) => {
    const x = 10 + (index / (losses.length - 1)) * (canvas.width - 20);
    const y = canvas.height - 10 - ((loss - low) / span) * (canvas.height - 20);
    if (index === 0) context.moveTo(x, y); else context.lineTo(x, y);
  });
  context.stroke();
}

// -- live changes ---------------------------------------------------------------------------
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onopen = () => {
    const key = keyInput.value.trim();
    if (key) socket.send(JSON.stringify({ action: "authenticate", api_key: key }));
    socket.send(JSON.stringify({ action: "subscribe", channels: ["jobs"] }));
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.event === "subscribed") { $("connection").textContent = "live"; $("connection").className = "badge on"; }
    else if (message.channel === "jobs" && message.event !== "progress") refreshJobs();
    else if (message.channel === "jobs" && message.data.job_id === selected) refreshJobs();
  };
  socket.onclose = () => {
    $("connection").textContent = "disconnected";
    $("connection").className = "badge off";
    setTimeout(connect, 2000);
  };
}

drawLoss();
refreshJobs();
connect();
