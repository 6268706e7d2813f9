// fashion-mrcnn shop-the-look page. Talks to the JSON endpoints of fashion_mrcnn/app/server.py
// with relative URLs (so it also works behind a notebook proxy). The model runs once per photo;
// toggles, the score slider, hover and selection only redraw what the server returned.
// document.body.dataset.state is "idle" | "busy" | "done" | "error" (tests wait on it).
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  info: null,
  result: null,      // the /api/detect answer
  masks: [],         // per instance: {bits: Uint8Array(H*W), layer: canvas, area}
  minScore: 0.5,
  hovered: -1,
  selected: -1,
};

// ------------------------------------------------------------------ status line
function setState(name) { document.body.dataset.state = name; }

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
  $("progress").hidden = true;
  setState("error");
}

function clearMessages() {
  $("error").hidden = true;
  $("error").textContent = "";
  $("notice").hidden = true;
}

let timer = null;
function progress(text, fraction) {
  $("progress").hidden = false;
  $("progress-text").textContent = text;
  const bar = $("progress-bar");
  if (fraction === undefined) bar.removeAttribute("value"); else bar.value = fraction;
}

function startDetectingClock() {
  const start = performance.now();
  stopClock();
  progress("Detecting garments… 0.0 s");
  timer = setInterval(() => {
    progress(`Detecting garments… ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }, 100);
}

function stopClock() { if (timer) { clearInterval(timer); timer = null; } }

// ------------------------------------------------------------------ requests
function postForResult(url, body, contentType) {
  // XMLHttpRequest, not fetch: it reports upload progress.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    if (contentType) xhr.setRequestHeader("Content-Type", contentType);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) progress(`Uploading ${Math.round(100 * e.loaded / e.total)}%`, e.loaded / e.total);
    };
    xhr.upload.onload = () => startDetectingClock();
    xhr.onerror = () => reject(new Error("the server could not be reached"));
    xhr.onload = () => {
      let answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: reported below */ }
      if (xhr.status === 200 && answer) resolve(answer);
      else reject(new Error((answer && answer.error) || `the server answered ${xhr.status} ${xhr.statusText}`));
    };
    xhr.send(body);
  });
}

async function analyse(url, body, contentType, label) {
  clearMessages();
  setState("busy");
  state.uploadStarted = performance.now();
  progress(body ? `Uploading ${label}…` : `Sending ${label}…`);
  if (!body) startDetectingClock();
  try {
    const result = await postForResult(url, body, contentType);
    progress("Drawing…");
    await show(result);
    stopClock();
    $("progress").hidden = true;
    state.overlayMs = performance.now() - state.uploadStarted;
    setState("done");
  } catch (err) {
    stopClock();
    showError(err.message);
  }
}

function analyseFile(file) {
  if (!file) { showError("no file received: drop or choose an image file"); return; }
  const url = `api/detect?filename=${encodeURIComponent(file.name || "pasted image")}`;
  analyse(url, file, file.type || "application/octet-stream", file.name || "image");
}

// ------------------------------------------------------------------ masks
function decodeRle(rle, h, w) {
  // Kaggle RLE: "start length ..." pairs, 1-indexed, column-major (down the columns first).
  const bits = new Uint8Array(h * w);
  const tokens = rle.trim() ? rle.trim().split(/\s+/).map(Number) : [];
  let area = 0;
  for (let t = 0; t + 1 < tokens.length; t += 2) {
    const start = tokens[t] - 1, length = tokens[t + 1];
    for (let p = start; p < start + length; p++) {
      const y = p % h, x = (p - y) / h;
      bits[y * w + x] = 1;
    }
    area += length;
  }
  return { bits, area };
}

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function maskLayer(bits, w, h, color) {
  const layer = document.createElement("canvas");
  layer.width = w; layer.height = h;
  const ctx = layer.getContext("2d");
  const img = ctx.createImageData(w, h);
  const [r, g, b] = hexToRgb(color);
  for (let i = 0; i < bits.length; i++) {
    if (bits[i]) { img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255; }
  }
  ctx.putImageData(img, 0, 0);
  return layer;
}

// ------------------------------------------------------------------ drawing
function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the analysed image could not be loaded"));
    img.src = url;
  });
}

async function show(result) {
  const record = result.record;
  const picture = await loadImage(result.image_url);
  state.result = result;
  state.selected = -1;
  state.hovered = -1;
  const photo = $("photo"), masks = $("masks");
  photo.width = masks.width = record.width;
  photo.height = masks.height = record.height;
  photo.getContext("2d").drawImage(picture, 0, 0, record.width, record.height);
  state.masks = record.instances.map((inst, i) => {
    const { bits, area } = decodeRle(inst.mask_rle, record.height, record.width);
    return { bits, area, layer: maskLayer(bits, record.width, record.height, result.colors[i]) };
  });
  const slider = $("min-score");
  slider.value = result.default_min_score;
  state.minScore = Number(slider.value);
  $("result-panel").hidden = false;
  $("similar-panel").hidden = true;
  if (result.notice) { $("notice").textContent = result.notice; $("notice").hidden = false; }
  buildOverlay();
  render();
}

function visible(i) { return state.result.record.instances[i].score >= state.minScore; }

function buildOverlay() {
  const { record, colors } = state.result;
  const overlay = $("overlay"), list = $("instances");
  overlay.replaceChildren();
  list.replaceChildren();
  record.instances.forEach((inst, i) => {
    const [x1, y1, x2, y2] = inst.box;
    const pct = (v, total) => `${(100 * v / total).toFixed(3)}%`;
    const box = document.createElement("div");
    box.className = "box";
    box.dataset.index = i;
    Object.assign(box.style, {
      left: pct(x1, record.width), top: pct(y1, record.height),
      width: pct(x2 - x1, record.width), height: pct(y2 - y1, record.height), borderColor: colors[i],
    });
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.dataset.index = i;
    Object.assign(tag.style, { left: pct(x1, record.width), top: pct(y1, record.height), background: colors[i] });
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = inst.class_name;
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = ` ${inst.score.toFixed(2)}`;
    tag.append(name, score);
    overlay.append(box, tag);

    const item = document.createElement("li");
    item.dataset.index = i;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colors[i];
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = inst.class_name;
    const value = document.createElement("span");
    value.className = "score";
    value.textContent = inst.score.toFixed(2);
    item.append(swatch, label, value);
    item.addEventListener("mouseenter", () => { state.hovered = i; render(); });
    item.addEventListener("mouseleave", () => { state.hovered = -1; render(); });
    item.addEventListener("click", () => select(i));
    list.append(item);
  });
}

function render() {
  if (!state.result) return;
  const { record } = state.result;
  const showMasks = $("show-masks").checked;
  const focus = state.hovered >= 0 ? state.hovered : state.selected;
  const ctx = $("masks").getContext("2d");
  ctx.clearRect(0, 0, record.width, record.height);
  let shown = 0;
  record.instances.forEach((inst, i) => {
    const on = visible(i);
    if (on) shown++;
    if (on && showMasks) {
      ctx.globalAlpha = focus < 0 ? 0.45 : (i === focus ? 0.6 : 0.15);
      ctx.drawImage(state.masks[i].layer, 0, 0);
    }
    for (const el of document.querySelectorAll(`#overlay [data-index="${i}"]`)) {
      el.hidden = !on;
      el.classList.toggle("highlight", i === focus);
      el.classList.toggle("dim", focus >= 0 && i !== focus);
    }
    const item = document.querySelector(`#instances li[data-index="${i}"]`);
    item.hidden = !on;
    item.classList.toggle("highlight", i === state.hovered);
    item.classList.toggle("selected", i === state.selected);
  });
  ctx.globalAlpha = 1;
  const overlay = $("overlay");
  overlay.classList.toggle("no-boxes", !$("show-boxes").checked);
  overlay.classList.toggle("no-tags", !$("show-tags").checked);
  overlay.classList.toggle("no-scores", !$("show-scores").checked);
  $("instances").classList.toggle("no-scores", !$("show-scores").checked);
  $("min-score-value").textContent = state.minScore.toFixed(2);
  const total = record.instances.length;
  $("summary").textContent = `${shown} garment${shown === 1 ? "" : "s"} at score ≥ ${state.minScore.toFixed(2)}` +
    ` (${total} detected in all; the model took ${state.result.seconds.toFixed(2)} s)`;
  updateDownloads();
}

function updateDownloads() {
  const id = state.result.id, s = state.minScore.toFixed(2);
  const flag = (el) => ($(el).checked ? 1 : 0);
  $("download-json").href = `api/results/${id}/record.json?min_score=${s}`;
  $("download-png").href = `api/results/${id}/overlay.png?min_score=${s}` +
    `&masks=${flag("show-masks")}&boxes=${flag("show-boxes")}&scores=${flag("show-scores")}`;
}

// ------------------------------------------------------------------ picking a garment
function instanceAt(event) {
  // the smallest visible instance whose mask holds the pixel under the pointer
  if (!state.result) return -1;
  const photo = $("photo");
  const rect = photo.getBoundingClientRect();
  const { width, height } = state.result.record;
  const x = Math.floor((event.clientX - rect.left) * width / rect.width);
  const y = Math.floor((event.clientY - rect.top) * height / rect.height);
  if (x < 0 || y < 0 || x >= width || y >= height) return -1;
  let best = -1;
  state.masks.forEach((m, i) => {
    if (visible(i) && m.bits[y * width + x] && (best < 0 || m.area < state.masks[best].area)) best = i;
  });
  return best;
}

async function select(i) {
  state.selected = i;
  render();
  const inst = state.result.record.instances[i];
  const panel = $("similar-panel");
  panel.hidden = false;
  $("similar-title").textContent = `Similar to this ${inst.class_name} (score ${inst.score.toFixed(2)})`;
  $("similar-message").textContent = "searching the catalogue…";
  $("similar-items").replaceChildren();
  if (!state.result.similar) {
    $("similar-message").textContent = "No catalogue is loaded (start the app with --catalog INDEX).";
    return;
  }
  try {
    const response = await fetch(`api/results/${state.result.id}/similar/${i}?top=6`);
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || `the server answered ${response.status}`);
    if (state.selected !== i) return;  // another garment was clicked meanwhile
    $("similar-message").textContent = answer.message ||
      `${answer.items.length} of ${answer.class_items} '${inst.class_name}' items in the catalogue`;
    for (const item of answer.items) {
      const figure = document.createElement("figure");
      figure.className = "similar-item";
      const img = document.createElement("img");
      img.src = item.crop_url;
      img.alt = `${item.class_name} from ${item.image}`;
      const caption = document.createElement("figcaption");
      const name = document.createElement("div");
      name.className = "name";
      name.textContent = item.class_name;
      const sim = document.createElement("div");
      sim.className = "similarity";
      sim.textContent = `similarity ${item.similarity.toFixed(2)}`;
      const source = document.createElement("div");
      source.className = "source";
      source.textContent = item.image;
      source.title = item.image;
      caption.append(name, sim, source);
      figure.append(img, caption);
      $("similar-items").append(figure);
    }
  } catch (err) {
    $("similar-message").textContent = `Similar items unavailable: ${err.message}`;
  }
}

// ------------------------------------------------------------------ wiring
function wire() {
  $("file-input").addEventListener("change", (e) => { analyseFile(e.target.files[0]); e.target.value = ""; });
  const zone = $("dropzone");
  document.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("dragging"); });
  document.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    const files = e.dataTransfer && e.dataTransfer.files;
    if (files && files.length) analyseFile(files[0]);
    else showError("nothing to analyse was dropped: drop an image file");
  });
  document.addEventListener("paste", (e) => {
    const items = (e.clipboardData && e.clipboardData.items) || [];
    for (const item of items) {
      if (item.kind === "file") { e.preventDefault(); analyseFile(item.getAsFile()); return; }
    }
  });
  for (const id of ["show-masks", "show-boxes", "show-tags", "show-scores"]) $(id).addEventListener("change", render);
  $("min-score").addEventListener("input", (e) => {
    state.minScore = Number(e.target.value);
    if (state.selected >= 0 && !visible(state.selected)) { state.selected = -1; $("similar-panel").hidden = true; }
    render();
  });
  const stage = $("stage");
  stage.addEventListener("mousemove", (e) => {
    const i = instanceAt(e);
    if (i !== state.hovered) { state.hovered = i; render(); }
  });
  stage.addEventListener("mouseleave", () => { state.hovered = -1; render(); });
  stage.addEventListener("click", (e) => { const i = instanceAt(e); if (i >= 0) select(i); });
}

async function loadInfo() {
  try {
    const response = await fetch("api/info");
    const info = await response.json();
    state.info = info;
    const m = info.model;
    let text = `Model ${m.weights} · ${m.backbone} · ${m.image_size} px · ${m.classes.length} classes`;
    text += info.catalog
      ? ` · catalogue: ${info.catalog.items} garments from ${info.catalog.images} photos (${info.catalog.source})`
      : " · no catalogue";
    $("model-info").textContent = text;
    const box = $("samples");
    box.replaceChildren();
    for (const s of info.samples) {
      const button = document.createElement("button");
      button.className = "sample";
      button.type = "button";
      button.dataset.index = s.index;
      button.title = s.tags.length ? `${s.name}: ${s.tags.join("; ")}` : s.name;
      const img = document.createElement("img");
      img.src = s.url;
      img.alt = s.name;
      const label = document.createElement("span");
      label.textContent = s.name;
      button.append(img, label);
      button.addEventListener("click", () => analyse(`api/samples/${s.index}/detect`, null, null, s.name));
      box.append(button);
    }
    $("samples-panel").hidden = info.samples.length === 0;
    setState("idle");
  } catch (err) {
    showError(`the app could not load its description: ${err.message}`);
  }
}

wire();
loadInfo();
