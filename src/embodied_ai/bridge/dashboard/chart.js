// A line chart on a canvas, shared by the Jobs page's curves (a training's loss, an rl_training
// job's reward): series of [x, y] points on common axes, the axes' titles and ranges, and a legend
// in HTML beside the canvas (readable as text, and kept off the plot). No build step; plain canvas.
"use strict";

const CHART_MARGIN = { left: 58, right: 14, top: 12, bottom: 36 };
const CHART_BACKGROUND = "#111827";
const CHART_INK = "#9ca3af";   // axes, their ranges and titles: grey, never a series' colour

// ``series``: [{label, colour, points: [[x, y], ...]}], x ascending; ``axes``: {x, y}, their titles.
// ``legend``: the element that lists the series. A series of one point draws as a dot.
function drawChart(canvas, legend, series, axes) {
  const context = canvas.getContext("2d");
  const plot = { left: CHART_MARGIN.left, right: canvas.width - CHART_MARGIN.right,
                 top: CHART_MARGIN.top, bottom: canvas.height - CHART_MARGIN.bottom };
  context.fillStyle = CHART_BACKGROUND;
  context.fillRect(0, 0, canvas.width, canvas.height);
  canvas.setAttribute("aria-label", `${axes.y} by ${axes.x}`);
  legend.replaceChildren(...series.map(legendEntry));
  drawAxes(context, plot, axes);
  const points = series.flatMap((line) => line.points);
  if (!points.length) return;
  const xs = chartRange(points.map(([x]) => x)), ys = chartRange(points.map(([, y]) => y));
  drawRanges(context, plot, xs, ys);
  const toX = (x) => plot.left + ((x - xs.low) / (xs.high - xs.low)) * (plot.right - plot.left);
  const toY = (y) => plot.bottom - ((y - ys.low) / (ys.high - ys.low)) * (plot.bottom - plot.top);
  context.lineWidth = 2;
  for (const line of series) {
    context.strokeStyle = context.fillStyle = line.colour;
    context.beginPath();
    if (line.points.length === 1) {
      const [[x, y]] = line.points;
      context.arc(toX(x), toY(y), 3, 0, 2 * Math.PI);
      context.fill();
      continue;
    }
    line.points.forEach(([x, y], index) => (index ? context.lineTo(toX(x), toY(y)) : context.moveTo(toX(x), toY(y))));
    context.stroke();
  }
}

// The lowest and highest of ``values`` (a loop: spreading a long series into Math.min overflows
// the stack); one value alone gets a unit range around it, so that it draws in the middle.
function chartRange(values) {
  let low = Infinity, high = -Infinity;
  for (const value of values) { low = Math.min(low, value); high = Math.max(high, value); }
  return high > low ? { low, high } : { low: low - 0.5, high: high + 0.5 };
}

function legendEntry(line) {
  const entry = document.createElement("span");
  entry.className = "legend-entry";
  const swatch = document.createElement("span");
  swatch.className = "swatch";
  swatch.style.background = line.colour;
  entry.append(swatch, line.label);
  return entry;
}

function drawAxes(context, plot, axes) {
  context.strokeStyle = context.fillStyle = CHART_INK;
  context.lineWidth = 1;
  context.beginPath();
  context.moveTo(plot.left, plot.top);
  context.lineTo(plot.left, plot.bottom);
  context.lineTo(plot.right, plot.bottom);
  context.stroke();
  context.font = "12px system-ui, sans-serif";
  context.textAlign = "center";
  context.textBaseline = "bottom";
  context.fillText(axes.x, (plot.left + plot.right) / 2, plot.bottom + CHART_MARGIN.bottom - 2);
  context.save();
  context.translate(14, (plot.top + plot.bottom) / 2);
  context.rotate(-Math.PI / 2);
  context.textBaseline = "middle";
  context.fillText(axes.y, 0, 0);
  context.restore();
}

function drawRanges(context, plot, xs, ys) {
  const label = (value) => (Number.isInteger(value) ? String(value) : value.toPrecision(3));
  context.fillStyle = CHART_INK;
  context.font = "11px system-ui, sans-serif";
  context.textBaseline = "top";
  context.textAlign = "left";
  context.fillText(label(xs.low), plot.left, plot.bottom + 3);
  context.textAlign = "right";
  context.fillText(label(xs.high), plot.right, plot.bottom + 3);
  context.textBaseline = "middle";
  context.fillText(label(ys.high), plot.left - 4, plot.top + 4);
  context.fillText(label(ys.low), plot.left - 4, plot.bottom - 4);
}
