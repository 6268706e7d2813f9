// fashion-mrcnn shop-the-look page: the similar-items panel (a side column on wide screens, a
// bottom sheet on phones). A query is a garment of the analysed photo ("similar to this"), the
// whole photo when no garment was found, or a catalogue item ("more like this"); the category
// and colour filters re-run the last query.
"use strict";

const shop = { query: null, token: 0 };
const TOP = 6;

function narrow() { return window.matchMedia("(max-width: 700px)").matches; }

function catalogState() { return (state.status && state.status.catalog) || { state: "none" }; }

function fillFilters(categoryId) {
  const catalog = state.info && state.info.catalog;
  const category = $("filter-category"), colour = $("filter-colour");
  category.replaceChildren(new Option("all categories", "all"));
  colour.replaceChildren(new Option("any colour", ""));
  if (!catalog) return;
  for (const c of catalog.categories || []) category.append(new Option(`${c.name} (${c.items})`, String(c.id)));
  for (const name of catalog.colours || []) colour.append(new Option(name, name));
  const own = [...category.options].some((o) => o.value === String(categoryId));
  category.value = own ? String(categoryId) : "all";
}

function openSheet(open) {
  const panel = $("similar-panel");
  panel.classList.toggle("collapsed", !open);
  $("sheet-toggle").setAttribute("aria-expanded", open ? "true" : "false");
  $("sheet-toggle").textContent = open ? "Hide" : "Show";
  $("similar-body").hidden = !open;
  document.body.classList.toggle("sheet-open", open && !panel.hidden);
}

function showPanel(title, scroll) {
  const panel = $("similar-panel");
  panel.hidden = false;
  $("similar-title").textContent = title;
  openSheet(true);
  if (scroll && !narrow()) panel.scrollIntoView({ block: "nearest" });
}

function hidePanel() {
  $("similar-panel").hidden = true;
  document.body.classList.remove("sheet-open");
  shop.query = null;
}

async function select(i, { scroll = false } = {}) {
  state.selected = i;
  render();
  const inst = state.result.record.instances[i];
  showPanel(`Similar to this ${inst.class_name}`, scroll);
  if (!state.result.similar) {
    $("similar-items").replaceChildren();
    $("similar-message").textContent = "No catalogue is loaded, so there is nothing to shop from.";
    return;
  }
  fillFilters(inst.class_id);
  shop.query = { url: `api/results/${state.result.id}/similar/${i}`, what: inst.class_name };
  await runQuery();
}

async function photoMatches() {
  // No garment found: items like the whole photo (every category), rather than nothing at all.
  showPanel("Similar to this whole photo", false);
  fillFilters(null);
  shop.query = { url: `api/results/${state.result.id}/similar/photo`, what: "photo" };
  await runQuery();
}

async function moreLike(item) {
  showPanel(`More like this: ${item.label}`, true);
  fillFilters(item.category_id);
  shop.query = { url: `api/catalog/items/${item.id}/similar`, what: item.class_name };
  await runQuery();
}

function queryUrl() {
  const params = new URLSearchParams({ top: String(TOP) });
  params.set("category", $("filter-category").value || "all");
  if ($("filter-colour").value) params.set("colour", $("filter-colour").value);
  return `${shop.query.url}?${params}`;
}

async function runQuery() {
  if (!shop.query) return;
  const token = ++shop.token;
  const list = $("similar-items"), message = $("similar-message");
  list.replaceChildren();
  const catalog = catalogState();
  if (catalog.state === "indexing" || catalog.state === "waiting") {
    message.textContent = `The catalogue is still being prepared (${catalog.done || 0} of ${catalog.total || "?"} photos); ` +
      "similar items appear here when it is ready.";
    return;
  }
  message.textContent = "Searching the catalogue…";
  try {
    const response = await fetch(queryUrl());
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || `the server answered ${response.status}`);
    if (token !== shop.token) return;  // another query was made meanwhile
    message.textContent = answer.message || `${answer.items.length} similar item${answer.items.length === 1 ? "" : "s"}`;
    for (const item of answer.items) list.append(card(item));
  } catch (err) {
    if (token === shop.token) message.textContent = `Similar items are not available: ${err.message}`;
  }
}

function card(item) {
  const li = document.createElement("li");
  li.className = "card";
  li.dataset.item = item.id;
  li.dataset.image = item.image;
  li.dataset.category = item.category_id;
  li.dataset.similarity = item.similarity;
  const img = document.createElement("img");
  img.src = item.crop_url;
  img.alt = item.label;
  const text = document.createElement("div");
  text.className = "card-text";
  const safeUrl = typeof item.url === "string" && /^https?:\/\//i.test(item.url);
  const title = document.createElement(safeUrl ? "a" : "span");
  title.className = "title";
  title.textContent = item.label;
  if (safeUrl) { title.href = item.url; title.target = "_blank"; title.rel = "noopener noreferrer"; }
  text.append(title);
  for (const key of ["brand", "price"]) {
    if (item[key]) {
      const span = document.createElement("span");
      span.className = key;
      span.textContent = item[key];
      text.append(span);
    }
  }
  const colour = document.createElement("span");
  colour.className = "colour";
  colour.textContent = `${item.colour} ${item.class_name}`;
  const more = document.createElement("button");
  more.type = "button";
  more.className = "more button";
  more.textContent = "More like this";
  more.setAttribute("aria-label", `more like this: ${item.label}`);
  more.addEventListener("click", () => moreLike(item));
  text.append(colour, more);
  li.append(img, text);
  return li;
}

function wireShop() {
  $("filter-category").addEventListener("change", runQuery);
  $("filter-colour").addEventListener("change", runQuery);
  $("sheet-toggle").addEventListener("click", () => openSheet($("similar-panel").classList.contains("collapsed")));
}
