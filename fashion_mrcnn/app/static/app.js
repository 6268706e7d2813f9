// fashion-mrcnn shop-the-look page: start-up status, uploads, results and messages. Talks to the
// JSON endpoints of fashion_mrcnn/app/server.py with relative URLs (so it also works behind a
// notebook proxy). The model runs once per photo; toggles, the score slider, hover and
// selection only redraw what the server returned (view.js); similar items: shop.js.
// document.body.dataset.state is "loading" | "idle" | "busy" | "done" | "error" (tests wait on it).
"use strict";

function setState(name) { document.body.dataset.state = name; }

// ------------------------------------------------------------------ messages
function markStale(text) {
  const note = $("stale-note");
  $("result-panel").classList.toggle("stale", Boolean(text));
  note.hidden = !text;
  note.textContent = text || "";
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
  $("progress").hidden = true;
  stopClock();
  if (state.result) {
    markStale(`This is the earlier photo, ${state.result.record.image}: the new one could not be analysed.`);
    hidePanel();
  }
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

function modelReady() { return Boolean(state.status && state.status.model.state === "ready"); }

function startDetectingClock() {
  const start = performance.now();
  stopClock();
  const tick = () => {
    const seconds = ((performance.now() - start) / 1000).toFixed(1);
    progress(modelReady() ? `Finding the garments… ${seconds} s`
      : `Warming up the model (first start), then finding the garments… ${seconds} s`);
  };
  tick();
  timer = setInterval(tick, 100);
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
    xhr.onerror = () => reject(new Error("The app cannot be reached: is its server still running?"));
    xhr.onload = () => {
      let answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }  // not JSON: said below
      if (xhr.status === 200 && answer) resolve(answer);
      else reject(new Error((answer && answer.error) || `The app answered ${xhr.status} ${xhr.statusText}: try again.`));
    };
    xhr.send(body);
  });
}

async function analyse(url, body, contentType, label) {
  clearMessages();
  setState("busy");
  if (state.result) markStale(`This is the earlier photo, ${state.result.record.image}: analysing ${label}…`);
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
    showError(err.message);
  }
}

function analyseFile(file) {
  if (!file) { showError("No file was received: drop or choose a photo (JPEG, PNG or WebP)."); return; }
  const url = `api/detect?filename=${encodeURIComponent(file.name || "pasted image")}`;
  analyse(url, file, file.type || "application/octet-stream", file.name || "the pasted image");
}

// ------------------------------------------------------------------ a result
function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("The analysed photo could not be loaded back from the app: try again."));
    img.src = url;
  });
}

async function show(result) {
  const record = result.record;
  const picture = await loadImage(result.image_url);
  state.result = result;
  state.selected = -1;
  state.hovered = -1;
  state.lastClick = null;
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
  markStale(null);
  $("result-name").textContent = record.image;
  $("result-panel").hidden = false;
  hidePanel();
  if (result.notice) { $("notice").textContent = result.notice; $("notice").hidden = false; }
  buildView(result);
  fitStage();
  render();
  if (result.main >= 0) select(result.main, { scroll: false });  // opens the sheet at once
  else if (result.similar) photoMatches();
  if (narrow()) $("result-panel").scrollIntoView({ block: "start" });
}

// ------------------------------------------------------------------ start-up status
function describeStatus() {
  const s = state.status;
  const line = $("status-line");
  if (!s) { line.textContent = "The app cannot be reached: is its server still running?"; return; }
  const model = s.model, catalog = s.catalog;
  if (model.state === "failed") { line.textContent = `The model could not be loaded: ${model.message}`; return; }
  if (model.state !== "ready") {
    line.textContent = "Warming up the model (a few seconds on the first start); you can already choose a photo.";
    return;
  }
  let text = "Ready for your photo";
  if (catalog.state === "indexing" || catalog.state === "waiting") {
    text += ` · preparing the catalogue: ${catalog.done} of ${catalog.total} photos`;
  } else if (catalog.state === "ready") {
    text += ` · ${catalog.items.toLocaleString("en")} items to shop from`;
  } else if (catalog.state === "failed") {
    text += ` · the catalogue could not be prepared (${catalog.message})`;
  }
  line.textContent = `${text}.`;
}

async function pollStatus() {
  const before = state.status;
  try {
    const response = await fetch("api/status");
    state.status = await response.json();
  } catch (err) {
    state.status = null;
  }
  describeStatus();
  const now = state.status;
  const settled = (s) => s && s.model.state !== "loading" && s.model.state !== "warming" &&
    s.catalog.state !== "indexing" && s.catalog.state !== "waiting";
  const changed = !before || !now || before.model.state !== now.model.state || before.catalog.state !== now.catalog.state;
  if (now && changed) {
    await loadInfo();
    if (now.catalog.state === "ready" && shop.query) runQuery();
  }
  if (!settled(now)) setTimeout(pollStatus, 1000);
}

async function loadInfo() {
  try {
    const response = await fetch("api/info");
    const info = await response.json();
    state.info = info;
    const m = info.model;
    if (m) {
      let text = `Model ${m.weights}: ${m.backbone}, ${m.image_size} px, ${m.classes.length} classes.`;
      text += info.catalog
        ? ` Catalogue: ${info.catalog.items} garments from ${info.catalog.images} photos (${info.catalog.source}).`
        : " No catalogue.";
      $("model-info").textContent = text;
    }
    showSamples(info.samples);
    if (document.body.dataset.state === "loading") setState("idle");
  } catch (err) {
    showError(`The app could not load its description: ${err.message}`);
  }
}

function showSamples(samples) {
  const box = $("samples");
  if (box.children.length === samples.length) return;
  box.replaceChildren();
  for (const s of samples) {
    const button = document.createElement("button");
    button.className = "sample";
    button.type = "button";
    button.dataset.index = s.index;
    button.title = s.tags.length ? `${s.name}: ${s.tags.join("; ")}` : s.name;
    const img = document.createElement("img");
    img.src = s.url;
    img.alt = "";
    const label = document.createElement("span");
    label.textContent = s.name;
    button.append(img, label);
    button.addEventListener("click", () => analyse(`api/samples/${s.index}/detect`, null, null, s.name));
    box.append(button);
  }
  $("samples-panel").hidden = samples.length === 0;
}

// ------------------------------------------------------------------ wiring
function wire() {
  const input = $("file-input"), zone = $("dropzone");
  input.addEventListener("change", (e) => { analyseFile(e.target.files[0]); e.target.value = ""; });
  $("choose").addEventListener("click", () => input.click());
  zone.addEventListener("keydown", (e) => {
    if (e.target !== zone || (e.key !== "Enter" && e.key !== " ")) return;
    e.preventDefault();
    input.click();
  });
  document.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("dragging"); });
  document.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    const files = e.dataTransfer && e.dataTransfer.files;
    if (files && files.length) analyseFile(files[0]);
    else showError("Nothing to analyse was dropped: drop a photo (JPEG, PNG or WebP).");
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
    if (state.selected >= 0 && !isShown(state.selected)) { state.selected = -1; hidePanel(); }
    render();
  });
  wireStage();
  wireShop();
}

wire();
pollStatus();
