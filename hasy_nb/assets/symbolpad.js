// SymbolPad front end (anywidget ESM): draw strokes over a 32x32 grid, show the net's guesses.
// Drawing happens here, on the static pad's board (pad.js's mountBoard); the strokes (polylines in pad units: y 0..1
// down the pad, x 0..width/height) go to Python through the `strokes` traitlet together with a sequence number `seq`.
// Python answers with `guesses` and `guess_seq` (the seq it answered), so we can measure stroke end -> guesses in the
// browser.

const SEND_EVERY_MS = 100; // throttle while the pen is down

let el = null;   // the pad's DOM helper (dom.js), set when the pad's modules are loaded (before anything is drawn)

// The static pad's own modules (hasy_nb/assets/pad/: dom.js, hasynet.js, pad.js, ...), which Python puts in PAD_SOURCES
// ahead of this file, imported from blob URLs (once: every view shares them); each one's "./dom.js" import is pointed
// at dom.js's blob.
let padModules = null;
function loadPadModules() {
  if (!padModules) padModules = (async () => {
    const url = (code) => URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
    const dom = url(PAD_SOURCES.dom);
    const linked = (code) => url(code.replace('"./dom.js"', JSON.stringify(dom)));
    const kernels = url(PAD_SOURCES.hasynet_kernels);
    const hasynet = url(PAD_SOURCES.hasynet.replace('"./hasynet_kernels.js"', JSON.stringify(kernels)));
    const padUrl = linked(PAD_SOURCES.pad.replace('"./hasynet.js"', JSON.stringify(hasynet)));
    // the symbol's details, learning the user's hand and a picture in: modules that import only dom.js
    const extras = {};
    for (const n of ["details", "teach", "picture"]) if (PAD_SOURCES[n]) extras[n] = await import(linked(PAD_SOURCES[n]));
    el = (await import(dom)).el;
    return [await import(hasynet), await import(padUrl), extras];
  })();
  return padModules;
}

// With `browser` set, the pad guesses in the browser with those modules; the kernel then hears only the picks.
async function renderInBrowser({ model, el: root }) {
  const [net, pad, extras] = await loadPadModules();
  const bin = model.get("net_bin");
  const net_model = net.makeModel(model.get("net"), bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  const protos = model.get("prototypes");
  const prototypes = async () => {
    if (!protos || !protos.byteLength) throw new Error("this model has no class prototypes to learn with");
    return net.float16Array(protos.buffer.slice(protos.byteOffset, protos.byteOffset + protos.byteLength));
  };
  root.tabIndex = 0;          // Ctrl-Z / Ctrl-Shift-Z while the pad has the focus
  const p = pad.mountPad(root, {
    model: net_model, symbols: model.get("symbols"), size: model.get("size_px") || 320, equation: false,
    penWidth: model.get("pen_width"), eraserWidth: model.get("eraser_width"), keyTarget: root,
    onPick: (latex) => model.send({ type: "pick", latex }),
    details: extras.details, teach: extras.teach, picture: extras.picture, prototypes,
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
  const [, padjs, extras] = await loadPadModules();    // the drawing board: pad.js's mountBoard; details.js
  root.dataset.guessing = "kernel";
  const { left, right } = padjs.padFrame(root);

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
  const boardEl = el("div", "hsp-board");
  left.append(bar, boardEl);

  const preview = el("div", "hsp-preview");
  const previewImg = el("img", "hsp-preview-img");
  previewImg.alt = "what the net sees (32x32)";
  preview.append(el("div", "hsp-caption", "the net sees"), previewImg);
  if (width === size) left.append(preview);   // a formula pad has no single picture of what the net sees

  const guessBox = el("div", "hsp-guesses");
  right.append(el("div", "hsp-title", "Guesses"), guessBox);
  // the top guess explained (name, Unicode, Typst, look-alikes) from the symbol table Python sent
  const table = model.get("symbols") || [];
  const copyText = (t) => navigator.clipboard.writeText(t).catch(() => {});
  const details = extras.details && table.length ? extras.details.mountDetails(right, { symbols: table, copyText, root }) : null;

  // the symbols a formula pad read: a box per symbol, coloured by its role, numbered as the buttons below it
  function drawBoxes(g) {
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

  // ---- state --------------------------------------------------------------------------------
  let lastSent = 0;
  let seq = model.get("seq") || 0;
  let lastSentSeq = seq; // the last seq this view sent
  let pending = null; // {seq, t0}: the last stroke end we wait an answer for
  const latencies = [];
  const computeMs = []; // Python's share of each measured latency

  function send(all, final) {
    seq += 1;
    // copy the points: the stroke being drawn keeps growing, and a model value that aliases it would compare
    // equal to the next one, so Backbone would see no change and never send it
    model.set("strokes", all.map((s) => ({ points: s.points.slice(), width: s.width, erase: s.erase })));
    model.set("seq", seq);
    model.save_changes();
    lastSentSeq = seq;
    lastSent = performance.now();
    if (final) pending = { seq, t0: lastSent };
  }

  // ---- the board: pointer input, undo, pen and eraser (colours fixed: the grid is always light) ----------------
  const board = padjs.mountBoard(boardEl, {
    width, height: size, penWidth: () => model.get("pen_width"), eraserWidth: () => model.get("eraser_width"),
    strokes: model.get("strokes") || [], tool: model.get("tool") || "pen",
    background: (g) => { padjs.drawGrid(g, width, size); drawBoxes(g); },
    buttons: { pen: penBtn, eraser: eraserBtn, undo: undoBtn, clear: clearBtn },
    onTool: (t) => { if (model.get("tool") !== t) { model.set("tool", t); model.save_changes(); } },
    onChange: (strokes) => send(strokes, true),
    onMove: (drawing, phase) => {
      // throttle, and never queue: send a partial stroke only when Python has answered the previous message
      if (phase === "move" && performance.now() - lastSent > SEND_EVERY_MS && (model.get("guess_seq") || 0) >= lastSentSeq) send(drawing, false);
    },
  });

  // ---- answers from Python ------------------------------------------------------------------
  let shown = null;   // the guesses on screen
  function showGuesses() {
    const guesses = model.get("guesses") || [];
    shown = model.get("guesses");
    guessBox.replaceChildren();
    if (!guesses.length) {
      guessBox.append(el("div", "hsp-hint", model.get("hint") || ""));
    } else if (model.get("known") === false) guessBox.append(el("div", "hsp-unknown", model.get("unknown_hint")));
    root.dataset.known = guesses.length ? (model.get("known") === false ? "0" : "1") : "";
    if (details) details.show(guesses.length ? guesses[0].latex : null);
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
      prob.append(barEl, el("span", "hsp-probtext", c.mine ? "yours" : (100 * c.prob).toFixed(1) + "%"));
      if (c.mine) row.classList.add("hsp-mine");
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
  model.on("change:tool", () => board.setTool(model.get("tool")));
  model.on("change:boxes", () => board.drawBackground());
  model.on("change:seq", () => { seq = Math.max(seq, model.get("seq") || 0); });
  model.on("change:strokes", () => {
    // strokes set from Python (pad.clear(), pad.strokes = ...) come with a seq beyond ours; ignore echoes
    // of what we sent (an echo of an older, partial stroke list must not replace the drawing)
    if (board.penDown || (model.get("seq") || 0) <= lastSentSeq) return;
    const s = model.get("strokes") || [];
    if (JSON.stringify(s) !== JSON.stringify(board.strokes)) board.commit(s.slice(), true);   // silent: no echo
  });
  showGuesses();
  root.dataset.ready = "1";
  return () => {};
}

export default { render };
