// The drawing page of experiments.draw. Everything it shows comes from two endpoints:
//   GET /api/info                the checkpoint's class names
//   POST /api/predict[?explain=K] the image's bytes -> {class, name, probabilities, input,
//                                 saliency} or {error}
// While you draw, the canvas is posted as a PNG at most every WAIT_MS (and once more when the
// stroke ends); only one request is in flight at a time. An opened or dropped file is posted
// as it is, so the server reads exactly the bytes `python -m experiments.predict` would.
// Choosing a class's bar asks for that class's map (answer.js shows it) until it is chosen
// again or the pad is cleared.
import { buildBars, markChosen, reset, show, showError } from "./answer.js";

const WAIT_MS = 150; // debounce: at most one prediction per this many ms while drawing
const INK = "#111"; // dark ink on white paper, like a pen on a page
const STROKE = 0.08; // line width as a fraction of the canvas: MNIST-like strokes
const DATASETS = { mnist: "MNIST", "fashion-mnist": "Fashion-MNIST" };

const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d");
const result = $("result");

let maxBytes = Infinity;
let upload = null; // the File on the canvas, posted as it is until someone draws over it
let stroke = null; // {id, x, y}: the pointer drawing now
let generation = 0; // bumped by Clear and by a new file: older answers are dropped
let timer = null; // pending debounce
let pending = false; // the canvas changed since the last request was sent
let inFlight = false;
let opening = false; // a file is being decoded before it is sent
let chosen = null; // the class whose map is asked for; null: the predicted class's

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
    Object.assign(stroke, p);
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
    const query = chosen === null ? "" : `?explain=${chosen}`;
    const response = await fetch(`api/predict${query}`, {
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

// ---- Choosing a class: its map is asked for, for the picture on the pad.

function choose(k) {
  chosen = chosen === k ? null : k;
  markChosen(chosen);
  if (!result.hasAttribute("data-empty")) changed(0); // an answer is shown: ask again
}

function clear() {
  generation += 1;
  upload = null;
  chosen = null;
  markChosen(chosen);
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
    const [w, h] = [image.width * scale, image.height * scale];
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
    const classNames = info.class_names;
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
    buildBars(classNames, choose);
    reset("draw something to start");
  } catch (err) {
    showError("the server cannot be reached: is `python -m experiments.draw` still running?");
  }
}

start();
