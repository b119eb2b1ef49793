// Jobs page: the job list (REST, refreshed by the WebSocket's jobs channel), a job's pipeline as
// a DAG of its steps and their states, its live log (SSE, /v1/logs/stream) and its curve from
// the log's METRIC lines: the loss of those that carry one, or, for an rl_training job, the reward
// per episode with its moving average and the success rate. No build step; plain browser APIs only.
// The key field, authHeaders and api() are common.js's; drawChart() is chart.js's.
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

async function select(jobId) {
  selected = jobId;
  for (const row of document.querySelectorAll(".job-row")) row.classList.toggle("selected", Number(row.dataset.job) === jobId);
  if (stream) stream.close();   // no more lines of the job shown before into this one's log and curve
  $("job-log").replaceChildren();
  const job = await api("GET", `/v1/jobs/${jobId}`);
  resetCurve(job.type);
  showJob(job);
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
  if (selected !== jobId) return;   // another job was selected meanwhile: these lines are not its
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
  if (line.level === "METRIC" && takeMetric(line)) drawCurveSoon();
}

// -- the job's curve ------------------------------------------------------------------------
const RL_TRAINING = "rl_training";
const REWARD_WINDOW = 10;   // the moving average's episodes
const LINE_COLOUR = "#60a5fa", AVERAGE_COLOUR = "#f59e0b";

let rewardCurve = false;    // the job shown is an rl_training job: its curve is the reward's
let losses = [];            // each METRIC line's loss, in order
let episodes = new Map();   // rl_training: episode -> {reward, success}; an episode a resumed job ran again: its last run

function resetCurve(jobType) {
  rewardCurve = jobType === RL_TRAINING;
  losses = [];
  episodes = new Map();
  $("loss-chart").hidden = rewardCurve;
  $("reward-chart").hidden = !rewardCurve;
  drawCurve();
}

// Whether ``line`` (a METRIC line) adds a point to the job's curve. An rl_training episode's line:
// step = the episode, values = {reward, steps, latency_ms, success} (skills/training.py).
function takeMetric(line) {
  if (!rewardCurve) {
    if (line.loss === null || line.loss === undefined) return false;
    losses.push(line.loss);
    return true;
  }
  const values = line.values || {};
  if (!Number.isInteger(line.step) || typeof values.reward !== "number") return false;
  episodes.set(line.step, { reward: values.reward, success: Number(values.success) || 0 });
  return true;
}

// A burst of lines (a finished job's whole log) draws once, at the next frame.
let curvePending = false;
function drawCurveSoon() {
  if (curvePending) return;
  curvePending = true;
  requestAnimationFrame(() => { curvePending = false; drawCurve(); });
}

function drawCurve() {
  if (rewardCurve) drawReward(); else drawLoss();
}

function drawLoss() {
  $("loss-status").textContent = losses.length ? `${losses.length} points, last ${losses[losses.length - 1].toPrecision(4)}` : "no loss yet";
  drawChart($("loss"), $("loss-legend"), [{ label: "loss", colour: LINE_COLOUR, points: losses.map((loss, index) => [index + 1, loss]) }],
            { x: "point", y: "loss" });
}

// The caption's success rate: the mean success score (0..1 each) of the episodes drawn.
function drawReward() {
  const shown = [...episodes].sort(([a], [b]) => a - b);
  const rewards = shown.map(([episode, { reward }]) => [episode, reward]);
  const average = movingAverage(rewards, REWARD_WINDOW);
  $("reward-status").textContent = "no episodes yet";
  if (shown.length) {
    const successRate = shown.reduce((sum, [, { success }]) => sum + success, 0) / shown.length;
    $("reward-status").textContent = `${shown.length} episodes · last reward ${rewards[rewards.length - 1][1].toPrecision(4)} · ` +
      `moving average ${average[average.length - 1][1].toPrecision(4)} · success rate ${(100 * successRate).toFixed(0)} %`;
  }
  drawChart($("reward"), $("reward-legend"), [
    { label: "reward per episode", colour: LINE_COLOUR, points: rewards },
    { label: `moving average (${REWARD_WINDOW} episodes)`, colour: AVERAGE_COLOUR, points: average },
  ], { x: "episode", y: "reward" });
}

// Each point's y replaced by the mean of its own and the up to ``window`` - 1 points before it.
function movingAverage(points, window) {
  return points.map(([x], index) => {
    const last = points.slice(Math.max(0, index + 1 - window), index + 1);
    return [x, last.reduce((sum, [, y]) => sum + y, 0) / last.length];
  });
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

drawCurve();
refreshJobs();
connect();
