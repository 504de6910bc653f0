// The answer, as the page shows it: the predicted class and its probability, one bar per class
// (each a button: choose one to see its map), the 28x28 picture the network saw, and the
// saliency map of one class drawn over that picture.
//
// The map is the gradient of the class's log-probability with respect to each pixel, from the
// network's own backward pass (nn/saliency.py); "Strokes" shows it times the pixel (gradient x
// input: which strokes carried the answer), "Gradient" shows it alone (where more ink would
// push). It is drawn as experiments/saliency_figures.py draws it: the digit as light grey ink on
// white paper, red where a pixel pushes towards the class, blue where it pushes away, more
// opaque the larger its |value|, fully opaque from the map's 99th percentile of |value| up.

const RED = [178, 24, 43]; // ColorBrewer RdBu's ends, as in experiments/saliency_figures.py
const BLUE = [33, 102, 172];
const SHADE = 0.3; // the ink's grey under the map: 1 - SHADE * ink
const FULL = 0.99; // quantile of |value| from which a pixel's colour is fully opaque

const $ = (id) => document.getElementById(id);
const result = $("result");
const seen = $("seen").getContext("2d");
const why = $("why").getContext("2d");

let last = null; // the answer on show, redrawn when the kind of map changes
let answers = 0; // answers and errors shown so far, in data-answers (tests wait on it)

function mapKind() {
  return document.querySelector("input[name=map]:checked").value;
}

for (const input of document.querySelectorAll("input[name=map]")) {
  input.addEventListener("change", () => last && paintMap(last));
}

// Bars: one button per class; choose(k) is called with the class whose button was pressed.
export function buildBars(names, choose) {
  const bars = $("bars");
  bars.replaceChildren();
  names.forEach((name, k) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "bar";
    button.title = `Show the map of ${name}`;
    button.setAttribute("aria-pressed", "false");
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
    button.append(label, track, pct);
    button.addEventListener("click", () => choose(k));
    li.append(button);
    bars.append(li);
  });
}

// Which class's button is pressed: the chosen one (null: none, the map follows the answer).
export function markChosen(chosen) {
  [...$("bars").children].forEach((li, k) => {
    li.querySelector("button").setAttribute("aria-pressed", String(k === chosen));
  });
}

function percent(p) {
  return p >= 0.9995 ? "100%" : p < 0.0005 ? "0%" : `${(100 * p).toFixed(1)}%`;
}

function counted() {
  answers += 1;
  result.dataset.answers = String(answers);
}

// The q-quantile of values, interpolated between neighbours as numpy.quantile does.
function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = q * (sorted.length - 1);
  const i = Math.floor(at);
  return sorted[i] + (at - i) * ((sorted[i + 1] ?? sorted[i]) - sorted[i]);
}

function paintMap(answer) {
  const map = answer.saliency[mapKind()].flat();
  const sizes = map.map(Math.abs);
  const top = quantile(sizes, FULL) || Math.max(...sizes) || 1; // the largest when few are not 0
  const pixels = why.createImageData(28, 28);
  answer.input.flat().forEach((v, i) => {
    const base = 255 * (1 - (SHADE * v) / 255); // grey ink on white paper
    const alpha = Math.min(sizes[i] / top, 1);
    const colour = map[i] > 0 ? RED : BLUE;
    const mix = colour.map((c) => Math.round((1 - alpha) * base + alpha * c));
    pixels.data.set([...mix, 255], 4 * i);
  });
  why.putImageData(pixels, 0, 0);
  const { name } = answer.saliency;
  $("why").dataset.class = String(answer.saliency.class);
  $("why-caption").textContent = answer.saliency.class === answer.class ? `Why ${name}?` : `Map of ${name}`;
  $("why-text").replaceChildren(
    span("red", "Red"), ` pixels push towards ${name}, `, span("blue", "blue"), " away from it",
    span("more", ". Choose a class for its map"), ".",
  );
}

function span(className, text) {
  const s = document.createElement("span");
  s.className = className;
  s.textContent = text;
  return s;
}

export function show(answer) {
  counted();
  last = answer;
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
    li.classList.toggle("mapped", k === answer.saliency.class);
  });
  const pixels = seen.createImageData(28, 28);
  answer.input.flat().forEach((v, i) => {
    pixels.data.set([v, v, v, 255], 4 * i);
  });
  seen.putImageData(pixels, 0, 0);
  paintMap(answer);
}

export function reset(message) {
  last = null;
  result.setAttribute("data-empty", "");
  $("answer").textContent = "–";
  $("answer").classList.remove("long");
  $("confidence").textContent = message;
  for (const li of $("bars").children) {
    li.querySelector(".fill").style.width = "0";
    li.querySelector(".pct").textContent = "–";
    li.classList.remove("top", "mapped");
  }
  seen.clearRect(0, 0, 28, 28);
  why.clearRect(0, 0, 28, 28);
  delete $("why").dataset.class;
  $("why-caption").textContent = "Why?";
}

export function showError(message) {
  counted();
  reset("no prediction");
  $("error").textContent = message;
  $("error").hidden = false;
}
