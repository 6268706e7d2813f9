// fashion-mrcnn shop-the-look page: the analysed photo, its masks, boxes and tags, the list of
// garments, and which garment a click or a key means. The rules (fashion_mrcnn/app/selection.py
// states them; the server sends result.duplicate_of and result.main):
//   - a detection with duplicate_of >= 0 is another guess for the region of that detection: it
//     is drawn only while it is selected or hovered, and listed under it as an alternative;
//   - a click picks, among the shown detections whose mask covers the pixel, the highest score;
//     a second click on the same spot picks the next one, and so on round (candidatesAt);
//   - after each result the main garment (result.main) is selected.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  info: null,
  status: null,      // the /api/status answer
  result: null,      // the /api/detect answer
  masks: [],         // per instance: {bits: Uint8Array(H*W), layer: canvas, area}
  minScore: 0.5,
  hovered: -1,
  selected: -1,
  lastClick: null,   // {x, y, candidates}: where the last click on the photo was
};
//: CSS px within which a second click counts as "the same spot"
const SAME_SPOT_PX = 10;

// ------------------------------------------------------------------ colours
function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function luminance(hex) {
  // WCAG 2 relative luminance
  const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const [r, g, b] = hexToRgb(hex).map(lin);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

function textOn(background) {
  // black or white, whichever contrasts more: always >= 4.58:1 (WCAG AA asks 4.5)
  return contrast(background, "#000000") >= contrast(background, "#ffffff") ? "#000000" : "#ffffff";
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

// ------------------------------------------------------------------ which garments are shown
function isShown(i) { return state.result.record.instances[i].score >= state.minScore; }
function isDuplicate(i) { return (state.result.duplicate_of || [])[i] >= 0; }
function drawn(i, focus) { return isShown(i) && (!isDuplicate(i) || i === focus); }

function listOrder() {
  // the best guess of each region, each followed by its alternatives (record order: by score)
  const n = state.result.record.instances.length;
  const duplicateOf = state.result.duplicate_of || [];
  const order = [];
  for (let i = 0; i < n; i++) {
    if (isDuplicate(i)) continue;
    order.push(i);
    for (let j = 0; j < n; j++) if (duplicateOf[j] === i) order.push(j);
  }
  return order;
}

function shownGarments() { return listOrder().filter((i) => isShown(i) && !isDuplicate(i)); }

// ------------------------------------------------------------------ building the view
function pct(v, total) { return `${(100 * v / total).toFixed(3)}%`; }

function attributesOf(i) {
  // the instance's attributes by name ([{id, name, score}]; none without the attribute head)
  return (state.result.attributes || [])[i] || [];
}

function attributeText(attrs) {
  return attrs.map((a) => `${a.name} ${a.score.toFixed(2)}`).join(", ");
}

function attributeLine(attrs) {
  // "stripe 0.81, mini (length) 0.64" under the garment's name; the scores hide with the others
  const line = document.createElement("span");
  line.className = "attributes";
  attrs.forEach((a, k) => {
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = ` ${a.score.toFixed(2)}`;
    line.append(k ? ", " : "", a.name, score);
  });
  return line;
}

function buildView(result) {
  const { record, colors } = result;
  const overlay = $("overlay"), list = $("instances");
  overlay.replaceChildren();
  list.replaceChildren();
  record.instances.forEach((inst, i) => {
    const [x1, y1, x2, y2] = inst.box;
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
    Object.assign(tag.style, {
      left: pct(x1, record.width), top: pct(y1, record.height), background: colors[i], color: textOn(colors[i]),
    });
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = inst.class_name;
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = ` ${inst.score.toFixed(2)}`;
    tag.append(name, score);
    overlay.append(box, tag);
  });
  for (const i of listOrder()) {
    const inst = record.instances[i];
    const item = document.createElement("li");
    item.dataset.index = i;
    if (isDuplicate(i)) item.classList.add("alternative");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "pick";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colors[i];
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = inst.class_name;
    const attrs = attributesOf(i);
    const label = document.createElement("span");
    label.className = "label";
    label.append(name);
    if (attrs.length) label.append(attributeLine(attrs));
    const value = document.createElement("span");
    value.className = "score";
    value.textContent = inst.score.toFixed(2);
    const described = `${inst.class_name}, score ${inst.score.toFixed(2)}` +
      (attrs.length ? `, attributes: ${attributeText(attrs)}` : "");
    if (isDuplicate(i)) {
      const or = document.createElement("span");
      or.className = "or";
      or.textContent = "or: ";
      button.append(swatch, or, label, value);
      button.setAttribute("aria-label", `or ${described}`);
    } else {
      button.append(swatch, label, value);
      button.setAttribute("aria-label", described);
    }
    item.append(button);
    item.addEventListener("mouseenter", () => { state.hovered = i; render(); });
    item.addEventListener("mouseleave", () => { state.hovered = -1; render(); });
    button.addEventListener("focus", () => { state.hovered = i; render(); });
    button.addEventListener("blur", () => { state.hovered = -1; render(); });
    button.addEventListener("click", () => select(i, { scroll: true }));
    list.append(item);
  }
}

function render() {
  if (!state.result) return;
  const { record } = state.result;
  const showMasks = $("show-masks").checked;
  const focus = state.hovered >= 0 ? state.hovered : state.selected;
  const ctx = $("masks").getContext("2d");
  ctx.clearRect(0, 0, record.width, record.height);
  record.instances.forEach((inst, i) => {
    const on = drawn(i, focus);
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
    item.hidden = !isShown(i);
    item.classList.toggle("highlight", i === state.hovered);
    item.classList.toggle("selected", i === state.selected);
    item.querySelector("button").setAttribute("aria-pressed", i === state.selected ? "true" : "false");
  });
  ctx.globalAlpha = 1;
  const overlay = $("overlay");
  overlay.classList.toggle("no-boxes", !$("show-boxes").checked);
  overlay.classList.toggle("no-tags", !$("show-tags").checked);
  overlay.classList.toggle("no-scores", !$("show-scores").checked);
  $("instances").classList.toggle("no-scores", !$("show-scores").checked);
  $("min-score-value").textContent = state.minScore.toFixed(2);
  describeResult();
  declutterTags();
  updateDownloads();
}

function describeResult() {
  const shown = shownGarments();
  const names = shown.map((i) => state.result.record.instances[i].class_name);
  const below = state.result.record.instances.filter((inst) => inst.score < state.minScore).length;
  $("summary").textContent = shown.length
    ? `${shown.length} garment${shown.length === 1 ? "" : "s"} found: ${names.join("; ")}.`  // names hold commas
    : "No garment found in this photo.";
  const help = $("empty-help");
  help.hidden = shown.length > 0;
  help.textContent = "Try a photo of one person seen whole, in good light, with the clothes filling much of the frame" +
    (below ? `; or lower the minimum score below ${state.minScore.toFixed(2)} to see ${below} less certain guess${below === 1 ? "" : "es"}.` : ".");
  $("photo").setAttribute("aria-label", `the analysed photo ${state.result.record.image}: ` +
    (shown.length ? `${names.join("; ")}; the list below describes each` : "no garment found"));
}

function declutterTags() {
  // Keep each tag on the photo (inside its box when the box starts at the photo's top, moved
  // left at its right edge), then move it down while it overlaps a tag already placed; tags are
  // placed best score first, so the likeliest garments keep their places.
  const stage = $("stage").getBoundingClientRect();
  const tags = [...document.querySelectorAll("#overlay .tag")].filter((t) => !t.hidden);
  tags.sort((a, b) => state.result.record.instances[b.dataset.index].score - state.result.record.instances[a.dataset.index].score);
  const placed = [];
  for (const tag of tags) {
    tag.style.marginTop = "0px";
    tag.style.marginLeft = "0px";
    tag.classList.remove("inside");
    let r = tag.getBoundingClientRect();
    if (r.top < stage.top) { tag.classList.add("inside"); r = tag.getBoundingClientRect(); }
    if (r.right > stage.right) { tag.style.marginLeft = `${stage.right - r.right}px`; r = tag.getBoundingClientRect(); }
    for (let tries = 0; tries < 8; tries++) {
      const hit = placed.find((p) => r.left < p.right && p.left < r.right && r.top < p.bottom && p.top < r.bottom);
      if (!hit) break;
      tag.style.marginTop = `${parseFloat(tag.style.marginTop) + (hit.bottom - r.top) + 1}px`;
      r = tag.getBoundingClientRect();
    }
    placed.push(r);
  }
}

function updateDownloads() {
  const id = state.result.id, s = state.minScore.toFixed(2);
  const flag = (el) => ($(el).checked ? 1 : 0);
  $("download-json").href = `api/results/${id}/record.json?min_score=${s}`;
  $("download-png").href = `api/results/${id}/overlay.png?min_score=${s}` +
    `&masks=${flag("show-masks")}&boxes=${flag("show-boxes")}&scores=${flag("show-scores")}`;
}

function fitStage() {
  // The photo's display size: the column's width, at most 70% of the window's height (on a
  // phone: what the bottom sheet of similar items, 46% of the height, leaves), and small photos
  // (a 128 px test scene) enlarged to at least 360 px where there is room.
  if (!state.result) return;
  const { width, height } = state.result.record;
  const room = $("result-panel").clientWidth;
  const tall = Math.max(160, narrow() ? window.innerHeight * 0.54 - 60 : window.innerHeight * 0.7);
  const scale = Math.min(room / width, tall / height, Math.max(1, 360 / width));
  $("stage").style.width = `${Math.max(1, Math.floor(width * scale))}px`;
  declutterTags();
}

// ------------------------------------------------------------------ picking a garment
function pixelAt(event) {
  const rect = $("photo").getBoundingClientRect();
  const { width, height } = state.result.record;
  const x = Math.floor((event.clientX - rect.left) * width / rect.width);
  const y = Math.floor((event.clientY - rect.top) * height / rect.height);
  return x < 0 || y < 0 || x >= width || y >= height ? null : { x, y };
}

function candidatesAt(event) {
  // shown detections whose mask covers the pixel under the pointer, the highest score first
  if (!state.result) return [];
  const at = pixelAt(event);
  if (!at) return [];
  const { instances, width } = state.result.record;
  return instances.map((_, i) => i)
    .filter((i) => isShown(i) && state.masks[i].bits[at.y * width + at.x])
    .sort((a, b) => instances[b].score - instances[a].score || a - b);
}

function clickPick(event) {
  const candidates = candidatesAt(event);
  const last = state.lastClick;
  const again = last && Math.hypot(event.pageX - last.x, event.pageY - last.y) <= SAME_SPOT_PX &&
    candidates.includes(state.selected);
  state.lastClick = { x: event.pageX, y: event.pageY };  // page px: scrolling does not move it
  if (!candidates.length) return -1;
  if (!again) return candidates[0];
  return candidates[(candidates.indexOf(state.selected) + 1) % candidates.length];
}

function stepSelection(delta) {
  const order = listOrder().filter(isShown);
  if (!order.length) return;
  const at = order.indexOf(state.selected);
  const next = at < 0 ? 0 : (at + delta + order.length) % order.length;
  select(order[next], { scroll: false });
}

function wireStage() {
  const stage = $("stage");
  stage.addEventListener("mousemove", (e) => {
    const [first = -1] = candidatesAt(e);
    if (first !== state.hovered) { state.hovered = first; render(); }
  });
  stage.addEventListener("mouseleave", () => { state.hovered = -1; render(); });
  stage.addEventListener("click", (e) => { const i = clickPick(e); if (i >= 0) select(i, { scroll: true }); });
  stage.addEventListener("keydown", (e) => {
    if (!state.result) return;
    if (e.key === "ArrowRight" || e.key === "ArrowDown") { e.preventDefault(); stepSelection(1); }
    if (e.key === "ArrowLeft" || e.key === "ArrowUp") { e.preventDefault(); stepSelection(-1); }
  });
  window.addEventListener("resize", fitStage);
}
