// The drawing page of experiments.draw. Everything it shows comes from two endpoints:
//   GET /api/info     the checkpoint's class names
//   POST /api/predict the image's bytes -> {class, name, probabilities, input} or {error}
// While you draw, the canvas is posted as a PNG at most every WAIT_MS (and once more when the
// stroke ends); only one request is in flight at a time. An opened or dropped file is posted
// as it is, so the server reads exactly the bytes `python -m experiments.predict` would.
"use strict";

const WAIT_MS = 150; // debounce: at most one prediction per this many ms while drawing
const INK = "#111"; // dark ink on white paper, like a pen on a page
const STROKE = 0.08; // line width as a fraction of the canvas: MNIST-like strokes
const DATASETS = { mnist: "MNIST", "fashion-mnist": "Fashion-MNIST" };

const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d");
const seen = $("seen").getContext("2d");
const result = $("result");

let classNames = [];
let maxBytes = Infinity;
let upload = null; // the File on the canvas, posted as it is until someone draws over it
let stroke = null; // {id, x, y}: the pointer drawing now
let generation = 0; // bumped by Clear and by a new file: older answers are dropped
let timer = null; // pending debounce
let pending = false; // the canvas changed since the last request was sent
let inFlight = false;
let opening = false; // a file is being decoded before it is sent
let answers = 0; // answers and errors shown so far, in data-answers (tests wait on it)

function paper() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.lineWidth = pad.width * STROKE;
  ctx.strokeStyle = INK;
  ctx.fillStyle = INK;
}

function point(e) {
  const r = pad.getBoundingClientRect();
  return { x: ((e.clientX - r.left) * pad.width) / r.width, y: ((e.clientY - r.top) * pad.height) / r.height };
}

function line(a, b) {
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.stroke();
}

function dot(p) {
  ctx.beginPath();
  ctx.arc(p.x, p.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
  ctx.fill();
}

// ---- Drawing: pointer events cover mouse, touch and pen alike.

pad.addEventListener("pointerdown", (e) => {
  if (e.pointerType === "mouse" && e.button !== 0) return;
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  upload = null; // from now on the canvas itself is what gets classified
  stroke = { id: e.pointerId, ...point(e) };
  dot(stroke);
  changed();
});

pad.addEventListener("pointermove", (e) => {
  if (!stroke || e.pointerId !== stroke.id) return;
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
  for (const ev of events.length ? events : [e]) {
    const p = point(ev);
    line(stroke, p);
    stroke.x = p.x;
    stroke.y = p.y;
  }
  changed();
});

for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, (e) => {
    if (!stroke || e.pointerId !== stroke.id) return;
    stroke = null;
    changed(0);
  });
}

// ---- Requests: debounced, one at a time, late answers to an old picture dropped.

function changed(wait = WAIT_MS) {
  pending = true;
  if (wait === 0 || !timer) {
    clearTimeout(timer);
    timer = setTimeout(send, wait);
  }
  showBusy();
}

function showBusy() {
  result.setAttribute("aria-busy", String(pending || inFlight || opening || timer !== null));
}

function canvasPng() {
  return new Promise((resolve) => pad.toBlob(resolve, "image/png"));
}

async function send() {
  timer = null;
  if (inFlight || !pending) return showBusy();
  pending = false;
  inFlight = true;
  showBusy();
  const asked = generation;
  try {
    const body = upload || (await canvasPng());
    const response = await fetch("api/predict", {
      method: "POST",
      headers: { "Content-Type": body.type || "application/octet-stream" },
      body,
    });
    const answer = await response.json().catch(() => ({
      error: `the server answered ${response.status} ${response.statusText} without JSON`,
    }));
    if (asked === generation) {
      if (response.ok) show(answer);
      else showError(answer.error || `the server answered ${response.status}`);
    }
  } catch (err) {
    if (asked === generation) {
      showError("the server cannot be reached: is `python -m experiments.draw` still running?");
    }
  } finally {
    inFlight = false;
    if (pending && !timer) send();
    else showBusy();
  }
}

// ---- The answer.

function buildBars() {
  const bars = $("bars");
  bars.replaceChildren();
  classNames.forEach((name) => {
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    track.append(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = "–";
    li.append(label, track, pct);
    bars.append(li);
  });
}

function percent(p) {
  return p >= 0.9995 ? "100%" : p < 0.0005 ? "0%" : `${(100 * p).toFixed(1)}%`;
}

function counted() {
  answers += 1;
  result.dataset.answers = String(answers);
}

function show(answer) {
  counted();
  $("error").hidden = true;
  result.removeAttribute("data-empty");
  $("answer").textContent = answer.name;
  $("answer").classList.toggle("long", answer.name.length > 3);
  $("confidence").textContent = `probability ${percent(answer.probabilities[answer.class])}`;
  [...$("bars").children].forEach((li, k) => {
    const p = answer.probabilities[k];
    li.querySelector(".fill").style.width = `${(100 * p).toFixed(2)}%`;
    li.querySelector(".pct").textContent = percent(p);
    li.classList.toggle("top", k === answer.class);
  });
  const pixels = seen.createImageData(28, 28);
  answer.input.flat().forEach((v, i) => {
    pixels.data.set([v, v, v, 255], 4 * i);
  });
  seen.putImageData(pixels, 0, 0);
}

function reset(message) {
  result.setAttribute("data-empty", "");
  $("answer").textContent = "–";
  $("answer").classList.remove("long");
  $("confidence").textContent = message;
  for (const li of $("bars").children) {
    li.querySelector(".fill").style.width = "0";
    li.querySelector(".pct").textContent = "–";
    li.classList.remove("top");
  }
  seen.clearRect(0, 0, 28, 28);
}

function showError(message) {
  counted();
  reset("no prediction");
  $("error").textContent = message;
  $("error").hidden = false;
}

function clear() {
  generation += 1;
  upload = null;
  pending = false;
  opening = false;
  clearTimeout(timer);
  timer = null;
  paper();
  $("error").hidden = true;
  reset("draw something to start");
  showBusy();
}

// ---- Files: the picker and drag-and-drop.

async function open(file) {
  clear();
  if (file.size > maxBytes) {
    showError(`${file.name} is ${file.size.toLocaleString()} bytes, more than the ` +
      `${maxBytes.toLocaleString()} accepted: choose a smaller image`);
    return;
  }
  const mine = generation;
  opening = true; // busy from now on, while the browser decodes the picture to show it
  showBusy();
  try {
    const image = await createImageBitmap(file);
    const scale = Math.min(pad.width / image.width, pad.height / image.height);
    const w = image.width * scale;
    const h = image.height * scale;
    ctx.drawImage(image, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
  } catch (err) {
    // The browser cannot show it; the server will say whether it can read it.
  }
  if (mine !== generation) return; // cleared, or another file opened, meanwhile
  opening = false;
  upload = file;
  changed(0);
}

$("file").addEventListener("change", (e) => {
  if (e.target.files.length) open(e.target.files[0]);
  e.target.value = "";
});

const zone = $("drop-zone");
let depth = 0; // dragenter/dragleave fire for every child: count them
zone.addEventListener("dragenter", (e) => {
  e.preventDefault();
  depth += 1;
  zone.classList.add("dragging");
});
zone.addEventListener("dragleave", () => {
  depth = Math.max(0, depth - 1);
  if (!depth) zone.classList.remove("dragging");
});
zone.addEventListener("dragover", (e) => e.preventDefault());
zone.addEventListener("drop", (e) => {
  e.preventDefault();
  depth = 0;
  zone.classList.remove("dragging");
  const file = e.dataTransfer.files[0];
  if (file) open(file);
  else showError("drop an image file (PNG, JPEG, ...) here");
});
window.addEventListener("dragover", (e) => e.preventDefault()); // a near miss must not
window.addEventListener("drop", (e) => e.preventDefault()); // navigate away from the page

$("clear").addEventListener("click", clear);

// ---- Start: the checkpoint's class names label the bars.

async function start() {
  paper();
  try {
    const info = await (await fetch("api/info")).json();
    classNames = info.class_names;
    maxBytes = info.max_bytes;
    const dataset = DATASETS[info.dataset] || info.dataset;
    if (info.dataset !== "mnist") {
      $("title").textContent = "Draw or drop a picture";
      document.title = `Draw or drop a picture · handjax`;
      $("hint").textContent = `This model knows ${dataset}: ${classNames.join(", ")}. ` +
        "Drop or open a photo of one, or draw it.";
    }
    const path = document.createElement("span");
    path.className = "path";
    path.textContent = `, from ${info.checkpoint}`;
    $("model").replaceChildren(`The ${info.experiment} model trained on ${dataset}`, path);
    buildBars();
    reset("draw something to start");
  } catch (err) {
    showError("the server cannot be reached: is `python -m experiments.draw` still running?");
  }
}

start();
