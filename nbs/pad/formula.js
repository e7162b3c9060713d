// formula.js: the formula reader in the browser. It mirrors the pen-stroke path of hasy_nb/formula.py's
// `read_formula` line by line (stroke boxes and gaps, the line estimate, `group_pieces` with the same constants,
// erasers, each symbol's 32x32 input, the model, `layout`, `write_latex`), with the same names in camelCase.
// tests/test_formula_js.py holds the two to parity (groups, roles, LaTeX, the 32x32 inputs, top-5 guesses) on
// hundreds of random stroke formulas: change one, change the other, and run that test.
// Rasterisation is hasynet.js's exact port of hasy_nb.infer's; works in a page, a worker and in Node.

import { checkStrokes, strokesToImage, logits, softmax, pyRound, DEFAULT_PAD } from "./hasynet.js";

// The constants: the same values as hasy_nb/assets/pad/formula_constants.json, which Python writes from the chapter
// (`write_formula_constants`); tests/test_formula_js.py checks that every one below equals the file's.
export const CONSTANTS = {
  SMALL: 0.4, DOT: 0.4, DOT_GAP: 0.6, MIN_WIDTH: 0.15, OVERLAP: 0.5, SPECK: 0.1, SPECK_GAP: 0.5, FLAT: 0.5,
  BAR_WIDTH: 0.2, BAR_GAP: 0.5, HUG: 0.15, NEAR: 0.16, NEAR_X: 0.13, DASH: 0.3, STACK_MIN: 0.4, STACK_GAP: 0.1,
  SCRIPT_SHIFT: 0.25, SCRIPT_SIZE: 0.85, SCRIPT_LINE: 0.5,
};
export const { SMALL, DOT, DOT_GAP, MIN_WIDTH, OVERLAP, SPECK, SPECK_GAP, FLAT, BAR_WIDTH, BAR_GAP, HUG, NEAR, NEAR_X, DASH,
  STACK_MIN, STACK_GAP, SCRIPT_SHIFT, SCRIPT_SIZE, SCRIPT_LINE } = CONSTANTS;
export const DOT_PX = 5.0;      // hasy_nb.infer.DOT_PX
export const ROLE_COLOURS = { base: "#1f6feb", sup: "#d62728", sub: "#2ca02c" };

const minOf = (a) => a.reduce((m, v) => (v < m ? v : m), Infinity);
const maxOf = (a) => a.reduce((m, v) => (v > m ? v : m), -Infinity);

function median(a) {   // np.median
  const s = Float64Array.from(a).sort(), n = s.length, h = n >> 1;
  return n % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

function checkBoxes(boxes) {   // _boxes
  for (const b of boxes) {
    if (b.length !== 4 || !b.every(Number.isFinite)) throw new Error("boxes: contain NaN or infinity");
    if (b[2] < b[0] || b[3] < b[1]) throw new Error("boxes: need x0 <= x1 and y0 <= y1");
  }
  return boxes;
}

/** The height of the main line: the median height of the pieces at least 0.7 x as tall as the tallest. */
export function lineHeight(boxes) {
  const b = checkBoxes(boxes);
  if (!b.length) return 0.0;
  const ext = b.map((r) => Math.max(r[3] - r[1], r[2] - r[0]));
  const top = 0.7 * maxOf(ext);
  return median(ext.filter((e) => e >= top));
}

/** Connected components of an n x n "is linked" matrix (array of arrays of booleans), as Python's _components. */
function components(linked) {
  const n = linked.length, parent = Array.from({ length: n }, (_, i) => i);
  const find = (i) => { while (parent[i] !== i) i = parent[i]; return i; };
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (linked[i][j]) parent[find(i)] = find(j);
  const groups = new Map();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    if (!groups.has(r)) groups.set(r, []);
    groups.get(r).push(i);
  }
  return Array.from(groups.values());
}

const gMin = (b, g, c) => minOf(g.map((i) => b[i][c]));
const gMax = (b, g, c) => maxOf(g.map((i) => b[i][c]));

function boxGap(b, g, h) {   // _box_gap
  return Math.max(gMin(b, h, 0) - gMax(b, g, 2), gMin(b, g, 0) - gMax(b, h, 2),
    gMin(b, h, 1) - gMax(b, g, 3), gMin(b, g, 1) - gMax(b, h, 3));
}

function barPairs(b, L) {   // _bar_pairs
  const h = b.map((r) => r[3] - r[1]), cx = b.map((r) => (r[0] + r[2]) / 2);
  const bars = [];
  for (let i = 0; i < b.length; i++) if (b[i][2] - b[i][0] < BAR_WIDTH * L && h[i] > 0.5 * L) bars.push(i);
  const out = [];
  for (let a = 0; a < bars.length; a++) for (let c = a + 1; c < bars.length; c++) {
    const i = bars[a], j = bars[c];
    const [left, right] = cx[j] < cx[i] ? [j, i] : [i, j];
    const side = Math.min(b[i][3], b[j][3]) - Math.max(b[i][1], b[j][1]) > 0.7 * Math.min(h[i], h[j]);
    const between = cx.some((v) => v > b[left][2] && v < b[right][0]);
    if (side && !between && b[right][0] - b[left][2] < BAR_GAP * L) out.push([i, j]);
  }
  return out;
}

const isFlat = (r) => r[3] - r[1] <= DASH * (r[2] - r[0]);   // _flat: a dash

function stackedPairs(b, L) {   // _stacked: big pieces (h >= FLAT x w, >= STACK_MIN x L) one above the other by > STACK_GAP x L
  const big = b.map((r) => r[3] - r[1] >= FLAT * (r[2] - r[0]) && Math.max(r[2] - r[0], r[3] - r[1]) >= STACK_MIN * L);
  return b.map((r, i) => b.map((q, j) => {
    const gy = Math.max(r[1], q[1]) - Math.min(r[3], q[3]);
    return big[i] && big[j] && gy > STACK_GAP * L;
  }));
}

function unbridge(near, stacked, b) {   // _unbridge: a piece overlapping two stacked pieces keeps the nearer in y
  const n = b.length, gy = (i, j) => Math.max(b[i][1], b[j][1]) - Math.min(b[i][3], b[j][3]);
  for (let i = 0; i < n; i++) {
    const P = [];
    for (let j = 0; j < n; j++) if (near[i][j] && j !== i) P.push(j);
    if (!P.some((j) => P.some((k) => stacked[j][k]))) continue;
    let keep = P[0];
    for (const j of P) if (gy(i, j) < gy(i, keep)) keep = j;
    for (const j of P) if (j !== keep) { near[i][j] = false; near[j][i] = false; }
  }
}

/** Pieces -> symbols: lists of piece indices, left to right; `distance(i, j)`: the ink gap (or null); `solo`: alone. */
export function groupPieces(boxes, line = null, distance = null, solo = []) {
  const b = checkBoxes(boxes), n = b.length;
  if (!n) return [];
  let L = line === null ? lineHeight(b) : Number(line);
  L = Math.max(L, 1e-9);
  const cx = b.map((r) => (r[0] + r[2]) / 2);
  const half = b.map((r) => Math.max((r[2] - r[0]) / 2, (MIN_WIDTH * L) / 2));
  const lo = cx.map((c, i) => c - half[i]), hi = cx.map((c, i) => c + half[i]);
  const width = hi.map((v, i) => v - lo[i]);
  const near = [];
  for (let i = 0; i < n; i++) {
    near.push([]);
    for (let j = 0; j < n; j++) {
      const ov = Math.min(hi[i], hi[j]) - Math.max(lo[i], lo[j]);
      const raw = Math.min(b[i][2], b[j][2]) - Math.max(b[i][0], b[j][0]);
      near[i].push(ov >= OVERLAP * Math.min(width[i], width[j]) || raw > 0);   // 1. overlap in x
    }
  }
  const stacked = stackedPairs(b, L);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (stacked[i][j]) near[i][j] = false;   // ... unless stacked
  unbridge(near, stacked, b);                                                    // ... or a piece between them
  if (distance !== null) {                                                      // 2. ink closer than NEAR
    const close = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
      const gx = Math.max(b[i][0], b[j][0]) - Math.min(b[i][2], b[j][2]);
      const gy = Math.max(b[i][1], b[j][1]) - Math.min(b[i][3], b[j][3]);
      const side = -gy >= 0.5 * Math.min(b[i][3] - b[i][1], b[j][3] - b[j][1]);
      if (Math.max(gx, gy) < NEAR * L && side && !near[i][j]) close.push([i, j, gx]);
    }
    const small = b.map((r) => Math.max(r[2] - r[0], r[3] - r[1]) < DOT * L);    // a tail or a dot: box gap
    for (const [i, j, gx] of close) near[i][j] = ((small[i] || small[j]) && gx < NEAR_X * L) || distance(i, j) < NEAR * L;
  }
  for (const [i, j] of barPairs(b, L)) near[i][j] = true;                      // 1b. two bars: one symbol
  for (const i of solo) for (let j = 0; j < n; j++) { near[i][j] = false; near[j][i] = false; }   // alone
  const groups = components(near);
  const extent = (g) => Math.max(gMax(b, g, 2) - gMin(b, g, 0), gMax(b, g, 3) - gMin(b, g, 1));
  const dots = groups.filter((g) => extent(g) < DOT * L);                        // 3. dots near each other
  for (let k = 0; k < dots.length; k++) for (let m = k + 1; m < dots.length; m++) {
    const ga = dots[k], gc = dots[m];
    const apart = ga.some((i) => gc.some((j) => stacked[i][j]));
    if (Math.max(gMin(b, gc, 0) - gMax(b, ga, 2), gMin(b, ga, 0) - gMax(b, gc, 2)) < DOT_GAP * L && !apart) near[ga[0]][gc[0]] = true;
  }
  const out = components(near);
  const flat = (g) => {                                                          // a dot-sized dash
    const w = gMax(b, g, 2) - gMin(b, g, 0), h = gMax(b, g, 3) - gMin(b, g, 1);
    return g.length === 1 && Math.max(w, h) < DOT * L && Math.min(w, h) < FLAT * Math.max(w, h);
  };
  const speck = out.map((g) => extent(g) < SPECK * L || flat(g));
  const whole = out.filter((g, i) => !speck[i]), alone = [];
  out.forEach((g, s) => {                                                        // 4. a speck joins the nearest
    if (!speck[s]) return;
    const gaps = whole.map((w) => boxGap(b, g, w));
    let k = -1;
    gaps.forEach((v, i) => { if (k < 0 || v < gaps[k]) k = i; });
    if (k >= 0 && gaps[k] < SPECK_GAP * L) whole[k] = whole[k].concat(g).sort((x, y) => x - y);
    else alone.push(g);
  });
  return hugNext(b, whole.concat(alone), L);                                    // 5. a raised ring hugging the next
}

function sortedByCentre(b, groups) {
  const key = (g) => (gMin(b, g, 0) + gMax(b, g, 2)) / 2;
  return groups.map((g) => [key(g), g]).sort((x, y) => x[0] - y[0]).map((x) => x[1]);
}

function hugNext(b, groups, L) {   // _hug_next: a small symbol above the line's middle that hugs the next joins it
  const out = sortedByCentre(b, groups);
  const box = (g) => [gMin(b, g, 0), gMin(b, g, 1), gMax(b, g, 2), gMax(b, g, 3)];
  const bx = out.map(box);
  const tall = bx.filter(([x0, y0, x1, y1]) => Math.max(x1 - x0, y1 - y0) >= 0.7 * L).map(([, y0, , y1]) => (y0 + y1) / 2);
  const mid = tall.length ? median(tall) : -Infinity;
  let i = 0;
  while (i < out.length - 1) {
    const [x0, y0, x1, y1] = bx[i], after = bx[i + 1];
    const gapNext = after[0] - x1, gapPrev = i ? x0 - bx[i - 1][2] : Infinity;
    if (Math.max(x1 - x0, y1 - y0) < SMALL * L && y1 < mid && gapNext < HUG * L && gapNext < 0.5 * gapPrev) {
      out[i + 1] = out[i].concat(out[i + 1]).sort((x, y) => x - y);
      bx[i + 1] = box(out[i + 1]);
      out.splice(i, 1);
      bx.splice(i, 1);
    } else i += 1;
  }
  return sortedByCentre(b, out);
}

/** The box around the pieces `idx`. */
export function unionBox(boxes, idx) {
  return [gMin(boxes, idx, 0), gMin(boxes, idx, 1), gMax(boxes, idx, 2), gMax(boxes, idx, 3)];
}

/** The line height of pieces: that of the symbols a first grouping makes. */
export function estimateLine(boxes, distance = null) {
  const b = checkBoxes(boxes);
  if (!b.length) return 0.0;
  const first = lineHeight(b);
  const groups = groupPieces(b, first, distance);
  return Math.max(first, lineHeight(groups.map((g) => unionBox(b, g))));
}

/** The pen strokes' indices (into the checked strokes; erasers left out) and their boxes, widened by half the pen. */
export function strokeBoxes(strokes) {
  const S = checkStrokes(strokes);
  const keep = [], boxes = [];
  S.forEach((s, i) => {
    if (s.erase) return;
    keep.push(i);
    const xs = s.pts.map((p) => p[0]), ys = s.pts.map((p) => p[1]), r = s.width / 2;
    boxes.push([minOf(xs) - r, minOf(ys) - r, maxOf(xs) + r, maxOf(ys) + r]);
  });
  return { keep, boxes };
}

/** (i, j) -> the gap between pen strokes keep[i] and keep[j]: nearest points, less half of each pen width. */
export function strokeDistance(strokes, keep) {
  const S = checkStrokes(strokes);
  return (i, j) => {
    const a = S[keep[i]], c = S[keep[j]];
    let m = Infinity;
    for (const p of a.pts) for (const q of c.pts) {
      const dx = p[0] - q[0], dy = p[1] - q[1], d = dx * dx + dy * dy;
      if (d < m) m = d;
    }
    return Math.sqrt(m) - (a.width + c.width) / 2;
  };
}

/** Each symbol's role, "base", "sup" or "sub", from its box against the last base symbol to its left. */
export function layout(boxes, line = null) {
  const b = checkBoxes(boxes);
  if (!b.length) return [];
  const L = line === null ? lineHeight(b) : Number(line);
  const h = b.map((r) => r[3] - r[1]), cy = b.map((r) => (r[1] + r[3]) / 2);
  const order = b.map((r, i) => [(r[0] + r[2]) / 2, i]).sort((x, y) => x[0] - y[0]).map((x) => x[1]);
  const roles = b.map(() => "base");
  let ref = null;
  for (const i of order) {
    if (ref !== null) {
      const H = Math.max(h[ref], L);
      const d = (cy[i] - cy[ref]) / H;
      if (h[i] < SMALL * L || h[i] < SCRIPT_SIZE * H) {
        if (d < -SCRIPT_SHIFT) roles[i] = "sup";
        else if (d > SCRIPT_SHIFT) roles[i] = "sub";
      }
    }
    if (roles[i] === "base") ref = i;
  }
  return roles;
}

/** A symbol's LaTeX as it goes into a formula (text-mode commands wrapped in \text{}); `textMode`: a Set. */
export function token(latex, textMode) {
  return textMode && textMode.has(latex) ? `\\text{${latex}}` : latex;
}

function join(parts) {   // _join: a space only where a command would run into a letter
  let out = "";
  for (const p of parts) {
    if (/^\p{L}/u.test(p) && /\\[A-Za-z]+$/.test(out)) out += " ";
    out += p;
  }
  return out;
}

/** LaTeX for symbols in reading order with their roles: runs of sup / sub symbols go into ^{...} / _{...}. */
export function writeLatex(latex, roles, textMode = null) {
  if (latex.length !== roles.length) throw new Error(`write_latex: ${latex.length} symbols but ${roles.length} roles`);
  const bad = roles.filter((r) => !["base", "sup", "sub"].includes(r));
  if (bad.length) throw new Error(`write_latex: roles must be 'base', 'sup' or 'sub', got '${bad[0]}'`);
  const parts = [];
  for (let i = 0; i < latex.length;) {
    let j = i;
    while (j < latex.length && roles[j] === roles[i]) j++;
    const toks = latex.slice(i, j).map((t) => token(t, textMode));
    if (roles[i] === "base") parts.push(...toks);
    else parts.push((roles[i] === "sup" ? "^" : "_") + "{" + join(toks) + "}");
    i = j;
  }
  return join(parts);
}

function paste(small, side, size = 32) {   // _paste: centred, the extra pixel of an odd margin on top / left
  const out = new Uint8Array(size * size).fill(255);
  const top = Math.floor((size - side + 1) / 2), left = top;
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) out[(top + y) * size + left + x] = small[y * side + x];
  return out;
}

function smallSide(extent, line) {   // _small_side
  if (extent >= SMALL * line) return null;
  return Math.trunc(Math.min(31, Math.max(DOT_PX, pyRound((32 * extent) / line))));
}

function isBlob(strokes) {   // _is_blob
  const pen = checkStrokes(strokes).filter((s) => !s.erase);
  const xs = pen.flatMap((s) => s.pts.map((p) => p[0])), ys = pen.flatMap((s) => s.pts.map((p) => p[1]));
  return Math.max(maxOf(xs) - minOf(xs), maxOf(ys) - minOf(ys)) <= 2 * maxOf(pen.map((s) => s.width));
}

/** The 32x32 model input of one symbol's strokes (a small symbol keeps its size), uint8, 255 = paper. */
export function strokesSymbolInput(strokes, extent, line, pad = DEFAULT_PAD) {
  const side = smallSide(extent, line);
  if (isBlob(strokes)) strokes = [{ points: [[0.5, 0.5]], width: 0.01 }];   // HASY's dot, whatever the unit
  if (side === null) return strokesToImage(strokes, { ...pad, size: 32 });
  return paste(strokesToImage(strokes, { ...pad, size: side }), side);
}

function readStrokes(strokes, line) {   // _stroke_pieces + _plain_row of the top row (no fractions, roots, limits here)
  const { keep, boxes } = strokeBoxes(strokes);
  const S = checkStrokes(strokes);
  const distance = strokeDistance(strokes, keep);
  const group = (pieces, L, floor = 0) => {   // _group: pieces (positions in keep) -> symbols, with the line used
    const b = pieces.map((i) => boxes[i]);
    const dist = (i, j) => distance(pieces[i], pieces[j]);
    const Lg = L !== null ? L : Math.max(estimateLine(b, dist), floor);
    return { groups: groupPieces(b, Lg, dist).map((g) => g.map((i) => pieces[i])), L: Lg };
  };
  const all = keep.map((_, i) => i);
  const { groups, L } = group(all, line);
  let items = groups.map((g) => ({ pieces: g, box: unionBox(boxes, g), L }));
  let roles = items.length ? layout(items.map((t) => t.box), line !== null ? line : lineHeight(items.map((t) => t.box))) : [];
  const byX = (list) => list.map((t, i) => [(t.box[0] + t.box[2]) / 2, i]).sort((x, y) => x[0] - y[0]).map((x) => x[1]);
  const runs = new Map();   // _regroup_scripts: each base's sub / sup run grouped again at the scripts' own line
  let base = -1;
  for (const i of byX(items)) {
    if (roles[i] === "base") base = i;
    else {
      const key = `${base}:${roles[i]}`;
      if (!runs.has(key)) runs.set(key, { base, role: roles[i], idx: [] });
      runs.get(key).idx.push(i);
    }
  }
  const drop = new Set(), extra = [], extraRoles = [];
  for (const { base: bi, role, idx } of runs.values()) {
    const pieces = idx.flatMap((i) => items[i].pieces).sort((x, y) => x - y);
    if (pieces.length < 2 || bi < 0) continue;
    const bb = items[bi].box;
    const r = group(pieces, null, SCRIPT_LINE * (bb[3] - bb[1]));
    idx.forEach((i) => drop.add(i));
    for (const g of r.groups) { extra.push({ pieces: g, box: unionBox(boxes, g), L: r.L }); extraRoles.push(role); }
  }
  const kept = items.map((_, i) => i).filter((i) => !drop.has(i));
  roles = kept.map((i) => roles[i]).concat(extraRoles);
  items = kept.map((i) => items[i]).concat(extra);
  const rows = [];   // [base item, sub items, sup items] in x order, as the tree's top row
  for (const i of byX(items)) {
    if (roles[i] === "base" || !rows.length) rows.push([i, [], []]);
    else rows[rows.length - 1][roles[i] === "sub" ? 1 : 2].push(i);
  }
  return { items, roles, rows, S, L, keep };
}

function textModeOf(opts) {
  if (opts.textMode) return opts.textMode;
  if (opts.symbols) return new Set(opts.symbols.filter((s) => s.mode === "text").map((s) => s.latex));
  return null;
}

/**
 * Read pen strokes ({points: [[x, y], ...], width, erase} in pad units) into a formula, as hasy_nb.formula.read_formula:
 * {latex, symbols: [{box, role, guesses: [[latex, prob], ...], pieces, choice, latex}], inputs, line}.
 * opts: {symbols (symbols.json: text-mode commands get \text{}) or textMode (a Set), line (a fixed line height)}.
 */
export function readFormula(model, strokes, k = 5, opts = {}) {
  const line = opts.line ?? null;
  if (line !== null && !(typeof line === "number" && Number.isFinite(line) && line > 0)) {
    throw new Error(`read_formula: line must be a positive, finite height (input units), got ${line}`);
  }
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`read_formula: k must be a whole number >= 1 (guesses per symbol), got ${k}`);
  checkStrokes(strokes || []);                                         // errors name the stroke's index in the input
  const drawn = (strokes || []).flatMap((s, i) => (checkStrokes([s]).length ? [i] : []));
  strokes = drawn.map((i) => strokes[i]);                              // empty strokes out, as _stroke_pieces
  const { items, roles, rows, S, L, keep } = readStrokes(strokes, line);
  const order = rows.flatMap(([b, sub, sup]) => [b, ...sub, ...sup]);   // the tree's order: base, its subs, its sups
  const pad = (model && model.pad) || DEFAULT_PAD;
  const inputs = order.map((n) => {
    const [x0, y0, x1, y1] = items[n].box;
    const erasers = [];
    S.forEach((s, i) => {
      if (!s.erase) return;
      const r = s.width / 2, xs = s.pts.map((p) => p[0]), ys = s.pts.map((p) => p[1]);
      if (maxOf(xs) + r >= x0 && maxOf(ys) + r >= y0 && minOf(xs) - r <= x1 && minOf(ys) - r <= y1) erasers.push(i);
    });
    const mine = items[n].pieces.map((i) => keep[i]).concat(erasers).sort((a, b) => a - b).map((i) => strokes[i]);
    return strokesSymbolInput(mine, Math.max(x1 - x0, y1 - y0), items[n].L, pad);
  });
  const guesses = inputs.map((x) => {
    if (!model) return [];
    const p = softmax(logits(model, x));
    const idx = Array.from(p.keys()).sort((a, b) => p[b] - p[a]).slice(0, Math.min(k, p.length));
    return idx.map((i) => [model.labels[i], p[i]]);
  });
  const symbols = order.map((n, i) => ({ box: items[n].box, role: roles[n], guesses: guesses[i],
    pieces: items[n].pieces.map((j) => drawn[keep[j]]).sort((a, b) => a - b), choice: 0, latex: guesses[i].length ? guesses[i][0][0] : "" }));
  const at = new Map(order.map((n, i) => [n, i]));
  const tree = rows.map(([b, sub, sup]) => ({ base: at.get(b), sub: sub.map((n) => at.get(n)), sup: sup.map((n) => at.get(n)) }));
  const textMode = textModeOf(opts);
  const f = { symbols, inputs, line: L, textMode, tree };
  return { ...f, latex: treeLatex(f) };
}

/** LaTeX of a read formula's top row: each base with its subscripts then superscripts (Python's `write_tree`). */
export function treeLatex(formula) {
  const t = (i) => token(formula.symbols[i].latex, formula.textMode);
  return join(formula.tree.map(({ base, sub, sup }) => t(base) + (sub.length ? "_{" + join(sub.map(t)) + "}" : "")
    + (sup.length ? "^{" + join(sup.map(t)) + "}" : "")));
}

/** A copy of `formula` in which symbol `i` uses its `j`-th guess (0-based): the one-click fix. */
export function withChoice(formula, i, j) {
  const n = formula.symbols.length;
  if (!(i >= 0 && i < n)) throw new Error(`with_choice: symbol ${i} of ${n}`);
  const s = formula.symbols[i];
  if (!(j >= 0 && j < s.guesses.length)) throw new Error(`with_choice: guess ${j} of symbol ${i}'s ${s.guesses.length}`);
  const symbols = formula.symbols.slice();
  symbols[i] = { ...s, choice: j, latex: s.guesses[j][0] };
  return { ...formula, symbols, latex: treeLatex({ ...formula, symbols }) };
}
