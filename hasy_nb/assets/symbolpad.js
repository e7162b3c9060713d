// SymbolPad front end (anywidget ESM): draw strokes over a 32x32 grid, show the net's guesses.
// Drawing happens here; the strokes (polylines in pad units: y 0..1 down the pad, x 0..width/height) go to Python through the
// `strokes` traitlet together with a sequence number `seq`. Python answers with `guesses` and
// `guess_seq` (the seq it answered), so we can measure stroke end -> guesses in the browser.

const GRID = 32;
const SEND_EVERY_MS = 100; // throttle while the pen is down

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// With `browser` set, the pad guesses in the browser with the static pad's own modules (hasy_nb/assets/pad/:
// hasynet.js, pad.js), which Python puts in PAD_SOURCES ahead of this file; the kernel then hears only the picks.
async function renderInBrowser({ model, el: root }) {
  const url = (code) => URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
  const kernels = url(PAD_SOURCES.hasynet_kernels);
  const hasynet = url(PAD_SOURCES.hasynet.replace('"./hasynet_kernels.js"', JSON.stringify(kernels)));
  const padUrl = url(PAD_SOURCES.pad.replace('"./hasynet.js"', JSON.stringify(hasynet)));
  const [net, pad] = [await import(hasynet), await import(padUrl)];
  const bin = model.get("net_bin");
  const net_model = net.makeModel(model.get("net"), bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  root.tabIndex = 0;          // Ctrl-Z / Ctrl-Shift-Z while the pad has the focus
  const p = pad.mountPad(root, {
    model: net_model, symbols: model.get("symbols"), size: model.get("size_px") || 320, equation: false,
    penWidth: model.get("pen_width"), eraserWidth: model.get("eraser_width"), keyTarget: root,
    onPick: (latex) => model.send({ type: "pick", latex }),
  });
  root.dataset.guessing = "browser";
  root.hasyPad = p;
  return () => {};
}

async function render({ model, el: root }) {
  if (model.get("browser") && typeof PAD_SOURCES !== "undefined") {
    try { return await renderInBrowser({ model, el: root }); }
    catch (e) {   // say so in the page and the console; the kernel path below still works
      console.warn("hasy_nb SymbolPad: guessing in the browser failed, the kernel guesses instead:", e);
      root.replaceChildren();
      root.dataset.browserError = String(e && e.message || e);
    }
  }
  root.dataset.guessing = "kernel";
  root.classList.add("hasy-symbolpad");
  const wrap = el("div", "hsp-wrap");
  const left = el("div", "hsp-left");
  const right = el("div", "hsp-right");
  wrap.append(left, right);
  root.append(wrap);

  // ---- toolbar ------------------------------------------------------------------------------
  const bar = el("div", "hsp-toolbar");
  const penBtn = el("button", "hsp-btn hsp-pen", "✎ Pen");
  const eraserBtn = el("button", "hsp-btn hsp-eraser", "⌫ Eraser");
  const undoBtn = el("button", "hsp-btn hsp-undo", "↶ Undo");
  const clearBtn = el("button", "hsp-btn hsp-clear", "✕ Clear");
  for (const b of [penBtn, eraserBtn, undoBtn, clearBtn]) b.type = "button";
  bar.append(penBtn, eraserBtn, undoBtn, clearBtn);

  // ---- canvas -------------------------------------------------------------------------------
  // `size` is the height; strokes are in units of it, so x runs to width / size on a wide (formula) pad
  const size = model.get("size_px") || 320;
  const width = model.get("width_px") || size;
  const board = el("div", "hsp-board");
  board.style.width = width + "px";
  board.style.height = size + "px";
  const grid = el("canvas", "hsp-grid");
  const ink = el("canvas", "hsp-ink");
  board.append(grid, ink);
  left.append(bar, board);

  const preview = el("div", "hsp-preview");
  const previewImg = el("img", "hsp-preview-img");
  previewImg.alt = "what the net sees (32x32)";
  preview.append(el("div", "hsp-caption", "the net sees"), previewImg);
  if (width === size) left.append(preview);   // a formula pad has no single picture of what the net sees

  const guessBox = el("div", "hsp-guesses");
  right.append(el("div", "hsp-title", "Guesses"), guessBox);

  const dpr = window.devicePixelRatio || 1;
  for (const c of [grid, ink]) {
    c.width = Math.round(width * dpr);
    c.height = Math.round(size * dpr);
    c.style.width = width + "px";
    c.style.height = size + "px";
  }
  const g = grid.getContext("2d");
  const ctx = ink.getContext("2d");
  g.scale(dpr, dpr);
  ctx.scale(dpr, dpr);

  function drawGrid() {
    g.clearRect(0, 0, width, size);
    g.fillStyle = "#fff";
    g.fillRect(0, 0, width, size);
    const cell = size / GRID;
    for (let i = 0; i * cell <= width + 0.5; i++) {
      g.strokeStyle = i % 8 === 0 ? "#c9d3e0" : "#eef1f5";
      g.lineWidth = 1;
      g.beginPath(); g.moveTo(i * cell, 0); g.lineTo(i * cell, size); g.stroke();
      if (i > GRID) continue;
      g.beginPath(); g.moveTo(0, i * cell); g.lineTo(width, i * cell); g.stroke();
    }
    drawBoxes();
  }
  // the symbols a formula pad read: a box per symbol, coloured by its role, numbered as the buttons below it
  function drawBoxes() {
    (model.get("boxes") || []).forEach((b, i) => {
      const [x0, y0, x1, y1] = b.box.map((v) => v * size);
      g.strokeStyle = b.colour || "#888";
      g.setLineDash([4, 3]);
      g.strokeRect(x0 - 3, y0 - 3, x1 - x0 + 6, y1 - y0 + 6);
      g.setLineDash([]);
      g.fillStyle = b.colour || "#888";
      g.font = "11px sans-serif";
      g.fillText(String(i + 1), x0 - 3, Math.max(10, y0 - 6));
    });
  }
  drawGrid();

  // ---- state --------------------------------------------------------------------------------
  let strokes = (model.get("strokes") || []).slice();
  let current = null; // the stroke being drawn
  let tool = model.get("tool") || "pen";
  let lastSent = 0;
  let seq = model.get("seq") || 0;
  let lastSentSeq = seq; // the last seq this view sent
  let pending = null; // {seq, t0}: the last stroke end we wait an answer for
  const latencies = [];
  const computeMs = []; // Python's share of each measured latency

  function drawStroke(s) {
    const pts = s.points;
    if (!pts || !pts.length) return;
    ctx.save();
    ctx.globalCompositeOperation = s.erase ? "destination-out" : "source-over";
    ctx.strokeStyle = "#111";
    ctx.fillStyle = "#111";
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = Math.max(1, s.width * size);
    if (pts.length === 1) {
      ctx.beginPath();
      ctx.arc(pts[0][0] * size, pts[0][1] * size, ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      ctx.beginPath();
      ctx.moveTo(pts[0][0] * size, pts[0][1] * size);
      for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0] * size, pts[i][1] * size);
      ctx.stroke();
    }
    ctx.restore();
  }
  function redraw() {
    ctx.clearRect(0, 0, width, size);
    for (const s of strokes) drawStroke(s);
    if (current) drawStroke(current);
  }
  redraw();

  function send(final) {
    seq += 1;
    const all = current ? strokes.concat([current]) : strokes;
    // copy the points: the stroke being drawn keeps growing, and a model value that aliases it would compare
    // equal to the next one, so Backbone would see no change and never send it
    model.set("strokes", all.map((s) => ({ points: s.points.slice(), width: s.width, erase: s.erase })));
    model.set("seq", seq);
    model.save_changes();
    lastSentSeq = seq;
    lastSent = performance.now();
    if (final) pending = { seq, t0: lastSent };
  }

  function setTool(t) {
    tool = t;
    penBtn.classList.toggle("hsp-active", t === "pen");
    eraserBtn.classList.toggle("hsp-active", t === "eraser");
    board.classList.toggle("hsp-erasing", t === "eraser");
    if (model.get("tool") !== t) { model.set("tool", t); model.save_changes(); }
  }
  setTool(tool);

  // ---- pointer input ------------------------------------------------------------------------
  function pos(ev) {
    const r = ink.getBoundingClientRect();
    const x = Math.min(width / size, Math.max(0, (ev.clientX - r.left) / r.height));
    const y = Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height));
    return [Math.round(x * 10000) / 10000, Math.round(y * 10000) / 10000];
  }
  ink.addEventListener("pointerdown", (ev) => {
    if (ev.button !== undefined && ev.button !== 0) return;
    ev.preventDefault();
    ink.setPointerCapture && ink.setPointerCapture(ev.pointerId);
    const erase = tool === "eraser";
    const w = erase ? model.get("eraser_width") : model.get("pen_width");
    current = { points: [pos(ev)], width: w, erase };
    redraw();
  });
  ink.addEventListener("pointermove", (ev) => {
    if (!current) return;
    ev.preventDefault();
    const p = pos(ev);
    const last = current.points[current.points.length - 1];
    if (Math.abs(p[0] - last[0]) + Math.abs(p[1] - last[1]) < 0.002) return;
    current.points.push(p);
    redraw();
    // throttle, and never queue: send a partial stroke only when Python has answered the previous message
    if (performance.now() - lastSent > SEND_EVERY_MS && (model.get("guess_seq") || 0) >= lastSentSeq) send(false);
  });
  function end(ev) {
    if (!current) return;
    ev && ev.preventDefault && ev.preventDefault();
    strokes.push(current);
    current = null;
    redraw();
    send(true);
  }
  ink.addEventListener("pointerup", end);
  ink.addEventListener("pointercancel", end);
  ink.addEventListener("lostpointercapture", end);

  penBtn.addEventListener("click", () => setTool("pen"));
  eraserBtn.addEventListener("click", () => setTool("eraser"));
  undoBtn.addEventListener("click", () => { strokes.pop(); redraw(); send(true); });
  clearBtn.addEventListener("click", () => { strokes = []; redraw(); send(true); });

  // ---- answers from Python ------------------------------------------------------------------
  let shown = null;   // the guesses on screen
  function showGuesses() {
    const guesses = model.get("guesses") || [];
    shown = model.get("guesses");
    guessBox.replaceChildren();
    if (!guesses.length) {
      guessBox.append(el("div", "hsp-hint", model.get("hint") || ""));
    }
    guesses.forEach((c, i) => {
      const row = el("div", "hsp-cand");
      row.dataset.latex = c.latex;
      row.dataset.rank = String(i + 1);
      const pick = el("button", "hsp-cand-pick");
      pick.type = "button";
      pick.title = "add " + c.latex + " to the equation";
      const pic = el("span", "hsp-cand-pic");
      if (c.img) {
        const im = el("img");
        im.src = c.img;
        im.alt = c.latex;
        pic.append(im);
      } else pic.textContent = c.latex;
      const info = el("span", "hsp-cand-info");
      info.append(el("code", "hsp-cand-latex", c.latex));
      const meta = el("span", "hsp-cand-meta");
      meta.append(el("span", "hsp-mode hsp-mode-" + c.mode, c.mode));
      meta.append(el("span", "hsp-pkg", c.package || "no package"));
      info.append(meta);
      const prob = el("span", "hsp-cand-prob");
      const barEl = el("span", "hsp-probbar");
      barEl.style.width = Math.round(100 * c.prob) + "%";
      prob.append(barEl, el("span", "hsp-probtext", (100 * c.prob).toFixed(1) + "%"));
      pick.append(pic, info, prob);
      pick.addEventListener("click", () => model.send({ type: "pick", latex: c.latex }));
      row.append(pick);
      guessBox.append(row);
    });
    const src = model.get("preview");
    previewImg.style.visibility = src ? "visible" : "hidden";
    if (src) previewImg.src = src;
    const gs = model.get("guess_seq");
    if (pending && gs >= pending.seq) {
      const ms = performance.now() - pending.t0;
      latencies.push(Math.round(ms * 100) / 100);
      computeMs.push(model.get("compute_ms"));
      root.dataset.computeMs = JSON.stringify(computeMs);
      root.dataset.latencies = JSON.stringify(latencies);
      root.dataset.lastLatency = String(ms);
      pending = null;
    }
    root.dataset.guessSeq = String(gs);
  }
  // Python sets guesses, hint, preview and guess_seq in one message: redraw once, on guess_seq
  model.on("change:guess_seq", showGuesses);
  // guesses without a new answer (a formula pad shows the guesses of the symbol clicked): after this message's
  // change:guess_seq, if it had one, has run
  model.on("change:guesses", () => queueMicrotask(() => { if (model.get("guesses") !== shown) showGuesses(); }));
  model.on("change:tool", () => setTool(model.get("tool")));
  model.on("change:boxes", drawGrid);
  model.on("change:seq", () => { seq = Math.max(seq, model.get("seq") || 0); });
  model.on("change:strokes", () => {
    // strokes set from Python (pad.clear(), pad.strokes = ...) come with a seq beyond ours; ignore echoes
    // of what we sent (an echo of an older, partial stroke list must not replace the drawing)
    if (current || (model.get("seq") || 0) <= lastSentSeq) return;
    const s = model.get("strokes") || [];
    if (JSON.stringify(s) !== JSON.stringify(strokes)) { strokes = s.slice(); redraw(); }
  });
  showGuesses();
  root.dataset.ready = "1";
  return () => {};
}

export default { render };
