// Learn my hand: the user's own drawings of a symbol (one the net misses, or a new one), kept in the browser's storage,
// exported and imported as one JSON file in the format of hasy_nb.fewshot.UserExamples, and combined with the net's
// classes exactly as hasy_nb.fewshot.FewShotGuesser does: the net's guess, unless the nearest user drawing in the net's
// embedding (cosine) beats the cosine to the guessed class's prototype by the margin (default_margin: MARGIN_ONE for
// one taught label, MARGIN_MANY for more). No dependency: the pad hands in the embedding function and the prototypes.

import { el, filePicker } from "./dom.js";

export const STORAGE_KEY = "hasy_nb.user_examples";
export const EXPORT_NAME = "hasy_nb-examples.json";

/** base64 of a 32x32 uint8 image's 1,024 bytes, row by row (hasy_nb.fewshot.encode_image). */
export function encodeImage(image) {
  let s = "";
  for (let i = 0; i < image.length; i++) s += String.fromCharCode(image[i]);
  return btoa(s);
}

/** The 32x32 uint8 image of encodeImage's text (hasy_nb.fewshot.decode_image); `where` names it in errors. */
export function decodeImage(text, size, where) {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0)
    throw new Error(`${where}: an image is not base64 text`);
  const raw = atob(text);
  if (raw.length !== size * size) throw new Error(`${where}: an image must be ${size * size} bytes, got ${raw.length}`);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/** A label: a non-empty string without surrounding spaces (hasy_nb.fewshot._check_label). */
export function checkLabel(label, where = "examples") {
  if (typeof label !== "string" || !label.trim() || label !== label.trim())
    throw new Error(`${where}: a label must be a non-empty string without surrounding spaces, got ${JSON.stringify(label)}`);
  return label;
}

/** The user's drawings: label -> [32x32 uint8 images], in the order labels were first added (as UserExamples). */
export class UserExamples {
  constructor(settings, examples = {}) {
    this.settings = settings;
    this.examples = new Map();
    for (const [label, images] of Object.entries(examples)) for (const im of images) this.add(label, im);
  }
  add(label, image, where = "examples") {
    checkLabel(label, where);
    const n = this.settings.size * this.settings.size;
    if (!(image instanceof Uint8Array) || image.length !== n) throw new Error(`${where}: an example must be a ${this.settings.size}x${this.settings.size} uint8 image`);
    if (!this.examples.has(label)) this.examples.set(label, []);
    this.examples.get(label).push(Uint8Array.from(image));
  }
  remove(label) {
    if (!this.examples.has(label)) throw new Error(`examples: no label ${JSON.stringify(label)}`);
    this.examples.delete(label);
  }
  get labels() { return Array.from(this.examples.keys()); }
  get size() { let n = 0; for (const v of this.examples.values()) n += v.length; return n; }
  /** [images, labels], one entry per drawing (UserExamples.arrays). */
  arrays() {
    const images = [], labels = [];
    for (const [l, ims] of this.examples) for (const im of ims) { images.push(im); labels.push(l); }
    return [images, labels];
  }
  toJSON() {
    const examples = {};
    for (const [l, ims] of this.examples) examples[l] = ims.map(encodeImage);
    const S = this.settings;
    return { format: S.format, version: S.version, size: S.size, examples };
  }
  /** Examples from a parsed file, checked as UserExamples.from_json does; `where` (the file's name) leads each error. */
  static fromJSON(obj, settings, where = "examples") {
    if (!obj || typeof obj !== "object" || Array.isArray(obj) || obj.format !== settings.format)
      throw new Error(`${where}: not a ${settings.format} file`);
    if (obj.version !== settings.version || obj.size !== settings.size)
      throw new Error(`${where}: version ${JSON.stringify(obj.version)} size ${JSON.stringify(obj.size)}; this reads version ${settings.version}, size ${settings.size}`);
    if (!obj.examples || typeof obj.examples !== "object" || Array.isArray(obj.examples))
      throw new Error(`${where}: "examples" must be an object of label -> list of images`);
    const out = new UserExamples(settings);
    for (const [label, texts] of Object.entries(obj.examples)) {
      if (!Array.isArray(texts)) throw new Error(`${where}: the images of ${JSON.stringify(label)} must be a list`);
      for (const t of texts) out.add(checkLabel(label, where), decodeImage(t, settings.size, `${where}, ${JSON.stringify(label)}`), where);
    }
    return out;
  }
  /** A new set with these drawings and then `other`'s (UserExamples.merge). */
  merge(other) {
    const out = new UserExamples(this.settings);
    for (const src of [this, other]) for (const [l, ims] of src.examples) for (const im of ims) out.add(l, im);
    return out;
  }
}

/** Each vector scaled to length 1 (torch.nn.functional.normalize, eps 1e-12). */
export function unit(v) {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.max(Math.sqrt(s), 1e-12), out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] / n;
  return out;
}

/** hasy_nb.fewshot.default_margin: MARGIN_ONE for one taught label, else the cautious MARGIN_MANY. */
export function defaultMargin(nLabels, settings) {
  return nLabels <= 1 ? settings.margin_one : settings.margin_many;
}

/**
 * hasy_nb.fewshot.combine_parts + pick for one drawing: {label (the user's, or null: the net's guess stands), guess,
 * sNet, sUser, nearest}. prototypes: Float32Array (classes x dim, unit rows); exampleUnits: unit embeddings.
 */
export function combine(logits, embedding, prototypes, exampleUnits, exampleLabels, margin) {
  let guess = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[guess]) guess = i;
  const u = unit(embedding), D = u.length;
  let sNet = 0;
  for (let j = 0; j < D; j++) sNet += u[j] * prototypes[guess * D + j];
  let nearest = -1, sUser = -Infinity;
  exampleUnits.forEach((e, k) => {
    let s = 0;
    for (let j = 0; j < D; j++) s += u[j] * e[j];
    if (s > sUser) { sUser = s; nearest = k; }
  });
  const label = nearest >= 0 && sUser > sNet + margin ? exampleLabels[nearest] : null;
  return { label, guess, sNet, sUser, nearest };
}

/**
 * The "Learn my hand" panel in `parent`. o: {settings (model.json's "fewshot"), embed(image) -> Float64Array,
 * currentImage() -> Uint8Array | null (what the net sees now, null when there is nothing to teach), labels (HASY's, for
 * the label box), loadPrototypes() -> Promise<Float32Array>, onChange() (guess again), root, storage (localStorage)}.
 */
export function mountTeach(parent, o) {
  const S = o.settings, storage = o.storage === undefined ? (typeof localStorage !== "undefined" ? localStorage : null) : o.storage;
  const box = el("div", "hsp-teach");
  const label = el("input", "hsp-teach-label");
  label.placeholder = "its LaTeX: \\alpha, or a new one: \\hourglass";
  label.setAttribute("aria-label", "the LaTeX (or name) of the symbol you drew");
  const listId = "hsp-teach-labels-" + Math.random().toString(36).slice(2);
  const dl = el("datalist");
  dl.id = listId;
  for (const l of o.labels || []) { const opt = el("option"); opt.value = l; dl.append(opt); }
  label.setAttribute("list", listId);
  const add = el("button", "hsp-btn hsp-teach-add", "+ Teach this drawing");
  add.type = "button";
  const list = el("div", "hsp-teach-list");
  const exportBtn = el("button", "hsp-btn hsp-teach-export", "Export…");
  exportBtn.type = "button";
  exportBtn.title = "save your drawings as one JSON file (hasy_nb.fewshot.UserExamples.load reads it)";
  const [importBtn, importInput] = filePicker("Import…", "hsp-btn hsp-teach-import-btn", "hsp-teach-import",
                                             ".json,application/json");
  const status = el("div", "hsp-teach-status hsp-muted");
  const row = el("div", "hsp-toolbar");
  row.append(label, add);
  const files = el("div", "hsp-toolbar");
  files.append(exportBtn, importBtn, importInput);
  box.append(el("div", "hsp-title", "Learn my hand"), row, list, files, status, dl);
  parent.append(box);

  let examples = new UserExamples(S), units = [], labels = [], prototypes = null, loading = null;
  function say(text, error = false) {
    status.textContent = text;
    status.classList.toggle("hsp-error", error);
    if (o.root) o.root.dataset.teachStatus = text;
  }
  function embedAll() {
    const [images, ls] = examples.arrays();
    units = images.map((im) => unit(o.embed(im)));
    labels = ls;
  }
  function save() {
    if (!storage) return;
    try { storage.setItem(STORAGE_KEY, JSON.stringify(examples.toJSON())); }
    catch (e) { say(`could not keep the drawings in the browser's storage: ${e.message || e}`, true); }
  }
  function showList() {
    list.replaceChildren(...examples.labels.map((l) => {
      const r = el("div", "hsp-teach-item");
      r.dataset.label = l;
      const n = examples.examples.get(l).length;
      const forget = el("button", "hsp-copy hsp-teach-remove", "Forget");
      forget.type = "button";
      forget.title = `forget your ${n} drawing(s) of ${l}`;
      forget.addEventListener("click", () => { examples.remove(l); changed(`forgot ${l}`); });
      r.append(el("code", "", l), el("span", "hsp-muted", ` ${n} drawing${n === 1 ? "" : "s"}`), forget);
      return r;
    }));
    if (!examples.size) list.replaceChildren(el("div", "hsp-muted", "Draw a symbol, type its LaTeX, click Teach: a few drawings teach the pad your hand."));
    if (o.root) { o.root.dataset.taught = String(examples.size); o.root.dataset.taughtLabels = JSON.stringify(examples.labels); }
  }
  function ensurePrototypes() {
    if (prototypes || loading) return;
    loading = o.loadPrototypes().then((p) => {
      prototypes = p;
      if (o.root) o.root.dataset.teachReady = "1";
      if (o.onChange) o.onChange();
    }, (e) => say(`cannot learn: ${e.message || e}`, true));
  }
  function changed(text) {
    embedAll(); save(); showList();
    if (examples.size) ensurePrototypes();
    if (text) say(text);
    if (o.onChange) o.onChange();
  }
  function teach(l, image) {
    checkLabel(l, "teach");
    if (!image) throw new Error("teach: draw the symbol first (the pad is empty)");
    examples.add(l, image, "teach");
    changed(`taught ${l}: ${examples.examples.get(l).length} drawing(s)`);
  }
  add.addEventListener("click", () => {
    try { teach(label.value.trim(), o.currentImage()); } catch (e) { say(e.message, true); }
  });
  function exportText() { return JSON.stringify(examples.toJSON()); }
  exportBtn.addEventListener("click", () => {
    const a = el("a");
    a.href = URL.createObjectURL(new Blob([exportText()], { type: "application/json" }));
    a.download = EXPORT_NAME;
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  });
  /** Add a file's drawings to one's own (UserExamples.merge); `name` leads any error. */
  function importText(text, name) {
    let obj;
    try { obj = JSON.parse(text); } catch (e) { throw new Error(`${name}: not JSON (${e.message})`); }
    const got = UserExamples.fromJSON(obj, S, name);
    examples = examples.merge(got);
    changed(`imported ${got.size} drawing(s) of ${got.labels.length} symbol(s) from ${name}`);
    return got.size;
  }
  importInput.addEventListener("change", async () => {
    const f = importInput.files && importInput.files[0];
    if (!f) return;
    try { importText(await f.text(), f.name); } catch (e) { say(e.message, true); }
    importInput.value = "";
  });
  if (storage) {
    const kept = storage.getItem(STORAGE_KEY);
    if (kept) {
      try { examples = UserExamples.fromJSON(JSON.parse(kept), S, "the browser's stored drawings"); }
      catch (e) { say(`${e.message}; they are left out`, true); }
    }
  }
  embedAll(); showList();
  if (examples.size) ensurePrototypes();
  return {
    get examples() { return examples; },
    get ready() { return !!prototypes; },
    active: () => examples.size > 0,
    teach, importText, exportText,
    clear() { examples = new UserExamples(S); changed("forgot every drawing"); },
    /** The user's label for a drawing when a taught example wins (FewShotGuesser's rule), else null. */
    guess(embedding, logits) {
      if (!examples.size || !prototypes) return null;
      return combine(logits, embedding, prototypes, units, labels, defaultMargin(examples.labels.length, S));
    },
  };
}
