// The symbol pad in the browser: draw, the net (hasynet.js) guesses on every pointer move, click a guess to add
// its LaTeX to the equation (rendered with KaTeX when it is on the page), search symbols by name, copy commands,
// see the \usepackage lines. Used by the static site (index.html) and by the SymbolPad widget.
import { padInput, logits, softmax, loadModel, judge, embedAndLogits, float16Array } from "./hasynet.js";
import { el } from "./dom.js";

// what the pad says comes from Python, with the model: model.pad.hints (hasy_nb.export.PAD_HINTS), one text for both
const GRID = 32;
const PAGE = 5;          // guesses shown at first; "show more" adds this many again and again... up to MORE_MAX
const MORE = 15;
const SEARCH_MAX = 40;


async function copyText(text) {
  try { await navigator.clipboard.writeText(text); return true; }
  catch (e) {   // no clipboard permission (http, an iframe): the old way
    const a = document.createElement("textarea");
    a.value = text; document.body.append(a); a.select();
    const ok = document.execCommand("copy"); a.remove(); return ok;
  }
}

/** The \usepackage lines a LaTeX source needs: from the HASY commands in it (symbols.json), plus amsmath for \text. */
export function packagesFor(source, symbols) {
  const found = [];
  for (const s of symbols) {
    if (!s.latex.startsWith("\\") || !s.usepackage) continue;
    const esc = s.latex.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const m = new RegExp(esc + (/[A-Za-z]$/.test(s.latex) ? "(?![A-Za-z])" : "")).exec(source);
    if (m) found.push([m.index, s.usepackage]);
  }
  found.sort((a, b) => a[0] - b[0]);
  const lines = /\\text(?![A-Za-z])/.test(source) ? ["\\usepackage{amsmath}"] : [];
  for (const [, u] of found) if (!lines.includes(u)) lines.push(u);
  return lines;
}

/** Symbols whose command contains the query (case-insensitive; "alpha", "arrow", "\\sum"), best matches first. */
export function searchSymbols(query, symbols, max = SEARCH_MAX) {
  const q = query.trim().toLowerCase().replace(/^\\/, "");
  if (!q) return [];
  const scored = [];
  for (const s of symbols) {
    const name = s.latex.toLowerCase().replace(/^\\/, "");
    const at = name.indexOf(q);
    if (at < 0) continue;
    scored.push([(name === q ? 0 : at === 0 ? 1 : 2) * 1000 + name.length, s]);
  }
  scored.sort((a, b) => a[0] - b[0]);
  return scored.slice(0, max).map((x) => x[1]);
}

/**
 * The drawing board the pads share: a background canvas and an ink canvas in `boardEl` (width x height px), strokes in
 * units of the board's height ({points: [[x, y], ...], width, erase}: y 0..1 down, x 0..width/height), pointer input
 * (mouse, touch, pen; a pen's eraser end rubs out), undo/redo history, the pen and the eraser.
 * o: {width, height (px), penWidth, eraserWidth (numbers, or functions read at each pen-down), css(name, fallback) (the
 * theme's colours; default: the fallbacks), classes ([background, ink] canvas classes), strokes (to start with),
 * tool ("pen"), background(g) (paints the background canvas after it is cleared), overlay(ctx) (drawn over the strokes
 * when no stroke is being drawn), onChange(strokes) (after every change: a stroke ended, undo, redo, clear, set),
 * onMove(drawing, phase) (the pen went down ("down") or moved ("move"); drawing: the strokes and the one being drawn),
 * onTool(tool), buttons: {pen, eraser, undo, redo, clear} (any may be left out), keyTarget and keysOn() (Ctrl-Z,
 * Ctrl-Shift-Z, Ctrl-Y, E and P while keysOn() says so and no text field has the focus)}.
 */
export function mountBoard(boardEl, o) {
  const W = o.width, H = o.height;
  const css = o.css || ((name, fallback) => fallback);
  const value = (v) => (typeof v === "function" ? v() : v);
  const [bgClass, inkClass] = o.classes || ["hsp-grid", "hsp-ink"];
  boardEl.style.width = W + "px";
  boardEl.style.height = H + "px";
  const bg = el("canvas", bgClass), ink = el("canvas", inkClass);
  boardEl.append(bg, ink);
  const dpr = (typeof window !== "undefined" && window.devicePixelRatio) || 1;
  for (const c of [bg, ink]) { c.width = Math.round(W * dpr); c.height = Math.round(H * dpr); c.style.width = W + "px"; c.style.height = H + "px"; }
  const g = bg.getContext("2d"), ctx = ink.getContext("2d");
  g.scale(dpr, dpr); ctx.scale(dpr, dpr);
  function drawBackground() {
    g.clearRect(0, 0, W, H);
    if (o.background) o.background(g);
  }

  let strokes = (o.strokes || []).slice(), current = null, tool = o.tool || "pen";
  const history = [], undone = [];          // strokes lists to undo to, and to redo
  const b = o.buttons || {};
  function drawStroke(s) {
    const pts = s.points;
    if (!pts || !pts.length) return;
    ctx.save();
    ctx.globalCompositeOperation = s.erase ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = css("--hsp-ink", "#111");
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.lineWidth = Math.max(1, s.width * H);
    ctx.beginPath();
    if (pts.length === 1) { ctx.arc(pts[0][0] * H, pts[0][1] * H, ctx.lineWidth / 2, 0, 2 * Math.PI); ctx.fill(); }
    else { ctx.moveTo(pts[0][0] * H, pts[0][1] * H); for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0] * H, pts[i][1] * H); ctx.stroke(); }
    ctx.restore();
  }
  function redraw() {
    ctx.clearRect(0, 0, W, H);
    for (const s of strokes) drawStroke(s);
    if (current) drawStroke(current);
    else if (o.overlay) { ctx.save(); o.overlay(ctx); ctx.restore(); }
  }
  function commit(next, silent = false) {   // a new drawing state that undo can go back from; silent: no onChange
    history.push(strokes);
    strokes = next;
    undone.length = 0;
    redraw();
    if (!silent && o.onChange) o.onChange(strokes);
  }
  function undo() { if (!history.length) return; undone.push(strokes); strokes = history.pop(); redraw(); if (o.onChange) o.onChange(strokes); }
  function redo() { if (!undone.length) return; history.push(strokes); strokes = undone.pop(); redraw(); if (o.onChange) o.onChange(strokes); }
  const drawing = () => (current ? strokes.concat([current]) : strokes);

  function pos(ev) {       // units of the board's height: x runs to W / H
    const r = ink.getBoundingClientRect();
    const x = Math.min(r.width / r.height, Math.max(0, (ev.clientX - r.left) / r.height));
    const y = Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height));
    return [Math.round(x * 10000) / 10000, Math.round(y * 10000) / 10000];
  }
  ink.addEventListener("pointerdown", (ev) => {
    if ((ev.button !== 0 && ev.button !== 5) || current) return;
    ev.preventDefault();
    try { ink.setPointerCapture(ev.pointerId); } catch (e) { /* a synthetic event has no pointer to capture */ }
    const erase = tool === "eraser" || ev.button === 5;          // a pen's eraser end
    current = { points: [pos(ev)], width: value(erase ? o.eraserWidth : o.penWidth), erase };
    redraw();
    if (o.onMove) o.onMove(drawing(), "down");
  });
  ink.addEventListener("pointermove", (ev) => {
    if (!current) return;
    ev.preventDefault();
    const p = pos(ev), last = current.points[current.points.length - 1];
    if (Math.abs(p[0] - last[0]) + Math.abs(p[1] - last[1]) < 0.002) return;
    current.points.push(p);
    redraw();
    if (o.onMove) o.onMove(drawing(), "move");
  });
  function end(ev) {
    if (!current) return;
    if (ev && ev.preventDefault) ev.preventDefault();
    const s = current;
    current = null;
    commit(strokes.concat([s]));
  }
  ink.addEventListener("pointerup", end);
  ink.addEventListener("pointercancel", end);
  ink.addEventListener("lostpointercapture", end);

  function setTool(t) {
    tool = t;
    if (b.pen) b.pen.classList.toggle("hsp-active", t === "pen");
    if (b.eraser) b.eraser.classList.toggle("hsp-active", t === "eraser");
    boardEl.classList.toggle("hsp-erasing", t === "eraser");
    if (o.onTool) o.onTool(t);
  }
  if (b.pen) b.pen.addEventListener("click", () => setTool("pen"));
  if (b.eraser) b.eraser.addEventListener("click", () => setTool("eraser"));
  if (b.undo) b.undo.addEventListener("click", undo);
  if (b.redo) b.redo.addEventListener("click", redo);
  if (b.clear) b.clear.addEventListener("click", () => { if (strokes.length) commit([]); });
  if (o.keyTarget) o.keyTarget.addEventListener("keydown", (ev) => {
    if (o.keysOn && !o.keysOn()) return;
    const t = ev.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;   // their own undo
    const k = ev.key.toLowerCase();
    if ((ev.ctrlKey || ev.metaKey) && k === "z") { ev.preventDefault(); if (ev.shiftKey) redo(); else undo(); }
    else if ((ev.ctrlKey || ev.metaKey) && k === "y") { ev.preventDefault(); redo(); }
    else if (!ev.ctrlKey && !ev.metaKey && !ev.altKey && k === "e") setTool("eraser");
    else if (!ev.ctrlKey && !ev.metaKey && !ev.altKey && k === "p") setTool("pen");
  });
  if (typeof window !== "undefined" && window.matchMedia) {   // the theme may change while the page is open
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => { drawBackground(); redraw(); });
  }
  drawBackground();
  setTool(tool);
  redraw();
  return {
    get strokes() { return strokes; },
    set strokes(v) { commit(v.map((s) => ({ points: s.points.map((p) => p.slice()), width: s.width ?? value(o.penWidth), erase: !!s.erase }))); },
    get drawing() { return drawing(); },      // the strokes and the one being drawn
    get penDown() { return current !== null; },   // a stroke is being drawn
    get tool() { return tool; },
    commit, undo, redo, setTool, redraw, drawBackground,
    clear: () => commit([]),
  };
}

/** The board's 32x32 grid (a major line every 8 cells) on the board's colour; on a wide board it runs on to the right. */
export function drawGrid(g, width, height, css = (name, fallback) => fallback) {
  g.fillStyle = css("--hsp-board", "#fff");
  g.fillRect(0, 0, width, height);
  g.lineWidth = 1;
  for (let i = 0; (i * height) / GRID <= width + 0.5; i++) {
    const p = (i * height) / GRID;
    g.strokeStyle = i % 8 === 0 ? css("--hsp-grid-major", "#c9d3e0") : css("--hsp-grid", "#eef1f5");
    g.beginPath(); g.moveTo(p, 0); g.lineTo(p, height); g.stroke();
    if (i > GRID) continue;
    g.beginPath(); g.moveTo(0, p); g.lineTo(width, p); g.stroke();
  }
}

/** The pad's frame in `root` (the SymbolPad widget's too): the board's column on the left, the guesses' on the right. */
export function padFrame(root) {
  root.classList.add("hasy-symbolpad");
  const wrap = el("div", "hsp-wrap"), left = el("div", "hsp-left"), right = el("div", "hsp-right");
  wrap.append(left, right);
  root.append(wrap);
  return { wrap, left, right };
}

/**
 * Mount a pad into `root`. opts: {model, symbols (array of {latex, usepackage, mode, img}), size (px),
 * onPick(latex) (default: add to the page's equation), equation: true to show the equation panel,
 * katex (the KaTeX object, default window.katex)}.
 */
export function mountPad(root, opts) {
  const { model } = opts;
  const symbols = opts.symbols;
  const bySym = new Map(symbols.map((s) => [s.latex, s]));
  const size = opts.size || 320;
  const katex = opts.katex || (typeof window !== "undefined" ? window.katex : undefined);
  root.dataset.engine = model.kind;
  const { wrap, left, right } = padFrame(root);

  // ---- toolbar and board ----------------------------------------------------------------------
  const bar = el("div", "hsp-toolbar");
  const btn = (cls, text, title) => { const b = el("button", "hsp-btn " + cls, text); b.type = "button"; b.title = title; return b; };
  const penBtn = btn("hsp-pen", "✎ Pen", "draw (P)");
  const eraserBtn = btn("hsp-eraser", "⌫ Eraser", "rub out (E)");
  const undoBtn = btn("hsp-undo", "↶ Undo", "undo the last stroke (Ctrl-Z)");
  const redoBtn = btn("hsp-redo", "↷ Redo", "redo (Ctrl-Shift-Z)");
  const clearBtn = btn("hsp-clear", "✕ Clear", "wipe the drawing");
  bar.append(penBtn, eraserBtn, undoBtn, redoBtn, clearBtn);
  const board = el("div", "hsp-board");
  const preview = el("div", "hsp-preview");
  const seen = el("canvas", "hsp-preview-img");
  seen.width = seen.height = GRID;
  seen.title = "what the net sees (32x32)";
  preview.append(el("span", "hsp-caption", "the net sees"), seen);
  left.append(bar, board, preview);

  const guessTitle = el("div", "hsp-title", "Guesses");
  const guessBox = el("div", "hsp-guesses");
  const moreBtn = btn("hsp-more", "Show more", "show more guesses");
  const search = el("input", "hsp-search");
  search.type = "search";
  search.placeholder = "find a symbol by name: alpha, arrow, sum…";
  search.setAttribute("aria-label", "find a symbol by name or command");
  const found = el("div", "hsp-found");
  const detailsSlot = el("div", "hsp-details-slot"), teachSlot = el("div", "hsp-teach-slot");
  left.append(teachSlot);
  right.append(guessTitle, guessBox, moreBtn, detailsSlot, el("div", "hsp-title", "Search"), search, found);
  for (const e of right.children) e.classList.add("hsp-symbol-only");     // hidden in formula mode

  const css = (name, fallback) => getComputedStyle(root).getPropertyValue(name).trim() || fallback;
  let probs = null, shown = PAGE;
  let verdict = null, mine = null, current = null;   // judge()'s answer, the user's winning example, the image guessed
  let details = null, teach = null;                  // details.js and teach.js panels (opts.details, opts.teach)
  const guessMs = [];                // compute + DOM time of each guess refresh
  const penWidth = opts.penWidth || 0.035, eraserWidth = opts.eraserWidth || 0.12;
  const keyTarget = opts.keyTarget || (typeof document !== "undefined" ? document : null);
  const pad = mountBoard(board, { width: size, height: size, penWidth, eraserWidth, css,
    background: (g) => drawGrid(g, size, size, css), onChange: () => guess(), onMove: () => guess(),
    buttons: { pen: penBtn, eraser: eraserBtn, undo: undoBtn, redo: redoBtn, clear: clearBtn },
    keyTarget, keysOn: () => !root.classList.contains("hsp-formula-mode") });    // the formula board has its own keys

  // ---- guesses -----------------------------------------------------------------------------------
  function candidate(latex, prob, rank, cls, onPick = choose) {
    const s = bySym.get(latex) || { latex, usepackage: "", mode: "math", img: "" };
    const row = el("div", cls);
    row.dataset.latex = latex;
    if (rank) row.dataset.rank = String(rank);
    const pick = el("button", "hsp-cand-pick");
    pick.type = "button";
    pick.title = "add " + latex + " to the equation";
    const pic = el("span", "hsp-cand-pic");
    if (s.img) { const im = el("img"); im.src = s.img; im.alt = latex; pic.append(im); } else pic.textContent = latex;
    const info = el("span", "hsp-cand-info");
    info.append(el("code", "hsp-cand-latex", latex));
    const meta = el("span", "hsp-cand-meta");
    meta.append(el("span", "hsp-mode hsp-mode-" + s.mode, s.mode), el("span", "hsp-pkg", s.usepackage || "no package"));
    info.append(meta);
    pick.append(pic, info);
    if (prob !== null) {
      const pr = el("span", "hsp-cand-prob");
      const fill = el("span", "hsp-probbar");
      fill.style.width = Math.round(100 * prob) + "%";
      pr.append(fill, el("span", "hsp-probtext", (100 * prob).toFixed(1) + "%"));
      pick.append(pr);
    }
    pick.addEventListener("click", () => onPick(latex));
    const copy = el("button", "hsp-copy", "Copy");
    copy.type = "button";
    copy.title = "copy " + latex;
    copy.addEventListener("click", async () => {
      await copyText(latex);
      root.dataset.copied = latex;
      copy.textContent = "Copied";
      setTimeout(() => { copy.textContent = "Copy"; }, 1200);
    });
    if (details) {
      const about = el("button", "hsp-btn hsp-about", "ⓘ");
      about.type = "button";
      about.title = "about " + latex + ": its name, Unicode, Typst and look-alikes";
      about.addEventListener("click", () => details.show(latex));
      row.append(pick, about, copy);
    } else row.append(pick, copy);
    return row;
  }
  function showGuesses() {
    const rows = [];
    if (probs && verdict && !verdict.known) rows.push(el("div", "hsp-unknown", model.pad.hints.unknown));
    if (probs && mine) { const r = candidate(mine.label, null, 0, "hsp-cand hsp-mine"); r.title = "your own drawings of it are the nearest"; rows.push(r); }
    if (probs) {
      const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]).slice(0, shown);
      order.forEach((i, r) => rows.push(candidate(model.labels[i], probs[i], r + 1, "hsp-cand")));
      if (details) details.show(mine ? mine.label : model.labels[order[0]]);
    }
    guessBox.replaceChildren(...rows);
    moreBtn.hidden = !probs || shown >= model.labels.length;
  }
  function hint(text) {
    probs = null; verdict = null; mine = null; current = null;
    delete root.dataset.known;
    if (details) details.show(null);
    guessBox.replaceChildren(el("div", "hsp-hint", text));
    moreBtn.hidden = true;
  }
  function showSeen(image) {
    const c = seen.getContext("2d"), im = c.createImageData(GRID, GRID);
    for (let i = 0; i < GRID * GRID; i++) { im.data.set([image[i], image[i], image[i], 255], 4 * i); }
    c.putImageData(im, 0, 0);
  }
  function guess() {
    const t0 = performance.now();
    const r = padInput(pad.drawing, model.pad);
    showSeen(r.image);
    if (r.empty) hint(opts.emptyHint || model.pad.hints.empty);
    else if (r.tooMuchInk) hint(model.pad.hints.ink.replace("{ink}", Math.round(100 * r.cover) + "%"));
    else classify(r.image);
    const ms = performance.now() - t0;
    guessMs.push(Math.round(ms * 1000) / 1000);
    if (guessMs.length > 2000) guessMs.shift();
    root.dataset.guesses = String(Number(root.dataset.guesses || 0) + 1);
    root.dataset.lastGuessMs = String(ms);
    if (opts.onGuess) opts.onGuess(ms);
  }
  // the net's logits -> calibrated probabilities and "do I know it?" (model.json's openset), and the user's own
  // drawings (teach.js: FewShotGuesser's rule on the net's embedding)
  function classify(image) {
    current = image;
    let z, emb = null;
    if (teach && teach.active()) ({ logits: z, embedding: emb } = embedAndLogits(model, image));
    else z = logits(model, image);
    verdict = judge(model, z);
    probs = verdict.probs;
    mine = emb ? teach.guess(emb, z) : null;
    if (mine && mine.label === null) mine = null;
    root.dataset.known = verdict.known ? "1" : "0";
    root.dataset.score = verdict.score === null ? "" : String(verdict.score);
    root.dataset.mine = mine ? mine.label : "";
    shown = PAGE;
    showGuesses();
  }
  /** Guess from a 32x32 image (a picture's), as if it had been drawn. */
  function guessImage(image) {
    const t0 = performance.now();
    showSeen(image);
    classify(image);
    root.dataset.guesses = String(Number(root.dataset.guesses || 0) + 1);
    return performance.now() - t0;
  }
  moreBtn.addEventListener("click", () => { shown += MORE; showGuesses(); });

  // ---- search ------------------------------------------------------------------------------------
  search.addEventListener("input", () => {
    const hits = searchSymbols(search.value, symbols);
    found.replaceChildren(...hits.map((s) => candidate(s.latex, null, 0, "hsp-cand hsp-hit")));
    if (search.value.trim() && !hits.length) found.replaceChildren(el("div", "hsp-hint", "no symbol matches " + JSON.stringify(search.value)));
  });

  // ---- the equation --------------------------------------------------------------------------------
  let equation = null;
  if (opts.equation !== false) {
    equation = mountEquation(right, symbols, katex, root);
  }
  function choose(latex) {
    root.dataset.picked = latex;
    if (opts.onPick) opts.onPick(latex);
    else if (equation) equation.append(latex);
  }

  // ---- formula mode (the static page): a wide board read by formula.js, `opts.formula` is that module -----------
  let formula = null;
  if (opts.formula) {
    formula = mountFormula(root, wrap, { F: opts.formula, model, symbols, candidate, equation, katex: () => katex || (typeof window !== "undefined" ? window.katex : undefined),
      css, keyTarget, height: opts.formulaHeight || 240, ratio: opts.formulaRatio || 3 });
  }

  // ---- the symbol's details, learning the user's hand, a picture in (modules the page passes in) ------------------
  if (opts.details) details = opts.details.mountDetails(detailsSlot, { symbols, copyText, root });
  if (opts.teach && model.header.fewshot) {
    teach = opts.teach.mountTeach(teachSlot, { settings: model.header.fewshot, labels: model.labels, root,
      embed: (im) => embedAndLogits(model, im).embedding, currentImage: () => (probs ? current : null),
      loadPrototypes: opts.prototypes, onChange: () => { if (current && probs) classify(current); } });
  }
  let picture = null;
  if (opts.picture) {
    const pictureOpts = { P: model.pad, root, pasteTarget: keyTarget,
      onPicture: (pic) => {
        delete root.dataset.pictureError;
        if (formula && root.dataset.mode === "formula") {      // read as a formula: its ink as strokes for formula.js
          if (formulaPicture) formulaPicture.say("");
          formula.strokes = opts.picture.pictureStrokes(pic.grey, pic.width, pic.height, model.pad, pic.name);
          root.dataset.picture = pic.name;
          return;
        }
        const r = opts.picture.preprocessGrey(pic.grey, pic.width, pic.height, model.pad, pic.name);
        root.dataset.picture = pic.name;
        guessImage(r.image);
      },
      onError: (message) => {
        root.dataset.pictureError = message;
        if (formulaPicture && root.dataset.mode === "formula") formulaPicture.say(message); else hint(message);
      } };
    picture = opts.picture.mountPicture(bar, pictureOpts);
    clearBtn.addEventListener("click", () => { if (!pad.strokes.length) guess(); });    // Clear also wipes a picture's guesses
    const formulaBar = formula ? root.querySelector(".hsp-formula .hsp-toolbar") : null;
    const formulaPicture = formulaBar ? opts.picture.mountPicture(formulaBar, { ...pictureOpts, listen: false }) : null;   // the same, in formula mode
  }

  hint(opts.emptyHint || model.pad.hints.empty);
  root.dataset.ready = "1";
  return {
    formula, details, teach, picture, guessImage, get verdict() { return verdict; }, get mine() { return mine; },
    get strokes() { return pad.strokes; },
    set strokes(v) { pad.strokes = v; },
    guesses: () => Array.from(guessBox.querySelectorAll(".hsp-cand")).map((e) => e.dataset.latex),
    guessMs, undo: pad.undo, redo: pad.redo, equation, guess, model,
    clear: pad.clear,
  };
}


/**
 * Formula mode: "One symbol" / "A formula" tabs and a wide board (ratio x as wide as high; strokes in units of its
 * height) that formula.js (`o.F`) reads after each stroke: each symbol boxed and numbered in its role's colour, the
 * LaTeX (KaTeX and code), a button per symbol that shows its top-5 guesses (click one to use it), "Add to equation".
 */
function mountFormula(root, wrap, o) {
  const { F, model, symbols, candidate, equation, css } = o;
  const H = o.height, W = Math.round(o.height * o.ratio);
  const button = (cls, text, title) => { const b = el("button", "hsp-btn " + cls, text); b.type = "button"; if (title) b.title = title; return b; };
  const tabs = el("div", "hsp-tabs");
  tabs.setAttribute("role", "tablist");
  const tab = (mode, text) => { const b = button("hsp-tab hsp-tab-" + mode, text); b.dataset.mode = mode; b.setAttribute("role", "tab"); return b; };
  const oneTab = tab("symbol", "One symbol"), formulaTab = tab("formula", "A formula");
  tabs.append(oneTab, formulaTab);

  const panel = el("div", "hsp-formula");
  const bar = el("div", "hsp-toolbar");
  const penBtn = button("hsp-formula-pen", "✎ Pen", "draw (P)"), eraserBtn = button("hsp-formula-eraser", "⌫ Eraser", "rub out (E)");
  const undoBtn = button("hsp-formula-undo", "↶ Undo", "undo the last stroke (Ctrl-Z)"), redoBtn = button("hsp-formula-redo", "↷ Redo", "redo (Ctrl-Shift-Z)");
  const clearBtn = button("hsp-formula-clear", "✕ Clear", "wipe the formula");
  bar.append(penBtn, eraserBtn, undoBtn, redoBtn, clearBtn);
  const board = el("div", "hsp-board hsp-formula-board");
  const rendered = el("div", "hsp-formula-rendered");
  const code = el("code", "hsp-formula-latex");
  const codeRow = el("div", "hsp-formula-code");
  const copyBtn = button("hsp-copy hsp-formula-copy", "Copy", "copy the formula's LaTeX");
  codeRow.append(code, copyBtn);
  const symRow = el("div", "hsp-formula-symbols");
  const guessBox = el("div", "hsp-formula-guesses");
  const structRow = el("div", "hsp-formula-structures");   // fractions, roots, limits: click to read one the other way
  const addBtn = button("hsp-formula-add", "+ Add to equation", "append the formula's LaTeX to the equation");
  addBtn.hidden = !equation;
  panel.append(bar, board, el("div", "hsp-title", "Formula"), rendered, codeRow, addBtn,
    el("div", "hsp-title", "Symbols"), symRow, guessBox, el("div", "hsp-title", "Structures"), structRow);
  root.insertBefore(tabs, wrap);
  root.insertBefore(panel, wrap);

  let f = F.readFormula(model, [], 5, { symbols }), selected = null;
  const readMs = [];
  const penWidth = 0.02, eraserWidth = 0.08;
  function background(g) {
    g.fillStyle = css("--hsp-board", "#fff"); g.fillRect(0, 0, W, H);
    g.strokeStyle = css("--hsp-grid-major", "#c9d3e0"); g.lineWidth = 1; g.setLineDash([4, 6]);
    for (const y of [0.3, 0.6]) { g.beginPath(); g.moveTo(0, y * H); g.lineTo(W, y * H); g.stroke(); }
    g.setLineDash([]);
  }
  function overlay(ctx) {                  // each symbol's box in its role's colour, numbered
    ctx.font = "bold 12px system-ui, sans-serif";
    f.symbols.forEach((s, i) => {
      const [x0, y0, x1, y1] = s.box, colour = F.ROLE_COLOURS[s.role];
      ctx.strokeStyle = ctx.fillStyle = colour;
      ctx.lineWidth = i === selected ? 3 : 1.5;
      ctx.strokeRect(x0 * H - 2, y0 * H - 2, (x1 - x0) * H + 4, (y1 - y0) * H + 4);
      ctx.fillText(String(i + 1), x0 * H - 2, Math.max(11, y0 * H - 5));
    });
    F.drawStructure(ctx, f, H);            // numerators, denominators, roots' contents, limits: dashed boxes
  }
  const pad = mountBoard(board, { width: W, height: H, penWidth, eraserWidth, css, classes: ["hsp-formula-bg", "hsp-formula-ink"],
    background, overlay, onChange: () => read(),
    buttons: { pen: penBtn, eraser: eraserBtn, undo: undoBtn, redo: redoBtn, clear: clearBtn },
    keyTarget: o.keyTarget, keysOn: () => root.classList.contains("hsp-formula-mode") });
  function show() {
    const tex = o.katex();
    code.textContent = f.latex;
    if (!f.symbols.length) rendered.replaceChildren(el("div", "hsp-hint", o.model.pad.hints.formula));
    else if (tex) {
      try { tex.render(f.latex, rendered, { displayMode: true, throwOnError: true }); }
      catch (e) { rendered.replaceChildren(el("code", "", f.latex)); }
    } else rendered.replaceChildren(el("code", "", f.latex));
    symRow.replaceChildren(...f.symbols.map((s, i) => {
      const b = button("hsp-formula-sym", `${i + 1}: ${s.latex}`, `${s.role}: show its guesses`);
      b.dataset.index = String(i); b.dataset.role = s.role; b.dataset.latex = s.latex;
      b.style.borderColor = F.ROLE_COLOURS[s.role];
      b.classList.toggle("hsp-active", i === selected);
      b.addEventListener("click", () => select(i === selected ? null : i));
      return b;
    }));
    const s = selected === null ? null : f.symbols[selected];
    guessBox.replaceChildren(...(s ? s.guesses.map(([latex, p], r) =>
      candidate(latex, p, r + 1, r === s.choice ? "hsp-cand hsp-chosen" : "hsp-cand", choose)) : []),
      ...(s && F.structureOf(f, selected) >= 0 ? [structButton(F.structureOf(f, selected))] : []));
    structRow.replaceChildren(...f.structures.map((t, k) => structButton(k)));
    addBtn.disabled = !f.latex;
    root.dataset.formula = f.latex;
    pad.redraw();
  }
  function read() {
    const t0 = performance.now();
    f = F.readFormula(model, pad.strokes, 5, { symbols });
    const ms = performance.now() - t0;
    readMs.push(Math.round(ms * 1000) / 1000);
    root.dataset.formulaReads = String(Number(root.dataset.formulaReads || 0) + 1);
    root.dataset.lastFormulaMs = String(ms);
    selected = null;
    show();
  }
  function select(i) {
    if (i !== null && !(i >= 0 && i < f.symbols.length)) throw new Error(`select: there is no symbol ${i}`);
    selected = i; show();
  }
  function choose(latex) {
    if (selected === null) throw new Error("choose: select a symbol first");
    const j = f.symbols[selected].guesses.findIndex((x) => x[0] === latex);
    if (j < 0) throw new Error(`choose: ${latex} is not among the symbol's guesses`);
    f = F.withChoice(f, selected, j);
    root.dataset.picked = latex;
    show();
    return f.latex;
  }
  function structButton(k) {              // a structure the reader considered: click to read it the other way
    const t = f.structures[k], b = button("hsp-formula-struct", F.structureLabel(t), `${t.why}: click to read it the other way`);
    b.dataset.index = String(k); b.dataset.kind = t.kind; b.dataset.used = String(t.used);
    b.addEventListener("click", () => toggle(k));
    return b;
  }
  function toggle(k) {
    if (!(k >= 0 && k < f.structures.length)) throw new Error(`toggle: there is no structure ${k}`);
    f = F.withStructure(model, f, k, !f.structures[k].used);
    selected = null; show();
    return f.latex;
  }
  function add() { if (equation && f.latex) equation.append(f.latex); return equation ? equation.latex : f.latex; }
  copyBtn.addEventListener("click", () => copyText(f.latex).then(() => { root.dataset.copied = f.latex; }));
  addBtn.addEventListener("click", add);
  function setMode(mode) {
    const on = mode === "formula";
    root.classList.toggle("hsp-formula-mode", on);
    root.dataset.mode = on ? "formula" : "symbol";
    panel.hidden = !on;
    oneTab.classList.toggle("hsp-active", !on); formulaTab.classList.toggle("hsp-active", on);
    oneTab.setAttribute("aria-selected", String(!on)); formulaTab.setAttribute("aria-selected", String(on));
  }
  oneTab.addEventListener("click", () => setMode("symbol"));
  formulaTab.addEventListener("click", () => setMode("formula"));
  setMode("symbol");
  show();
  return {
    get strokes() { return pad.strokes; },
    set strokes(v) { pad.strokes = v; },
    get reading() { return f; },
    get latex() { return f.latex; },
    readMs, select, choose, toggle, add, undo: pad.undo, redo: pad.redo, setMode, refresh: show,
    clear: pad.clear,
  };
}

/** The equation panel: rendered (KaTeX), editable source, undo, clear, copy, the needed \usepackage lines. */
function mountEquation(parent, symbols, katex, root) {
  let tex = katex;
  const box = el("div", "hsp-equation");
  const rendered = el("div", "hsp-eq-rendered");
  const source = el("textarea", "hsp-eq-source");
  source.placeholder = "click a guess to add its LaTeX here, or type";
  source.rows = 2;
  source.spellcheck = false;
  const tools = el("div", "hsp-toolbar");
  const b = (cls, text) => { const x = el("button", "hsp-btn " + cls, text); x.type = "button"; return x; };
  const undoB = b("hsp-eq-undo", "↶ Undo"), clearB = b("hsp-eq-clear", "✕ Clear"), copyB = b("hsp-eq-copy", "Copy LaTeX");
  const copyDoc = b("hsp-eq-copy-doc", "Copy document");
  tools.append(undoB, clearB, copyB, copyDoc);
  const pk = el("div", "hsp-eq-packages");
  box.append(el("div", "hsp-title", "Equation"), rendered, source, tools, pk);
  parent.append(box);
  const past = [];
  let last = "";
  const bySym = new Map(symbols.map((s) => [s.latex, s]));
  function packages() { return packagesFor(source.value, symbols); }
  function refresh() {
    const src = source.value;
    if (!src.trim()) rendered.replaceChildren(el("i", "hsp-muted", "empty"));
    else if (tex) {
      try { tex.render(src, rendered, { displayMode: true, throwOnError: true }); rendered.classList.remove("hsp-eq-error"); }
      catch (e) { rendered.replaceChildren(el("code", "", src)); rendered.title = String(e.message || e); rendered.classList.add("hsp-eq-error"); }
    } else rendered.replaceChildren(el("code", "", src));
    const lines = packages();
    pk.replaceChildren();
    if (lines.length) {
      const pre = el("pre", "hsp-eq-preamble", lines.join("\n"));
      const c = b("hsp-copy hsp-copy-preamble", "Copy");
      c.addEventListener("click", () => copyText(lines.join("\n")));
      pk.append(el("b", "", "Preamble"), pre, c);
    } else pk.append(el("span", "hsp-muted", "no extra packages needed"));
    last = src;
    root.dataset.equation = src;
  }
  function set(v) { past.push(last); source.value = v; refresh(); }
  source.addEventListener("input", () => { past.push(last); refresh(); });
  undoB.addEventListener("click", () => { if (past.length) { source.value = past.pop(); refresh(); } });
  clearB.addEventListener("click", () => { if (source.value) set(""); });
  copyB.addEventListener("click", () => copyText(source.value).then(() => { root.dataset.copied = source.value; }));
  copyDoc.addEventListener("click", () => copyText(documentFor(source.value, packages())));
  refresh();
  return {
    append(latex) {
      const s = bySym.get(latex);
      const piece = s && s.mode === "text" ? `\\text{${latex}}` : latex;
      const cur = source.value;
      const sep = cur && /\\[A-Za-z]+$/.test(cur) && /^[A-Za-z]/.test(piece) ? " " : "";
      set(cur + sep + piece);
      return source.value;
    },
    get latex() { return source.value; },
    packages,
    setKatex(k) { tex = k; refresh(); },
  };
}

/** A minimal LaTeX document with the packages and the equation (as EquationBuilder.document in Python). */
export function documentFor(latex, packages) {
  return ["\\documentclass{article}", ...packages, "\\begin{document}"].join("\n") + `\n\\[ ${latex} \\]\n\\end{document}\n`;
}

/** Load a classic script (KaTeX) after the pad is up; resolves when it ran. */
function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src; s.onload = resolve; s.onerror = () => reject(new Error("cannot load " + src));
    document.head.append(s);
  });
}

/** The static page: load the model and symbols next to this script, mount the pad into `root`, then KaTeX. */
export async function startStaticPad(root, base = "./") {
  const t = { module: performance.now() };
  const [model, symbols, formula, details, teach, picture] = await Promise.all([loadModel(base).then((m) => { t.model = performance.now(); return m; }),
    fetch(base + "symbols.json").then((r) => r.json()).then((s) => { t.symbols = performance.now(); return s; }),
    import("./formula.js"),        // the formula reader (a dynamic import: the SymbolPad widget loads pad.js from a blob)
    import("./details.js"), import("./teach.js"), import("./picture.js")]);
  const prototypes = () => fetch(base + model.header.fewshot.prototypes).then((r) => {
    if (!r.ok) throw new Error(`cannot load ${model.header.fewshot.prototypes} (${r.status})`);
    return r.arrayBuffer();
  }).then(float16Array);
  const pad = mountPad(root, { model, symbols, formula, details, teach, picture, prototypes });
  if (typeof window !== "undefined") window.hasyPad = pad;
  t.ready = performance.now();
  root.dataset.readyMs = String(t.ready);       // since the page started loading (performance.timeOrigin)
  root.dataset.timing = JSON.stringify(t);
  import("./offline.js").then((m) => m.registerOffline(root));   // installable, and offline from the first visit
  // the equation's typesetting is not needed for the first guess: KaTeX loads after the pad is ready
  loadScript(base + "katex/katex.min.js").then(() => {
    pad.equation.setKatex(window.katex);
    if (pad.formula) pad.formula.refresh();
    root.dataset.katex = "1";
  });
  return pad;
}
