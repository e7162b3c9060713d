// formula.js: the formula reader in the browser. It mirrors the pen-stroke path of hasy_nb/formula.py's
// `read_formula` line by line (stroke boxes and gaps, the line estimate, `group_pieces` with the same constants,
// erasers, each symbol's 32x32 input, the model, `layout`, the layout tree with its fractions, roots and big
// operators with limits, `write_tree`), with the same names in camelCase.
// tests/test_formula_js.py holds the two to parity (groups, roles, tree, structures, LaTeX, the 32x32 inputs, top-5
// guesses) on hundreds of random stroke formulas: change one, change the other, and run that test.
// Rasterisation is hasynet.js's exact port of hasy_nb.infer's; works in a page, a worker and in Node.

import { checkStrokes, strokesToImage, logits, softmax, pyRound, DEFAULT_PAD } from "./hasynet.js";
// The constants: one set, written by Python from the chapter (hasy_nb.formula.write_formula_constants); no copy here.
import CONSTANTS from "./formula_constants.json" with { type: "json" };

export { CONSTANTS };
export const { SMALL, DOT, DOT_GAP, MIN_WIDTH, OVERLAP, SPECK, SPECK_GAP, FLAT, BAR_WIDTH, BAR_GAP, HUG, NEAR, NEAR_X, DASH,
  STACK_MIN, STACK_GAP, STACK_SPAN, SCRIPT_SHIFT, SCRIPT_SIZE, SCRIPT_LINE, FRAC_INK, FRAC_WIDER, FRAC_REACH, FRAC_CLEAR, ENCLOSE, ROOT_INK,
  ROOT_BELOW, INDEX_SIZE, INDEX_FOOT, LIMIT_SIZE, LIMIT_REACH, LIMIT_SPAN, OP_JOIN, OP_WIDEN, COMP_LINE, OP_TRIES, TALL, OP_TALL, ADOPT,
  ADOPT_GAP, OP_RANK, PASSES, SCRIPT_DOT, FRAC_DASHES, SPECK_OFF, OP_LEVEL, FRAC_END, PAIR_GAP,
  ROOT_SIGNS, OPERATORS, LIMIT_LATEX } = CONSTANTS;
export const DOT_PX = 5.0;      // hasy_nb.infer.DOT_PX
export const ROLE_COLOURS = { base: "#1f6feb", sup: "#d62728", sub: "#2ca02c", bar: "#9467bd", root: "#e377c2" };

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
const gExtent = (b, g) => Math.max(gMax(b, g, 2) - gMin(b, g, 0), gMax(b, g, 3) - gMin(b, g, 1));   // _extent

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

function stackedPairs(b, L) {   // _stacked: big pieces (h >= FLAT x w, >= STACK_MIN x L), apart in y by > STACK_GAP x L, spanning > STACK_SPAN x L
  const big = b.map((r) => r[3] - r[1] >= FLAT * (r[2] - r[0]) && Math.max(r[2] - r[0], r[3] - r[1]) >= STACK_MIN * L);
  return b.map((r, i) => b.map((q, j) => {
    const gy = Math.max(r[1], q[1]) - Math.min(r[3], q[3]), span = Math.max(r[3], q[3]) - Math.min(r[1], q[1]);
    return big[i] && big[j] && gy > STACK_GAP * L && span > STACK_SPAN * L;
  }));
}

function unbridge(near, stacked, b, only = null) {   // _unbridge: a piece (of `only`) linked to two stacked pieces keeps the nearer in y
  const n = b.length, gy = (i, j) => Math.max(b[i][1], b[j][1]) - Math.min(b[i][3], b[j][3]);
  for (let i = 0; i < n; i++) {
    if (only !== null && !only[i]) continue;
    const P = [];
    for (let j = 0; j < n; j++) if (near[i][j] && j !== i) P.push(j);
    if (!P.some((j) => P.some((k) => stacked[j][k]))) continue;
    let keep = P[0];
    for (const j of P) if (gy(i, j) < gy(i, keep)) keep = j;
    for (const j of P) if (j !== keep) { near[i][j] = false; near[j][i] = false; }
  }
}

/** Pieces -> symbols: lists of piece indices, left to right; `distance(i, j)`: the ink gap (or null); `solo`: alone. */
export function groupPieces(boxes, line = null, distance = null, solo = [], stack = true) {   // `stack`: not in a script run
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
  const stacked = stack ? stackedPairs(b, L) : b.map(() => b.map(() => false));
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
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (near[i][j]) near[j][i] = true;
    unbridge(near, stacked, b, small);                                           // ... and no small piece bridges them by its ink gaps
  }
  for (const [i, j] of barPairs(b, L)) near[i][j] = true;                      // 1b. two bars: one symbol
  for (const i of solo) for (let j = 0; j < n; j++) { near[i][j] = false; near[j][i] = false; }   // alone
  const groups = components(near);
  const dots = groups.filter((g) => gExtent(b, g) < DOT * L);                        // 3. dots near each other
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
  const speck = out.map((g) => gExtent(b, g) < SPECK * L || flat(g));
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

/** The line height of pieces: that of the symbols a first grouping makes (`stack` as in groupPieces). */
export function estimateLine(boxes, distance = null, stack = true) {
  const b = checkBoxes(boxes);
  if (!b.length) return 0.0;
  const first = lineHeight(b);
  const groups = groupPieces(b, first, distance, [], stack);
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


// ---- the layout tree: fractions, roots, big operators with limits (hasy_nb.formula's "Finding the structures") ----

const boxOf = (B, sel) => {   // the box around the selected rows of B
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  B.forEach((r, i) => { if (sel[i]) { x0 = Math.min(x0, r[0]); y0 = Math.min(y0, r[1]); x1 = Math.max(x1, r[2]); y1 = Math.max(y1, r[3]); } });
  return [x0, y0, x1, y1];
};
const argsortBy = (n, key) => Array.from({ length: n }, (_, i) => i).sort((a, c) => key(a) - key(c));   // stable
const keyOf = (pieces) => pieces.slice().sort((a, c) => a - c).join(",");
const node = (kind, symbol, o = {}) => ({ kind, symbol, sub: o.sub || [], sup: o.sup || [], parts: o.parts || [], limits: !!o.limits });

class Reading {   // _Reading: what one pass of the structure reader needs and makes
  constructor(b, distance, line, skip, floor = 0.0, only = null) {
    Object.assign(this, { b, distance, line, skip, floor, only, specs: [], roles: [], found: [], topLine: 0.0 });
  }
  symbol(pieces, mode, line, role) {
    this.specs.push([pieces.slice().sort((a, c) => a - c), mode, Number(line)]);
    this.roles.push(role);
    return this.specs.length - 1;
  }
  skipped(key) { return (this.skip.get(key) || [""])[0]; }
}

function itemBoxes(R, pieces, comps) { return pieces.map((p) => R.b[p]).concat(comps.map((c) => c.box)); }

function weighty(R, pieces, comps, sel, size) {   // _weighty: a structure, or pieces not flat, their box at least `size`
  const n = pieces.length;
  if (sel.slice(n).some(Boolean)) return true;
  const mine = pieces.filter((p, i) => sel[i] && !isFlat(R.b[p])).map((p) => R.b[p]);
  return mine.length > 0 && Math.max(maxOf(mine.map((r) => r[2])) - minOf(mine.map((r) => r[0])), maxOf(mine.map((r) => r[3])) - minOf(mine.map((r) => r[1]))) >= size;
}

function rowHeight(R, pieces) {   // _row_height: the median height of the row's tall pieces
  if (!pieces.length) return 0.0;
  const h = pieces.map((p) => R.b[p][3] - R.b[p][1]), top = 0.7 * maxOf(h);
  return median(h.filter((v) => v >= top));
}

function split(pieces, comps, sel) {
  const n = pieces.length;
  return [pieces.filter((_, i) => sel[i]), comps.filter((_, i) => sel[n + i])];
}

function reach(B, sel, edge, sign, far) {   // _reach: the selected items chaining away from `edge` (up -1, down +1)
  const out = B.map(() => false);
  let near = edge;
  for (const i of argsortBy(B.length, (i) => sign * (sign > 0 ? B[i][1] : B[i][3]))) {
    if (!sel[i]) continue;
    const gap = sign > 0 ? B[i][1] - near : near - B[i][3];
    if (gap > far) break;
    out[i] = true;
    near = sign > 0 ? Math.max(near, B[i][3]) : Math.min(near, B[i][1]);
  }
  return out;
}

function fracWeighty(R, pieces, comps, sel, size, x0, x1) {   // _frac_weighty: weighty, or FRAC_DASHES dashes within x0..x1, `size` tall
  if (weighty(R, pieces, comps, sel, size)) return true;
  const d = pieces.filter((_, i) => sel[i]).map((p) => R.b[p]).filter(isFlat);
  return d.length >= FRAC_DASHES && maxOf(d.map((r) => r[3])) - minOf(d.map((r) => r[1])) >= size && d.every((r) => r[0] >= x0 && r[2] <= x1);
}

function peelFrac(R, pieces, comps) {   // _peel_frac: the widest fraction bar with its numerator and denominator
  const B = itemBoxes(R, pieces, comps), cx = B.map((r) => (r[0] + r[2]) / 2);
  let best = null;
  pieces.forEach((p, k) => {
    const [x0, y0, x1, y1] = R.b[p], h = y1 - y0, cy = (y0 + y1) / 2;
    if (!(h <= DASH * (x1 - x0)) || R.skipped(String(p)) === "line") return;
    const inside = B.map((r, i) => i !== k && cx[i] >= x0 && cx[i] <= x1 && r[2] - r[0] <= FRAC_WIDER * (x1 - x0));
    const above = reach(B, inside.map((v, i) => v && B[i][3] <= cy), y0, -1, FRAC_REACH * (x1 - x0));
    const below = reach(B, inside.map((v, i) => v && B[i][1] >= cy), y1, 1, FRAC_REACH * (x1 - x0));
    const size = FRAC_INK * Math.max(h, 1e-9);
    if (dotSide(R, pieces, above, x1 - x0) && dotSide(R, pieces, below, x1 - x0)) return;   // a \div
    if (fracWeighty(R, pieces, comps, above, size, x0, x1) && fracWeighty(R, pieces, comps, below, size, x0, x1)) {
      if (touching(R, pieces, above.map((v, i) => v || below[i]), k, FRAC_CLEAR * h).some(Boolean)) return;
      if (barStroke(B, above.map((v, i) => v || below[i]), x0, y0, x1, y1)) return;
      if (best === null || x1 - x0 > best[1]) best = [k, x1 - x0, above, below];
    }
  });
  if (best === null) return null;
  const [k, width, above, below] = best, bar = R.b[pieces[k]];
  const sel = above.map((v, i) => v || below[i]);
  const h = Math.max(maxOf(B.filter((_, i) => sel[i]).map((r) => r[3])), bar[3]) - Math.min(minOf(B.filter((_, i) => sel[i]).map((r) => r[1])), bar[1]);
  return [k, width, ...adopt(R, pieces, [above, below], h, [k])];
}

function dotSide(R, pieces, sel, width) {   // _dot_side: the selected items one piece (no structure) under DOT x `width`: a \div's dot
  const n = pieces.length, mine = pieces.filter((_, i) => sel[i]);
  if (sel.slice(n).some(Boolean) || mine.length !== 1) return false;
  const [x0, y0, x1, y1] = R.b[mine[0]];
  return Math.max(x1 - x0, y1 - y0) < DOT * width;
}

function barStroke(B, sel, x0, y0, x1, y1) {   // _bar_stroke: a selected item reaching the bar's end, closer than FRAC_END x its thickness
  return B.some((r, i) => sel[i] && (r[0] <= x0 || r[2] >= x1) && Math.max(r[1] - y1, y0 - r[3]) < FRAC_END * (y1 - y0));
}

function adopt(R, pieces, parts, h, own) {   // _adopt: each part with the small pieces whose nearest ink, close enough, is its
  parts = parts.map((p) => p.slice());
  if (R.distance === null) return parts;
  const b = pieces.map((p) => R.b[p]);
  const taken = parts[0].map((_, i) => parts.some((p) => p[i]));
  for (let i = 0; i < b.length; i++) {
    if (!(Math.max(b[i][2] - b[i][0], b[i][3] - b[i][1]) < ADOPT * h) || taken[i] || own.includes(i)) continue;
    const near = [];
    b.forEach((r, j) => {
      const gap = Math.max(r[0] - b[i][2], b[i][0] - r[2], r[1] - b[i][3], b[i][1] - r[3]);
      if (gap < ADOPT_GAP * h && j !== i) near.push(j);
    });
    const d = near.map((j) => R.distance(pieces[i], pieces[j]));
    if (!d.length || minOf(d) >= ADOPT_GAP * h) continue;
    const j = near[d.indexOf(minOf(d))];
    for (const p of parts) p[i] = p[i] || p[j];
  }
  return parts;
}

function touching(R, pieces, sel, k, gap) {   // _touching: the selected pieces whose ink is closer than `gap` to piece k's
  return sel.map((v, i) => R.distance !== null && v && i < pieces.length && R.distance(pieces[k], pieces[i]) < gap);
}

function peelRoot(R, pieces, comps) {   // _peel_root: the largest piece that encloses others, its contents and index
  const B = itemBoxes(R, pieces, comps);
  const area = B.map((r) => Math.max(r[2] - r[0], 1e-9) * Math.max(r[3] - r[1], 1e-9));
  const tall = TALL * rowHeight(R, pieces);
  let best = null;
  pieces.forEach((p, k) => {
    const [x0, y0, x1, y1] = R.b[p];
    if (R.skipped(String(p)) === "line" || y1 - y0 <= Math.max(tall, 0)) return;
    if (R.only !== null && !R.only.has(String(p))) return;
    const held = B.map((r, i) => {
      const iw = Math.max(Math.min(r[2], x1) - Math.max(r[0], x0), 0);
      const ih = Math.max(Math.min(r[3], y1 + ROOT_BELOW * (y1 - y0)) - Math.max(r[1], y0), 0);
      const a = Math.max(iw, 1e-9 * (iw > 0)) * Math.max(ih, 1e-9 * (ih > 0));
      return i !== k && a >= ENCLOSE * area[i] && (area[i] <= 0.6 * (x1 - x0) * (y1 - y0) || i >= pieces.length) && (r[1] + r[3]) / 2 < y1;
    });
    if (weighty(R, pieces, comps, held, ROOT_INK * (y1 - y0))) {
      if (best === null || (x1 - x0) * (y1 - y0) > best[1]) best = [k, (x1 - x0) * (y1 - y0), held];
    }
  });
  if (best === null) return null;
  const [k, , held0] = best;
  const [x0, y0, x1, y1] = R.b[pieces[k]];
  const hang = hanging(B, held0, k, x0, x1, y1 + ROOT_BELOW * (y1 - y0)), held = held0.map((v, i) => v || hang[i]);
  const hook = overHook(B, x0, y1 - INDEX_FOOT * (y1 - y0));
  const high = B.map((r, i) => (r[1] + r[3]) / 2 < (y0 + y1) / 2 || hook[i]);
  const small = B.map((r, i) => i !== k && high[i] && r[3] - r[1] < INDEX_SIZE * (y1 - y0) && r[2] > x0 - 0.3 * (y1 - y0) && !isFlat(r));   // a dash is never an index
  const body = held.map((v, i) => v && !small[i]);
  if (!body.some(Boolean)) return null;
  const lead = body.map((v, i) => v && !(isFlat(B[i]) && B[i][0] <= x0));   // the contents start right of the sign's left end
  const first = minOf(B.filter((_, i) => (lead.some(Boolean) ? lead : body)[i]).map((r) => r[0]));   // (a dash there: an index's)
  const index0 = small.map((v, i) => v && (B[i][0] + B[i][2]) / 2 < first);
  const dash = under(B, index0);   // ... with its dashes (of a \pm)
  const index = index0.map((v, i) => i !== k && (v || (isFlat(B[i]) && high[i] && dash[i])));
  const [inner, index2] = adopt(R, pieces, [held.map((v, i) => v && !index[i]), index], y1 - y0, [k]);   // ... with their symbols' pieces
  return [k, inner, index2, maxOf(B.filter((_, i) => inner[i]).map((r) => r[2])) >= x1];   // ... and whether the contents reach its bar's end
}

function overHook(B, x0, foot) {   // _over_hook: items reaching into a root sign's box from the left, their foot above `foot`
  return B.map((r) => r[0] <= x0 && r[2] > x0 && r[3] < foot);
}

function under(B, sel) {   // _under: items not selected, at least half of their x range inside a selected item's
  return B.map((r, i) => !sel[i] && B.some((q, j) => sel[j] && Math.min(r[2], q[2]) - Math.max(r[0], q[0]) >= 0.5 * Math.max(r[2] - r[0], 1e-9)));
}

function hanging(B, held, k, x0, x1, y1) {   // _hanging: items under a root's contents, their tops above y1 (the foot, lowered)
  const u = under(B, held);
  return B.map((r, i) => {
    const top = Math.min(Infinity, ...B.filter((q, j) => held[j] && q[0] < r[2] && q[2] > r[0]).map((q) => q[1]));
    const cx = (r[0] + r[2]) / 2;
    return i !== k && u[i] && r[1] < y1 && cx > x0 && cx < x1 && r[1] > top;
  });
}

function cluster(R, pieces, k) {   // _cluster: piece k with the pieces half inside its box or linked by small ink gaps
  const [x0, y0, x1, y1] = R.b[pieces[k]], out = [k], todo = [k], h = y1 - y0;
  while (todo.length) {
    const m = todo.pop();
    const [c0, d0, c1, d1] = R.b[pieces[m]];
    for (let j = 0; j < pieces.length; j++) {
      if (out.includes(j)) continue;
      const [a0, b0, a1, b1] = R.b[pieces[j]];
      const cy = (b0 + b1) / 2;
      if (Math.max(a0 - c1, c0 - a1, b0 - d1, d0 - b1) >= OP_JOIN * h || !(y0 <= cy && cy <= y1)) continue;
      const inside = m === k && (Math.min(a1, x1) - Math.max(a0, x0)) * (Math.min(b1, y1) - Math.max(b0, y0)) >= 0.5 * (a1 - a0) * (b1 - b0);
      if (inside || (R.distance !== null && R.distance(pieces[m], pieces[j]) < OP_JOIN * h)) { out.push(j); todo.push(j); }
    }
  }
  return out;
}

function widen(R, pieces, mine) {   // _widen: an operator's pieces with the level ones closer than OP_WIDEN x its height, then those half inside
  const b = pieces.map((p) => R.b[p]);
  let out = mine.slice();
  const y0 = gMin(b, mine, 1), y1 = gMax(b, mine, 3), h = y1 - y0;
  const level = b.map((r) => (r[1] + r[3]) / 2 >= y0 && (r[1] + r[3]) / 2 <= y1 && r[3] - r[1] >= OP_LEVEL * h);
  for (let grown = true; grown;) {
    const fresh = b.map((_, j) => j).filter((j) => level[j] && !out.includes(j) && boxGap(b, out, [j]) < OP_WIDEN * h);
    out = out.concat(fresh);
    grown = fresh.length > 0;
  }
  const x0 = gMin(b, out, 0), x1 = gMax(b, out, 2);
  const inside = b.map((r) => Math.max(Math.min(r[2], x1) - Math.max(r[0], x0), 0) * Math.max(Math.min(r[3], y1) - Math.max(r[1], y0), 0) >= 0.5 * (r[2] - r[0]) * (r[3] - r[1]));
  return out.concat(b.map((_, j) => j).filter((j) => inside[j] && !out.includes(j)));
}

function limitsOf(R, pieces, comps, B, mine) {   // _limits: items above / below that can be limits, and whether each side has one
  const [x0, y0, x1, y1] = boxOf(B, B.map((_, i) => mine.includes(i)));
  const h = y1 - y0, w = x1 - x0;
  const near = B.map((r, i) => !mine.includes(i) && (r[0] + r[2]) / 2 >= x0 - LIMIT_SPAN * w && (r[0] + r[2]) / 2 <= x1 + LIMIT_SPAN * w);
  const above = reach(B, near.map((v, i) => v && B[i][3] < y0), y0, -1, LIMIT_REACH * h);
  const below = reach(B, near.map((v, i) => v && B[i][1] > y1), y1, 1, LIMIT_REACH * h);
  const free = B.map((_, i) => !mine.includes(i));
  const up = limitRow(B, above, free.map((v, i) => v && B[i][3] < y0), LIMIT_REACH * h, x0, x1);   // ... with the rest of their rows
  const down = limitRow(B, below, free.map((v, i) => v && B[i][1] > y1), LIMIT_REACH * h, x0, x1);
  return [up, down, limitWeighty(R, pieces, comps, up, LIMIT_SIZE * h), limitWeighty(R, pieces, comps, down, LIMIT_SIZE * h)];
}

function limitRow(B, sel, side, far, x0, x1) {   // _limit_row: a limit with the level items of `side` within `far` in x, chained, if still centred on x0..x1
  if (!sel.some((v) => v)) return sel;
  const out = sel.slice(), cy = B.map((r) => (r[1] + r[3]) / 2);
  for (let grown = true; grown;) {
    const s = out.map((v, i) => (v ? i : -1)).filter((i) => i >= 0);
    const fresh = B.map((_, j) => j).filter((j) => side[j] && !out[j] && s.some((i) =>
      cy[j] >= B[i][1] && cy[j] <= B[i][3] && Math.max(B[i][0] - B[j][2], B[j][0] - B[i][2]) < far));
    for (const j of fresh) out[j] = true;
    grown = fresh.length > 0;
  }
  const mid = (minOf(B.filter((_, i) => out[i]).map((r) => r[0])) + maxOf(B.filter((_, i) => out[i]).map((r) => r[2]))) / 2;
  return mid >= x0 && mid <= x1 ? out : sel;   // a limit is centred on its operator
}

function limitWeighty(R, pieces, comps, sel, size) {   // _limit_weighty: weighty, or 2+ dashes and dots whose box is at least `size`
  const b = pieces.filter((_, i) => sel[i]).map((p) => R.b[p]);
  if (weighty(R, pieces, comps, sel, size)) return true;
  return b.length > 1 && Math.max(maxOf(b.map((r) => r[2])) - minOf(b.map((r) => r[0])), maxOf(b.map((r) => r[3])) - minOf(b.map((r) => r[1]))) >= size;
}

function peelOp(R, pieces, comps) {   // _peel_op: the tallest piece (with its symbol's pieces) with limits above or below
  const ht = (k) => R.b[pieces[k]][3] - R.b[pieces[k]][1];
  const B = itemBoxes(R, pieces, comps), tall = Math.max(TALL * rowHeight(R, pieces), OP_TALL * Math.max(0.0, ...pieces.map((_, k) => ht(k))));
  const order = argsortBy(pieces.length, (k) => -ht(k));
  for (const k of order.slice(0, OP_TRIES)) {
    if (ht(k) < tall) break;
    if (isFlat(R.b[pieces[k]])) continue;
    const first = limitsOf(R, pieces, comps, B, [k]);
    if (!first[2] && !first[3]) continue;
    let mine = cluster(R, pieces, k), key = keyOf(mine.map((j) => pieces[j]));
    if (R.skipped(key) === "line") {   // turned down: once more, widened
      mine = widen(R, pieces, mine);
      key = keyOf(mine.map((j) => pieces[j]));
    }
    if (R.skipped(key) === "line" || (R.only !== null && !R.only.has(key))) continue;
    const [above, below, up, down] = limitsOf(R, pieces, comps, B, mine);
    const h = maxOf(mine.map((j) => B[j][3])) - minOf(mine.map((j) => B[j][1]));
    if (up || down) return [mine, ...adopt(R, pieces, [above.map((v) => v && up), below.map((v) => v && down)], h, mine)];
  }
  return null;
}

function fracCore(box, bar, half) {   // _frac_core: a fraction shows the layout its x range, its bar's height +- `half`
  const y = (bar[1] + bar[3]) / 2;
  return [box[0], y - half, box[2], y + half];
}

function parseRow(R, pieces, comps, top = false) {   // _parse_row: one row of the tree from its pieces and structures
  pieces = pieces.slice(); comps = comps.slice();
  for (;;) {
    const f = peelFrac(R, pieces, comps);
    if (f !== null) {
      const [k, , above, below] = f, bar = pieces[k];
      const rest = above.map((v, i) => i !== k && !v && !below[i]);
      const num = parseRow(R, ...split(pieces, comps, above)), den = parseRow(R, ...split(pieces, comps, below));
      const ib = itemBoxes(R, pieces, comps), part = (sel) => boxOf(ib, sel);
      const bx = part(above.map((v, i) => v || below[i]));
      const box = [Math.min(bx[0], R.b[bar][0]), bx[1], Math.max(bx[2], R.b[bar][2]), bx[3]];
      const half = Math.max(...[above, below].map((sel) => part(sel)[3] - part(sel)[1])) / 2;   // its taller part, numerator or denominator
      const nd = node("frac", R.symbol([bar], "plain", R.b[bar][2] - R.b[bar][0], "bar"), { parts: [num, den] });
      R.found.push(["frac", nd.symbol, String(bar), null, []]);
      [pieces, comps] = split(pieces, comps, rest);
      comps.push({ node: nd, box, core: fracCore(box, R.b[bar], half) });
      continue;
    }
    const r = peelRoot(R, pieces, comps);
    if (r !== null) {
      const [k, held, index, openEnd] = r, sign = pieces[k];
      const rest = held.map((v, i) => i !== k && !v && !index[i]);
      const body = parseRow(R, ...split(pieces, comps, held));
      const idx = index.some(Boolean) ? parseRow(R, ...split(pieces, comps, index)) : [];
      const h = R.b[sign][3] - R.b[sign][1];
      const nd = node("sqrt", R.symbol([sign], "sign", h, "root"), { parts: [body, idx] });
      const whole = R.symbol([sign], "plain", h, "root");   // the sign read whole, if its hook is not enough
      R.found.push(["sqrt", nd.symbol, String(sign), openEnd ? 1 : null, [whole]]);   // the net's first guess, or any
      const B = itemBoxes(R, pieces, comps);
      const all = [R.b[sign]].concat(B.filter((_, i) => held[i] || index[i]));
      const box = boxOf(all, all.map(() => true));
      const hb = B.filter((_, i) => held[i]);   // the layout sees the contents' height, not the sign's (x^{2} after it)
      const core = [R.b[sign][0], minOf(hb.map((r) => r[1])), R.b[sign][2], maxOf(hb.map((r) => r[3]))];
      [pieces, comps] = split(pieces, comps, rest);
      comps.push({ node: nd, box, core });
      continue;
    }
    const o = peelOp(R, pieces, comps);
    if (o !== null) {
      const [mine, above, below] = o, op = mine.map((j) => pieces[j]);
      const taken = above.map((v, i) => v || below[i] || mine.includes(i));
      const lower = below.some(Boolean) ? parseRow(R, ...split(pieces, comps, below)) : [];
      const upper = above.some(Boolean) ? parseRow(R, ...split(pieces, comps, above)) : [];
      const ob = unionBox(R.b, op);
      const nd = node("symbol", R.symbol(op, "plain", ob[3] - ob[1], "base"), { sub: lower, sup: upper, limits: true });
      R.found.push(["op", nd.symbol, keyOf(op), OP_RANK, []]);
      const box = boxOf(itemBoxes(R, pieces, comps), taken);
      [pieces, comps] = split(pieces, comps, taken.map((v) => !v));
      comps.push({ node: nd, box, core: ob });
      continue;
    }
    break;
  }
  return plainRow(R, pieces, comps, top);
}

function groupRow(R, pieces, L, floor = 0.0, stack = true) {   // _group: pieces -> symbols (reader's indices), with the line used
  const b = pieces.map((p) => R.b[p]);
  const dist = R.distance === null ? null : (i, j) => R.distance(pieces[i], pieces[j]);
  const Lg = L === null ? Math.max(estimateLine(b, dist, stack), floor) : L;
  const solo = [];
  pieces.forEach((p, i) => { if (R.skipped(String(p)) === "line" && isFlat(R.b[p])) solo.push(i); });
  const groups = groupPieces(b, Lg, dist, solo, stack).map((g) => g.map((i) => pieces[i]));
  return [groups.flatMap((g) => (stack ? splitStack(R.b, g, Lg) : [g])), Lg];
}

function splitStack(b, g, L) {   // _split_stack: a symbol taller than STACK_SPAN x L cut by a band of paper: two (no dots)
  if (g.length < 2 || gMax(b, g, 3) - gMin(b, g, 1) <= STACK_SPAN * L) return [g];
  const parts = bandCut(b, g, STACK_GAP * L);
  const ext = (ps) => maxOf(ps.map((p) => Math.max(b[p][2] - b[p][0], b[p][3] - b[p][1])));
  if (parts === null || Math.min(ext(parts[0]), ext(parts[1])) < DOT * L) return [g];
  return parts;
}

function bandCut(b, g, least) {   // _band_cut: pieces above and below the widest band of paper across them (> least), or null
  const order = g.slice().sort((p, q) => b[p][1] - b[q][1]);
  let best = null, widest = 0.0, reachY = -Infinity;
  for (let k = 1; k < order.length; k++) {
    reachY = Math.max(reachY, b[order[k - 1]][3]);
    const gap = b[order[k]][1] - reachY;
    if (gap > least && gap > widest) { best = k; widest = gap; }
  }
  if (best === null) return null;
  const asc = (x) => x.slice().sort((p, q) => p - q);
  return [asc(order.slice(0, best)), asc(order.slice(best))];
}

function scriptParts(R, g, box, H, L, pair = false) {   // _script_parts: pieces cut by paper into two parts placed as a base's scripts, or null
  const parts = bandCut(R.b, g, STACK_GAP * L);
  if (parts === null) return null;
  const top = parts.map((p) => gMin(R.b, p, 1)), bot = parts.map((p) => gMax(R.b, p, 3));
  const cy = (box[1] + box[3]) / 2, mid = top.map((t, j) => (t + bot[j]) / 2);
  if (Math.max(bot[0] - top[0], bot[1] - top[1]) >= SCRIPT_SIZE * H) return null;
  if (!pair && bot[1] - top[0] <= STACK_SPAN * H) return null;
  if (pair && Math.min(gExtent(R.b, parts[0]), gExtent(R.b, parts[1])) < DOT * L) return null;   // two symbols: no dot-sized part
  return mid[0] < cy - SCRIPT_SHIFT * H && mid[1] > cy + SCRIPT_SHIFT * H ? parts : null;
}

function nextPlain(items, roles, order, n, gap) {   // _next_plain: the next item in x, a plain symbol on the line within `gap`, or null
  if (n + 1 >= order.length) return null;
  const i = order[n], j = order[n + 1];
  return roles[j] === "base" && items[j].node === null && items[j].core[0] - items[i].core[2] < gap ? j : null;
}

function pairParts(R, items, roles, order, n, g, box, H, L) {   // _pair_parts: g and the next plain symbol as two script rows, and its index
  const j = nextPlain(items, roles, order, n, PAIR_GAP * H);
  const parts = j === null ? null : scriptParts(R, g.concat(items[j].pieces).sort((p, q) => p - q), box, H, L, true);
  return parts && parts.every((p) => p.some((q) => g.includes(q))) ? [parts, j] : [null, null];
}

function splitScripts(R, items, roles, L) {   // _split_scripts: a symbol holding both scripts of the base before it, or of its own base
  const cores = items.map((t) => t.core), out = items.slice(), order = byCentre(cores);
  let ref = null;
  for (const [n, i] of order.entries()) {
    const it = items[i], g = it.pieces;
    if (out[i] === null) continue;                                 // taken as a script with the symbol before it
    if (roles[i] === "base" && it.node === null && g.length > 1) {
      const line = lineHeight(cores.filter((_, j) => j !== i));   // the line without this symbol
      let parts = null, j = null;
      if (ref !== null) {
        const H = Math.max(cores[ref][3] - cores[ref][1], line);
        parts = scriptParts(R, g, cores[ref], H, L);
        if (parts === null) [parts, j] = pairParts(R, items, roles, order, n, g, cores[ref], H, L);   // two each
      }
      let t = g[0];
      for (const p of g) if (R.b[p][3] - R.b[p][1] > R.b[t][3] - R.b[t][1]) t = p;   // its tallest piece a base, the
      const right = g.filter((p) => R.b[p][0] > (R.b[t][0] + R.b[t][2]) / 2);          // pieces right of its middle its scripts
      if (parts === null && right.length && right.length < g.length) {
        const base = g.filter((p) => !right.includes(p)), bb = unionBox(R.b, base), Hb = Math.max(bb[3] - bb[1], line);
        parts = scriptParts(R, right, bb, Hb, L);
        if (parts === null) [parts, j] = pairParts(R, items, roles, order, n, right, bb, Hb, L);   // (two each)
        if (parts) parts = [base].concat(parts);
      }
      if (parts) {
        if (j !== null) out[j] = null;                             // the next symbol's pieces are in the parts
        out[i] = null;
        if (parts.length !== 2) ref = null;
        for (const p of parts) out.push({ core: unionBox(R.b, p), node: null, pieces: p, L: it.L });
        continue;
      }
    }
    if (roles[i] === "base") ref = i;
  }
  return out.filter((t) => t !== null);
}

const byCentre = (cores) => argsortBy(cores.length, (i) => (cores[i][0] + cores[i][2]) / 2);

function dotsLine(b) {   // _dots_line: a row of dots only (each under DOT x its height) is read at its height; else 0
  const H = maxOf(b.map((r) => r[3])) - minOf(b.map((r) => r[1]));
  return b.length > 1 && b.every((r) => Math.max(r[2] - r[0], r[3] - r[1]) < DOT * H) ? H : 0.0;
}

function plainRow(R, pieces, comps, top) {   // _plain_row: pieces grouped into symbols, scripts by the layout
  let items = [];   // {core, node (or null), pieces, L}
  if (pieces.length) {
    const fixed = top && R.line !== null ? R.line : null;
    const floor = top && !comps.length ? R.floor : COMP_LINE * Math.max(0.0, ...comps.map((c) => c.core[3] - c.core[1]));
    const [groups, Lp] = groupRow(R, pieces, fixed, Math.max(floor, dotsLine(pieces.map((p) => R.b[p]))));
    if (top) R.topLine = Lp;
    items = groups.map((g) => ({ core: unionBox(R.b, g), node: null, pieces: g, L: Lp }));
  }
  items = items.concat(comps.map((c) => ({ core: c.core, node: c.node, pieces: [], L: 0.0 })));
  let cores = items.map((t) => t.core);
  const L = top && R.line !== null && !comps.length ? R.line : lineHeight(cores);
  let roles = cores.length ? layout(cores, L) : [];
  items = splitScripts(R, items, roles, L);
  cores = items.map((t) => t.core);
  roles = cores.length ? layout(cores, L) : [];
  [items, roles] = regroupScripts(R, items, roles, byCentre(cores));
  [items, roles] = speckScripts(R, items, roles);
  [items, roles] = speckBases(R, items, roles);
  cores = items.map((t) => t.core);
  const row = [];
  for (const i of byCentre(cores)) {
    let nd = items[i].node;
    if (nd === null) nd = node("symbol", R.symbol(items[i].pieces, "plain", items[i].L, roles[i]));
    else if (nd.kind === "symbol") R.roles[nd.symbol] = roles[i];
    if (roles[i] === "base" || !row.length) row.push([nd, [], []]);
    else row[row.length - 1][roles[i] === "sub" ? 1 : 2].push(nd);
  }
  return row.map(([nd, a, c]) => ({ ...nd, sub: nd.sub.concat(a), sup: nd.sup.concat(c) }));
}

function keepDots(b, groups, before, dot) {   // _keep_dots: a symbol of `before` split into parts, one dot-sized, whole again
  let out = groups.slice();
  for (const g0 of before) {
    if (g0.length <= 1) continue;
    const old = new Set(g0), sub = (g) => g.every((p) => old.has(p));
    const inside = out.filter(sub);
    if (inside.length > 1 && minOf(inside.map((g) => gExtent(b, g))) < dot) out = out.filter((g) => !sub(g)).concat([Array.from(old).sort((a, c) => a - c)]);
  }
  return out;
}

function speckOf(R, base, item) {   // _speck_of: one piece, not flat, under SCRIPT_DOT x the plain base's height, within SPECK_GAP x it
  const H = base.core[3] - base.core[1];
  if (item.node !== null || base.node !== null || item.pieces.length !== 1) return false;
  const [x0, y0, x1, y1] = R.b[item.pieces[0]];
  const e = Math.max(x1 - x0, y1 - y0);
  return e < SCRIPT_DOT * H && Math.min(x1 - x0, y1 - y0) >= FLAT * e && boxGap(R.b, base.pieces, item.pieces) < SPECK_GAP * H;
}

function speckScripts(R, items0, roles) {   // _speck_scripts: each script that is a speck of its base joined to that base
  const items = items0.slice(), drop = new Set();
  let base = -1;
  for (const i of byCentre(items0.map((t) => t.core))) {
    if (roles[i] === "base") base = i;
    else if (base >= 0 && speckOf(R, items[base], items[i])) {
      items[base] = withSpeck(R, items[base], items[i]);
      drop.add(i);
    }
  }
  return without(items, roles, drop);
}

function withSpeck(R, base, speck) {   // _with_speck: the plain symbol `base` with the pieces of `speck` joined to it
  const g = base.pieces.concat(speck.pieces).sort((a, c) => a - c);
  return { core: unionBox(R.b, g), node: null, pieces: g, L: base.L };
}

function without(items, roles, drop) {   // _without: items and their roles, those at the positions in `drop` left out
  const keep = items.map((_, i) => i).filter((i) => !drop.has(i));
  return [keep.map((i) => items[i]), keep.map((i) => roles[i])];
}

function speckOff(R, base, item) {   // _speck_off: a speck of `base` whose centre is more than SPECK_OFF x its height off base's centre
  if (!speckOf(R, base, item)) return false;
  const r = R.b[item.pieces[0]];
  return Math.abs((r[1] + r[3]) / 2 - (base.core[1] + base.core[3]) / 2) > SPECK_OFF * (base.core[3] - base.core[1]);
}

function speckBases(R, items0, roles) {   // _speck_bases: each symbol on the line that is a speck of the plain symbol just before or after it joined to it
  const order = byCentre(items0.map((t) => t.core)), items = items0.slice(), drop = new Set();
  order.forEach((i, n) => {
    if (roles[i] !== "base") return;
    const near = order.slice(Math.max(n - 1, 0), n + 2).filter((j) => j !== i && roles[j] === "base" && !drop.has(j) && speckOff(R, items[j], items[i]));
    if (!near.length) return;
    let j = near[0];   // the nearer of the two
    for (const c of near) if (boxGap(R.b, items[c].pieces, items[i].pieces) < boxGap(R.b, items[j].pieces, items[i].pieces)) j = c;
    items[j] = withSpeck(R, items[j], items[i]);
    drop.add(i);
  });
  return without(items, roles, drop);
}

function regroupScripts(R, items, roles, order) {   // _regroup_scripts: a base's script runs grouped at their own line
  const runs = new Map();
  let base = -1;
  for (const i of order) {
    if (roles[i] === "base") base = i;
    else if (items[i].node === null) {
      const key = `${base}:${roles[i]}`;
      if (!runs.has(key)) runs.set(key, { base, role: roles[i], idx: [] });
      runs.get(key).idx.push(i);
    }
  }
  const drop = new Set(), extra = [], extraRoles = [];
  for (const { base: bi, role, idx } of runs.values()) {
    const pieces = idx.flatMap((i) => items[i].pieces).sort((a, c) => a - c);
    if (pieces.length < 2 || bi < 0) continue;
    const bb = items[bi].core;
    const tallest = Math.max(...idx.map((i) => items[i].core[3] - items[i].core[1]));
    const [grouped, Ls] = groupRow(R, pieces, null, Math.max(SCRIPT_LINE * (bb[3] - bb[1]), tallest), false);
    const groups = keepDots(R.b, grouped, idx.map((i) => items[i].pieces), DOT * Ls);
    idx.forEach((i) => drop.add(i));
    for (const g of groups) { extra.push({ core: unionBox(R.b, g), node: null, pieces: g, L: Ls }); extraRoles.push(role); }
  }
  const keep = items.map((_, i) => i).filter((i) => !drop.has(i));
  return [keep.map((i) => items[i]).concat(extra), keep.map((i) => roles[i]).concat(extraRoles)];
}

/** The symbols of a row in LaTeX's order (Python's `tree_symbols`); `all`: with the fraction bars and root signs. */
export function treeSymbols(row, all = false) {
  const out = [];
  for (const n of row) {
    if (n.kind === "symbol" || all) out.push(n.symbol);
    if (n.kind === "frac") out.push(...treeSymbols(n.parts[0], all), ...treeSymbols(n.parts[1], all));
    if (n.kind === "sqrt") out.push(...treeSymbols(n.parts[1], all), ...treeSymbols(n.parts[0], all));
    out.push(...treeSymbols(n.sub, all), ...treeSymbols(n.sup, all));
  }
  return out;
}

const scriptsOf = (n, write) => {   // _scripts
  const a = write(n.sub), b = write(n.sup);
  return (a ? `_{${a}}` : "") + (b ? `^{${b}}` : "");
};

/** LaTeX of a row of the layout tree (Python's `write_tree`), `latex[i]` being symbol i's LaTeX; `textMode`: a Set. */
export function writeTree(row, latex, textMode = null) {
  const write = (r) => writeTree(r, latex, textMode);
  return join(row.map((n) => {
    let t;
    if (n.kind === "frac") t = "\\frac{" + write(n.parts[0]) + "}{" + write(n.parts[1]) + "}";
    else if (n.kind === "sqrt") {
      const i = write(n.parts[1]);
      t = "\\sqrt" + (i ? `[${i}]` : "") + "{" + write(n.parts[0]) + "}";
    } else t = token(latex[n.symbol], textMode);
    if (n.kind !== "symbol" && (n.sub.length || n.sup.length)) t = "{" + t + "}";
    if (n.limits) t = (LIMIT_LATEX[latex[n.symbol]] ?? t) + (t.includes("int") ? "\\limits" : "");
    return t + scriptsOf(n, write);
  }));
}

/** The structure of a row with the symbols left out (Python's `tree_shape`): 's' a symbol, 'S' an operator with limits. */
export function treeShape(row) {
  return row.map((n) => {
    let t;
    if (n.kind === "frac") t = `\\frac{${treeShape(n.parts[0])}}{${treeShape(n.parts[1])}}`;
    else if (n.kind === "sqrt") {
      const i = treeShape(n.parts[1]);
      t = "\\sqrt" + (i ? `[${i}]` : "") + `{${treeShape(n.parts[0])}}`;
    } else t = n.limits ? "S" : "s";
    return t + scriptsOf(n, treeShape);
  }).join("");
}

function renumber(row, m) {   // _renumber
  return row.map((n) => ({ ...n, symbol: m.get(n.symbol), sub: renumber(n.sub, m), sup: renumber(n.sup, m),
    parts: n.parts.map((p) => renumber(p, m)) }));
}

function strokePieces(strokes, pad) {   // _stroke_pieces: boxes, ink gap, a symbol's input, each piece's input index
  checkStrokes(strokes || []);                                         // errors name the stroke's index in the input
  const drawn = (strokes || []).flatMap((s, i) => (checkStrokes([s]).length ? [i] : []));
  strokes = drawn.map((i) => strokes[i]);                              // empty strokes out
  const S = checkStrokes(strokes);
  const { keep, boxes } = strokeBoxes(strokes);
  const make = ([pieces, mode, L]) => {
    const [x0, y0, x1, y1] = unionBox(boxes, pieces);
    const erasers = [];
    S.forEach((s, i) => {
      if (!s.erase) return;
      const r = s.width / 2, xs = s.pts.map((p) => p[0]), ys = s.pts.map((p) => p[1]);
      if (maxOf(xs) + r >= x0 && maxOf(ys) + r >= y0 && minOf(xs) - r <= x1 && minOf(ys) - r <= y1) erasers.push(i);
    });
    const mine = pieces.map((i) => keep[i]).concat(erasers).sort((a, c) => a - c).map((i) => strokes[i]);
    if (mode === "sign") {   // _sign_strokes_input: the root sign's points in its left square only
      const out = [];
      for (const s of checkStrokes(mine)) {
        const pts = s.pts.filter((p) => p[0] <= x0 + (y1 - y0));
        if (pts.length) out.push({ points: pts, width: s.width, erase: s.erase });
      }
      return strokesToImage(out, { ...pad, size: 32 });
    }
    return strokesSymbolInput(mine, Math.max(x1 - x0, y1 - y0), L, pad);
  };
  return { boxes, distance: strokeDistance(strokes, keep), make, ids: keep.map((i) => drawn[i]) };
}

function guessesOf(model, x, k) {
  if (!model) return [];
  const p = softmax(logits(model, x));
  return Array.from(p.keys()).sort((a, c) => p[c] - p[a]).slice(0, Math.min(k, p.length)).map((i) => [model.labels[i], p[i]]);
}

function whyNo(kind, rank) {   // _no: why a root sign or an operator was turned down
  if (kind === "op") return `no big operator in the net's first ${rank} guesses`;
  return rank === null ? "no root sign in the net's top 5" : "the net's first guess is no root sign (contents to the bar's end)";
}

function readTree(boxes, distance, make, line, model, k, skip0) {   // _read_tree: parse, classify, check, parse again
  const cache = new Map(), skip = new Map(skip0), rejected = new Map(), accepted = new Set();
  let R, tree, choice, why;
  for (let pass = 0; pass < PASSES; pass++) {
    R = new Reading(boxes, distance, line, skip, 0.0, pass === PASSES - 1 ? accepted : null);
    tree = parseRow(R, boxes.map((_, i) => i), [], true);
    for (const spec of R.specs) {
      const key = JSON.stringify(spec);
      if (!cache.has(key)) { const x = make(spec); cache.set(key, [x, guessesOf(model, x, Math.max(k, 5))]); }
    }
    choice = R.specs.map(() => 0); why = new Map();
    let changed = false;
    for (const [kind, i, key, rank, alts] of R.found) {
      const want = kind === "sqrt" ? ROOT_SIGNS : kind === "op" ? OPERATORS : [];
      let names = [], hit = [], s = i;
      for (s of [i, ...alts]) {   // the symbol's input, then the others (their first guess only)
        names = cache.get(JSON.stringify(R.specs[s]))[1].map((g) => g[0]);
        hit = names.slice(0, s === i ? rank ?? names.length : 1).flatMap((g, j) => (want.includes(g) ? [j] : []));
        if (hit.length) break;
      }
      if (hit.length && s !== i) R.specs[i] = R.specs[s];   // the input that decided is the symbol's
      if (kind === "frac") why.set(key, [kind, true, "a bar with ink above and below it"]);
      else if (hit.length) { choice[i] = hit[0]; why.set(key, [kind, true, `the net's guess ${names[hit[0]]} (#${hit[0] + 1})`]); }
      else if ((skip.get(key) || [""])[0] === "force") why.set(key, [kind, true, "chosen by hand"]);
      if (why.has(key)) accepted.add(key);
      else {
        skip.set(key, ["line", kind]); changed = true;
        rejected.set(key, [kind, false, whyNo(kind, rank)]);
      }
    }
    if (!changed) break;
  }
  for (const [key, [v, kind]] of skip) if (v === "line") why.set(key, rejected.get(key) || [kind, false, "chosen by hand"]);
  return { R, tree, cache, choice, why };
}

function textModeOf(opts) {
  if (opts.textMode) return opts.textMode;
  if (opts.symbols) return new Set(opts.symbols.filter((s) => s.mode === "text").map((s) => s.latex));
  return null;
}

/**
 * Read pen strokes ({points: [[x, y], ...], width, erase} in pad units) into a formula, as hasy_nb.formula.read_formula:
 * {latex, symbols: [{box, role, guesses: [[latex, prob], ...], pieces, choice, latex}], inputs, line, tree, structures}.
 * A tree row is a list of nodes {kind: symbol|frac|sqrt, symbol, sub, sup, parts, limits}; a structure is
 * {kind: frac|sqrt|op, pieces, used, why, key}. opts: {symbols (symbols.json: text-mode commands get \text{}) or
 * textMode (a Set), line (a fixed line height), choices (a Map: structure key -> ["force" or "line", kind])}.
 */
export function readFormula(model, strokes, k = 5, opts = {}) {
  const line = opts.line ?? null;
  if (line !== null && !(typeof line === "number" && Number.isFinite(line) && line > 0)) {
    throw new Error(`read_formula: line must be a positive, finite height (input units), got ${line}`);
  }
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`read_formula: k must be a whole number >= 1 (guesses per symbol), got ${k}`);
  const pad = (model && model.pad) || DEFAULT_PAD;
  const choices = opts.choices || new Map();
  const { boxes, distance, make, ids } = strokePieces(strokes, pad);
  const { R, tree, cache, choice, why } = readTree(boxes, distance, make, line, model, k, choices);
  const order = treeSymbols(tree, true);
  const symbols = order.map((old) => {
    const [pieces] = R.specs[old], guesses = cache.get(JSON.stringify(R.specs[old]))[1], c = choice[old];
    const kept = guesses.slice(0, k).concat(c >= k ? [guesses[c]] : []);
    const ch = Math.max(0, Math.min(c, kept.length - 1));
    return { box: unionBox(boxes, pieces), role: R.roles[old], guesses: kept, pieces: pieces.map((p) => ids[p]), choice: ch,
      latex: kept.length ? kept[ch][0] : "" };
  });
  const inputs = order.map((old) => cache.get(JSON.stringify(R.specs[old]))[0]);
  const structures = Array.from(why, ([key, [kind, used, w]]) => ({ kind, pieces: key.split(",").map((p) => ids[Number(p)]),
    used, why: w, key }));
  const textMode = textModeOf(opts);
  const f = { symbols, inputs, line: R.topLine, textMode, tree: renumber(tree, new Map(order.map((o, i) => [o, i]))),
    structures, source: { strokes, k, opts: { ...opts, choices } } };
  return { ...f, latex: treeLatex(f) };
}

/** The formula's LaTeX, written from its tree with each symbol's chosen guess. */
export function treeLatex(formula) {
  return writeTree(formula.tree, formula.symbols.map((s) => s.latex), formula.textMode);
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

/** Read again with structure `k` (of `.structures`) used (true) or read as symbols on the line (false): a fix. */
export function withStructure(model, formula, k, used) {
  const n = formula.structures.length;
  if (!(k >= 0 && k < n)) throw new Error(`with_structure: structure ${k} of ${n}`);
  const st = formula.structures[k], { strokes, k: kk, opts } = formula.source;
  const choices = new Map(opts.choices);
  choices.set(st.key, [used ? "force" : "line", st.kind]);
  return readFormula(model, strokes, kk, { ...opts, choices });
}

// ---- showing the structure (the static pad's formula mode; drawing only, no reading) ----------------------------

export const STRUCTURE_NAMES = { frac: "fraction", sqrt: "root", op: "limits" };   // as hasy_nb.formula's FormulaPad
export const PART_COLOURS = { num: "#8c564b", den: "#8c564b", contents: "#e377c2", index: "#e377c2", lower: "#17becf",
  upper: "#17becf" };
const PART_LABELS = { num: "numerator", den: "denominator", contents: "√ contents", index: "index", lower: "lower limit",
  upper: "upper limit" };

/** The parts of the structure as read: [{part, box}] (numerators, denominators, roots' contents and indices, limits). */
export function structureParts(formula) {
  const boxes = formula.symbols.map((s) => s.box), out = [];
  const push = (part, row) => {
    const ids = treeSymbols(row, true);
    if (ids.length) out.push({ part, box: unionBox(boxes, ids) });
  };
  const walk = (row) => {
    for (const n of row) {
      if (n.kind === "frac") { push("num", n.parts[0]); push("den", n.parts[1]); }
      if (n.kind === "sqrt") { push("contents", n.parts[0]); push("index", n.parts[1]); }
      if (n.limits) { push("lower", n.sub); push("upper", n.sup); }
      n.parts.forEach(walk); walk(n.sub); walk(n.sup);
    }
  };
  walk(formula.tree);
  return out;
}

/** Draw the structure's parts as dashed, labelled boxes on a 2-D canvas context (`scale`: px per input unit). */
export function drawStructure(ctx, formula, scale) {
  ctx.save();
  ctx.font = "10px system-ui, sans-serif";
  ctx.setLineDash([5, 3]);
  ctx.lineWidth = 1.5;
  for (const { part, box: [x0, y0, x1, y1] } of structureParts(formula)) {
    ctx.strokeStyle = ctx.fillStyle = PART_COLOURS[part];
    ctx.strokeRect(x0 * scale - 6, y0 * scale - 6, (x1 - x0) * scale + 12, (y1 - y0) * scale + 12);
    ctx.fillText(PART_LABELS[part], x1 * scale + 8, y1 * scale + 6);
  }
  ctx.restore();
}

/** A structure's button text: "fraction: yes" (read as a fraction) or "fraction: no" (its pieces read on the line). */
export function structureLabel(st) { return `${STRUCTURE_NAMES[st.kind]}: ${st.used ? "yes" : "no"}`; }

/** The structure (index into `.structures`) whose bar, sign or operator is symbol `i`, or -1. */
export function structureOf(formula, i) {
  const mine = formula.symbols[i].pieces.join(",");
  return formula.structures.findIndex((st) => st.pieces.join(",") === mine);
}
