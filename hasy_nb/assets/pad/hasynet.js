// hasynet.js: the pad's brain in the browser, with no dependency.
// 1. strokes -> the 32x32 image the net sees, exactly as hasy_nb's Python pad makes it (Pillow's integer line
//    and ellipse drawing at 8x, mean of each 8x8 block, threshold 0.5; then HASY's crop / box-resize / centre);
// 2. a small interpreter of the spec language's layers (conv, pools, activations, linear, residual) that runs
//    a model written by `hasy-nb export` (model.json: layers + pad constants; model.bin: float32 weights).
// Works as an ES module in a page, in a worker and in Node (tests).

import { KERNELS_WASM } from "./hasynet_kernels.js";

// ---- Pillow's drawing primitives (src/libImaging/Draw.c), on a Uint8Array canvas of n x n ----------------
const f32 = Math.fround;
const roundUp = (f) => (f >= 0 ? Math.floor(f + 0.5) : -Math.floor(Math.abs(f) + 0.5));
const roundDown = (f) => (f >= 0 ? Math.ceil(f - 0.5) : -Math.ceil(Math.abs(f) - 0.5));
// the same macros on a C float: `f + 0.5F` is computed in float
const roundUpF = (f) => (f >= 0 ? Math.floor(f32(f + 0.5)) : -Math.floor(f32(Math.abs(f) + 0.5)));
const roundDownF = (f) => (f >= 0 ? Math.ceil(f32(f - 0.5)) : -Math.ceil(f32(Math.abs(f) - 0.5)));

function hline(buf, n, x0, y, x1, ink) {
  if (y < 0 || y >= n) return;
  if (x0 < 0) x0 = 0; else if (x0 >= n) return;
  if (x1 < 0) return; else if (x1 >= n) x1 = n - 1;
  if (x0 <= x1) buf.fill(ink, y * n + x0, y * n + x1 + 1);
}

function edge(x0, y0, x1, y1) {
  const e = { xmin: Math.min(x0, x1), xmax: Math.max(x0, x1), ymin: Math.min(y0, y1), ymax: Math.max(y0, y1), x0, y0, dx: 0 };
  if (y0 !== y1) e.dx = f32(f32(x1 - x0) / (y1 - y0));
  return e;
}

// polygon_generic for 8-bit images (no alpha path), float32 arithmetic as in C
function polygon(buf, n, edges, ink) {
  let ymin = n - 1, ymax = 0;
  const table = [];
  for (const e of edges) {
    if (ymin > e.ymin) ymin = e.ymin;
    if (ymax < e.ymax) ymax = e.ymax;
    if (e.ymin === e.ymax) { hline(buf, n, e.xmin, e.ymin, e.xmax, ink); continue; }
    table.push(e);
  }
  if (ymin < 0) ymin = 0;
  if (ymax > n) ymax = n;
  const at = (e, y) => f32(f32(f32(y - e.y0) * e.dx) + e.x0);
  for (; ymin <= ymax; ymin++) {
    const xx = [];
    for (let i = 0; i < table.length; i++) {
      const cur = table[i];
      if (!(ymin >= cur.ymin && ymin <= cur.ymax)) continue;
      xx.push(at(cur, ymin));
      if (ymin === cur.ymax && ymin < ymax) {
        xx.push(xx[xx.length - 1]);
      } else if ((ymin === cur.ymin || ymin === cur.ymax) && cur.dx !== 0) {
        for (let k = 0; k < i; k++) {
          const o = table[k];
          if ((ymin !== o.ymin && ymin !== o.ymax) || o.dx === 0) continue;
          if (roundHalfAway(xx[xx.length - 1]) === roundHalfAway(at(o, ymin))) {
            const off = ymin === cur.ymax ? -1 : 1;
            const adj = at(cur, ymin + off);
            if (ymin + off >= o.ymin && ymin + off <= o.ymax) {
              const adjO = at(o, ymin + off);
              const last = xx[xx.length - 1];
              if (last > f32(adj + 1) && last > f32(adjO + 1)) xx[xx.length - 1] = roundHalfAway(Math.max(adj, adjO)) + 1;
              else if (last < f32(adj - 1) && last < f32(adjO - 1)) xx[xx.length - 1] = roundHalfAway(Math.min(adj, adjO)) - 1;
              break;
            }
          }
        }
      }
    }
    xx.sort((a, b) => a - b);
    for (let i = 1; i < xx.length; i += 2) hline(buf, n, roundUpF(xx[i - 1]), ymin, roundDownF(xx[i]), ink);
  }
}
function roundHalfAway(v) { return v < 0 ? -Math.round(-v) : Math.round(v); }   // C roundf

function point(buf, n, x, y, ink) { if (x >= 0 && x < n && y >= 0 && y < n) buf[y * n + x] = ink; }

function line1(buf, n, x0, y0, x1, y1, ink) {   // line8: Bresenham, the last point left out
  let dx = x1 - x0, dy = y1 - y0, xs = 1, ys = 1;
  if (dx < 0) { dx = -dx; xs = -1; }
  if (dy < 0) { dy = -dy; ys = -1; }
  if (dx === 0) { for (let i = 0; i < dy; i++) { point(buf, n, x0, y0, ink); y0 += ys; } }
  else if (dy === 0) { for (let i = 0; i < dx; i++) { point(buf, n, x0, y0, ink); x0 += xs; } }
  else if (dx > dy) {
    const m = dx; dy += dy; let e = dy - dx; dx += dx;
    for (let i = 0; i < m; i++) { point(buf, n, x0, y0, ink); if (e >= 0) { y0 += ys; e -= dx; } e += dy; x0 += xs; }
  } else {
    const m = dy; dx += dx; let e = dx - dy; dy += dy;
    for (let i = 0; i < m; i++) { point(buf, n, x0, y0, ink); if (e >= 0) { x0 += xs; e -= dy; } e += dx; y0 += ys; }
  }
}

function wideLine(buf, n, x0, y0, x1, y1, width, ink) {
  const dx = x1 - x0, dy = y1 - y0;
  if (dx === 0 && dy === 0) { point(buf, n, x0, y0, ink); return; }
  const big = Math.hypot(dx, dy);
  const small = (width - 1) / 2.0;
  const rmax = roundUp(small) / big, rmin = roundDown(small) / big;
  const dxmin = roundDown(rmin * dy), dxmax = roundDown(rmax * dy);
  const dymin = roundDown(rmin * dx), dymax = roundDown(rmax * dx);
  const v = [[x0 - dxmin, y0 + dymax], [x1 - dxmin, y1 + dymax], [x1 + dxmax, y1 - dymin], [x0 + dxmax, y0 - dymin]];
  polygon(buf, n, [edge(...v[0], ...v[1]), edge(...v[1], ...v[2]), edge(...v[2], ...v[3]), edge(...v[3], ...v[0])], ink);
}

// the "quarter" / "ellipse" walkers of Pillow's ellipse drawing (integer grid of step 2)
function quarter(a, b) {
  if (a < 0 || b < 0) return { finished: true };
  return { a, b, cx: a, cy: b % 2, ex: a % 2, ey: b, a2: a * a, b2: b * b, a2b2: a * a * b * b, finished: false };
}
function qdelta(s, x, y) { return Math.abs(s.a2 * y * y + s.b2 * x * x - s.a2b2); }
function qnext(s) {
  if (s.finished) return null;
  const ret = [s.cx, s.cy];
  if (s.cx === s.ex && s.cy === s.ey) s.finished = true;
  else {
    let nx = s.cx, ny = s.cy + 2, nd = qdelta(s, nx, ny);
    if (nx > 1) {
      let d = qdelta(s, s.cx - 2, s.cy + 2);
      if (nd > d) { nx = s.cx - 2; ny = s.cy + 2; nd = d; }
      d = qdelta(s, s.cx - 2, s.cy);
      if (nd > d) { nx = s.cx - 2; ny = s.cy; }
    }
    s.cx = nx; s.cy = ny;
  }
  return ret;
}
function filledEllipse(buf, n, x0, y0, x1, y1, ink) {
  const a = x1 - x0, b = y1 - y0;
  if (a < 0 || b < 0) return;
  const w = a + b;
  const leftmost = a % 2;
  const so = quarter(a, b);
  let first = qnext(so);
  if (w < 1 || first === null) return;
  let pr = first[0], py = first[1];
  const si = quarter(a - 2 * (w - 1), b - 2 * (w - 1));
  let pl = leftmost, finished = false;
  const emit = (X0, Y, X1) => hline(buf, n, x0 + trunc2(X0 + a), y0 + trunc2(Y + b), x0 + trunc2(X1 + a), ink);
  while (!finished) {
    const y = py, r = pr;
    let l = pl, nr;
    while ((nr = qnext(so)) !== null && nr[1] <= y) { /* skip */ }
    if (nr === null) finished = true; else { pr = nr[0]; py = nr[1]; }
    let ni;
    while ((ni = qnext(si)) !== null && ni[1] <= y) l = ni[0];
    pl = ni === null ? leftmost : ni[0];
    // Pillow buffers these four segments and pops them in reverse; the order does not change the pixels
    if ((l > 0 || l < r) && y > 0) emit(l === 0 ? 2 : l, y, r);
    if (y > 0) emit(-r, y, -l);
    if (l > 0 || l < r) emit(l === 0 ? 2 : l, -y, r);
    emit(-r, -y, -l);
  }
}
function trunc2(v) { return Math.trunc(v / 2); }   // C integer division by 2

export function pyRound(x) {   // Python's round(): halves to even
  const f = Math.floor(x), d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

// ---- hasy_nb's pad rasterisation (hasy_nb.infer: _draw, rasterize, strokes_to_image) ----------------------
export const DEFAULT_PAD = { line_px: 2.0, dot_px: 5.0, dot_span: 0.06, ss: 8, raster_ss: 4, max_ink: 0.5,
  size: 32, default_width: 0.04 };

export function checkStrokes(strokes, P = DEFAULT_PAD) {
  const out = [];
  (strokes || []).forEach((s, i) => {
    const pts = Array.isArray(s) ? s : s.points;
    const width = Array.isArray(s) ? P.default_width : (s.width ?? P.default_width);
    const erase = Array.isArray(s) ? false : !!s.erase;
    if (!pts || !pts.length) return;
    for (const p of pts) {
      if (!Array.isArray(p) || p.length !== 2) throw new Error(`stroke ${i}: points must be [x, y] pairs`);
      if (!Number.isFinite(p[0]) || !Number.isFinite(p[1])) throw new Error(`stroke ${i}: points contain NaN or infinity`);
    }
    if (!(width > 0)) throw new Error(`stroke ${i}: width must be > 0, got ${width}`);
    out.push({ pts, width, erase });
  });
  return out;
}

// draw strokes at size*ss; the ink fraction of each output pixel is count/ss^2 -> binary uint8 (255 bg, 0 ink)
function draw(S, size, scale, offset, linePx, ss) {
  const n = size * ss;
  const buf = new Uint8Array(n * n);
  for (const { pts, width, erase } of S) {
    const w = (erase || linePx === null ? width * scale : linePx) * ss;
    const xy = pts.map((p) => [(p[0] * scale + offset[0]) * ss, (p[1] * scale + offset[1]) * ss]);
    const ink = erase ? 0 : 1;
    const r = w / 2;
    if (xy.length > 1) {
      const lw = Math.max(1, pyRound(w));
      for (let i = 0; i + 1 < xy.length; i++) {
        const [ax, ay] = xy[i], [bx, by] = xy[i + 1];
        if (lw === 1) line1(buf, n, Math.trunc(ax), Math.trunc(ay), Math.trunc(bx), Math.trunc(by), ink);
        else wideLine(buf, n, Math.trunc(ax), Math.trunc(ay), Math.trunc(bx), Math.trunc(by), lw, ink);
      }
      if (lw === 1) { const [lx, ly] = xy[xy.length - 1]; point(buf, n, Math.trunc(lx), Math.trunc(ly), ink); }
    }
    for (const [x, y] of xy) filledEllipse(buf, n, Math.trunc(x - r), Math.trunc(y - r), Math.trunc(x + r), Math.trunc(y + r), ink);
  }
  const out = new Uint8Array(size * size);
  const half = (ss * ss) / 2;
  for (let Y = 0; Y < size; Y++) {
    for (let X = 0; X < size; X++) {
      let c = 0;
      for (let y = Y * ss; y < (Y + 1) * ss; y++) {
        const row = y * n;
        for (let x = X * ss; x < (X + 1) * ss; x++) c += buf[row + x];
      }
      out[Y * size + X] = c >= half ? 0 : 255;
    }
  }
  return out;
}

function penBox(S) {
  let lx = Infinity, ly = Infinity, hx = -Infinity, hy = -Infinity, any = false;
  for (const s of S) {
    if (s.erase) continue;
    for (const [x, y] of s.pts) {
      any = true;
      if (x < lx) lx = x; if (x > hx) hx = x;
      if (y < ly) ly = y; if (y > hy) hy = y;
    }
  }
  return any ? { lo: [lx, ly], hi: [hx, hy] } : null;
}

/** The pad's own grid: strokes at their real pen width, size x size, uint8 (255 background, 0 ink). */
export function rasterize(strokes, pad = DEFAULT_PAD) {
  const P = { ...DEFAULT_PAD, ...pad };
  return draw(checkStrokes(strokes, P), P.size, P.size, [0, 0], null, P.raster_ss);
}

/** Is all the pen ink within a dot's extent? */
export function isDot(strokes, pad = DEFAULT_PAD) {
  const P = { ...DEFAULT_PAD, ...pad };
  const box = penBox(checkStrokes(strokes, P));
  if (!box) return false;
  return Math.max(box.hi[0] - box.lo[0], box.hi[1] - box.lo[1]) < P.dot_span;
}

/** HASY's dot: a round blob of diameter dot_px in the middle (hasy_nb.infer._dot_image). */
function dotImage(P) {
  const size = P.size, r2 = (P.dot_px / 2) ** 2, out = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    out[y * size + x] = (y + 0.5 - size / 2) ** 2 + (x + 0.5 - size / 2) ** 2 <= r2 ? 0 : 255;
  }
  return out;
}

/** Strokes -> a HASY-looking image: ink box fitted to size (aspect kept, centred), line_px lines, eraser applied. */
export function strokesToImage(strokes, pad = DEFAULT_PAD) {
  const P = { ...DEFAULT_PAD, ...pad };
  const S = checkStrokes(strokes, P);
  const size = P.size;
  const box = penBox(S);
  if (!box) return new Uint8Array(size * size).fill(255);
  const side = Math.max(box.hi[0] - box.lo[0], box.hi[1] - box.lo[1]);
  if (side < P.dot_span) return dotImage(P);

  const scale = (size - P.line_px) / side;
  const offset = [size / 2 - ((box.lo[0] + box.hi[0]) / 2) * scale, size / 2 - ((box.lo[1] + box.hi[1]) / 2) * scale];
  return draw(S, size, scale, offset, P.line_px, P.ss);
}

/** What the net sees for some strokes, and what the pad should say: {image, cover, empty, tooMuchInk}. */
export function padInput(strokes, pad = DEFAULT_PAD) {
  const P = { ...DEFAULT_PAD, ...pad };
  const S = checkStrokes(strokes, P);
  const img = strokesToImage(strokes, P);
  let inked = 0;
  for (const v of img) if (v < 128) inked++;
  if (!S.length || inked === 0) return { image: img, cover: 0, empty: true, tooMuchInk: false };
  const grid = rasterize(strokes, P);
  let c = 0;
  for (const v of grid) if (v < 128) c++;
  const cover = c / grid.length;
  if (cover > P.max_ink) return { image: img, cover, empty: false, tooMuchInk: true };
  // the image is already in HASY's form (32x32, black and white): hasy_nb.infer.preprocess leaves it as it is
  return { image: img, cover, empty: false, tooMuchInk: false };
}

// ---- the network: an interpreter of the exported layers --------------------------------------------------
// Activations are float32, channels-last (HWC), in one linear memory: a WebAssembly.Memory when the browser
// has WebAssembly SIMD (conv and linear then run in hasynet_kernels.wat), else a plain ArrayBuffer and the
// JavaScript kernels below, which compute the same thing in the same order.

function erf(x) {   // Abramowitz & Stegun 7.1.26 (error < 1.5e-7, far below the parity budget of 1e-3)
  const s = Math.sign(x), a = Math.abs(x);
  if (a > 6) return s;
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
const ACT = {
  relu: (v) => (v > 0 ? v : 0),
  elu: (v, a) => (v > 0 ? v : a * (Math.exp(v) - 1)),
  lrelu: (v, a) => (v > 0 ? v : v * a),
  tanh: (v) => Math.tanh(v),
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  silu: (v) => v / (1 + Math.exp(-v)),
  gelu: (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
};

// the JavaScript twins of the wasm kernels (byte pointers into the f32 view `F`)
function convJS(F, x, H, W, C, w, b, Co, K, s, p, d, g, y, OH, OW) {
  x >>= 2; w >>= 2; b >>= 2; y >>= 2;
  const cig = C / g, cog = Co / g;
  for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    const ob = y + (oy * OW + ox) * Co;
    for (let c = 0; c < Co; c++) F[ob + c] = b ? F[b + c] : 0;
    for (let ky = 0; ky < K; ky++) {
      const iy = oy * s - p + ky * d;
      if (iy < 0 || iy >= H) continue;
      for (let kx = 0; kx < K; kx++) {
        const ix = ox * s - p + kx * d;
        if (ix < 0 || ix >= W) continue;
        const ib = x + (iy * W + ix) * C;
        for (let gi = 0; gi < g; gi++) {
          const wb = w + ((gi * K + ky) * K + kx) * cig * cog, yb = ob + gi * cog;
          for (let ci = 0; ci < cig; ci++) {
            const a = F[ib + gi * cig + ci];
            if (a === 0) continue;            // binary input and ReLU outputs are mostly zeros
            const wr = wb + ci * cog;
            for (let q = 0; q < cog; q++) F[yb + q] = Math.fround(F[yb + q] + Math.fround(a * F[wr + q]));
          }
        }
      }
    }
  }
}
function linearJS(F, x, n, w, b, out, y) {
  x >>= 2; w >>= 2; b >>= 2; y >>= 2;
  const n4 = n & ~3;
  for (let j = 0; j < out; j++) {
    const wr = w + j * n;
    const acc = [0, 0, 0, 0];
    let i = 0;
    for (; i < n4; i += 4) for (let l = 0; l < 4; l++) acc[l] = Math.fround(acc[l] + Math.fround(F[x + i + l] * F[wr + i + l]));
    let s = Math.fround(Math.fround(acc[0] + acc[1]) + Math.fround(acc[2] + acc[3]));
    for (; i < n; i++) s = Math.fround(s + Math.fround(F[x + i] * F[wr + i]));
    if (b) s = Math.fround(s + F[b + j]);
    F[y + j] = s;
  }
}

let wasmModule = null;
function kernelsModule() {
  if (wasmModule === null) {
    wasmModule = false;
    try {
      const bytes = Uint8Array.from(atob(KERNELS_WASM), (c) => c.charCodeAt(0));
      if (typeof WebAssembly === "object" && WebAssembly.validate(bytes)) wasmModule = new WebAssembly.Module(bytes);
    } catch (e) { wasmModule = false; }
  }
  return wasmModule;
}

class Engine {
  constructor(header, buffer, engine) {
    const useWasm = engine !== "js" && !!kernelsModule();
    if (engine === "wasm" && !useWasm) throw new Error("hasynet: this browser has no WebAssembly SIMD");
    this.kind = useWasm ? "wasm" : "js";
    const need = 16 + buffer.byteLength + 64;
    this.pages = Math.ceil((need + (1 << 20)) / 65536);
    if (useWasm) {
      this.memory = new WebAssembly.Memory({ initial: this.pages });
      const inst = new WebAssembly.Instance(kernelsModule(), { env: { memory: this.memory } });
      this.conv = inst.exports.conv;
      this.linear = inst.exports.linear;
    } else {
      this.memory = { buffer: new ArrayBuffer(this.pages * 65536), grow: null };
      this.conv = (...a) => convJS(this.F, ...a);
      this.linear = (...a) => linearJS(this.F, ...a);
    }
    this.F = new Float32Array(this.memory.buffer);
    this.ptr = {};   // tensor name -> byte offset (0 means none, so tensors start at 16)
    let at = 16;
    const src = new Float32Array(buffer);
    for (const [name, t] of Object.entries(header.tensors)) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      if (t.offset + 4 * n > buffer.byteLength) throw new Error(`hasynet: model.bin is too short for tensor ${name}`);
      this.ptr[name] = at;
      this.F.set(src.subarray(t.offset / 4, t.offset / 4 + n), at / 4);
      at += Math.ceil((4 * n) / 16) * 16;
    }
    this.base = at;
  }
  alloc(n) {   // a fresh float32 array of n in memory: byte offset
    const at = this.top;
    this.top += Math.ceil((4 * n) / 16) * 16;
    if (this.top > this.memory.buffer.byteLength) {
      const more = Math.ceil((this.top - this.memory.buffer.byteLength) / 65536) + 16;
      if (this.memory.grow) this.memory.grow(more);
      else { const nb = new ArrayBuffer(this.memory.buffer.byteLength + more * 65536); new Uint8Array(nb).set(new Uint8Array(this.memory.buffer)); this.memory.buffer = nb; }
      this.F = new Float32Array(this.memory.buffer);
    }
    return at;
  }
  run(x, shape, layers) {   // x: byte offset of an HWC (or flat) float32 array of `shape`
    for (const L of layers) {
      const n = shape.reduce((a, b) => a * b, 1);
      switch (L.op) {
        case "conv": {
          const [H, W, C] = shape, { k: K, s, p, d } = L;
          const OH = Math.floor((H + 2 * p - d * (K - 1) - 1) / s) + 1, OW = Math.floor((W + 2 * p - d * (K - 1) - 1) / s) + 1;
          const y = this.alloc(OH * OW * L.out);
          this.conv(x, H, W, C, this.ptr[L.w], L.b !== undefined ? this.ptr[L.b] : 0, L.out, K, s, p, d, L.g, y, OH, OW);
          x = y; shape = [OH, OW, L.out]; break;
        }
        case "linear": {
          const y = this.alloc(L.out);
          this.linear(x, L.in, this.ptr[L.w], L.b !== undefined ? this.ptr[L.b] : 0, L.out, y);
          x = y; shape = [L.out]; break;
        }
        case "maxpool": case "avgpool": case "amax": case "aavg": [x, shape] = this.pool(x, shape, L); break;
        case "flatten": {   // HWC -> CHW order, as torch.flatten of an NCHW tensor
          if (shape.length === 3) {
            const [H, W, C] = shape, y = this.alloc(n), F = this.F, xi = x >> 2, yi = y >> 2;
            for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) F[yi + c * H * W + i] = F[xi + i * C + c];
            x = y;
          }
          shape = [n]; break;
        }
        case "affine": {    // a BatchNorm that no convolution absorbed: per-channel scale and shift (last axis)
          const C = shape[shape.length - 1], y = this.alloc(n), F = this.F, xi = x >> 2, yi = y >> 2;
          const a = this.ptr[L.scale] >> 2, b = this.ptr[L.shift] >> 2;
          for (let i = 0; i < n; i++) F[yi + i] = F[xi + i] * F[a + (i % C)] + F[b + (i % C)];
          x = y; break;
        }
        case "residual": {
          const [yb, sb] = this.run(x, shape, L.body);
          const ys = L.shortcut ? this.run(x, shape, L.shortcut)[0] : x;
          const m = sb.reduce((a, b) => a * b, 1);
          const y = this.alloc(m), F = this.F;
          for (let i = 0; i < m; i++) F[(y >> 2) + i] = F[(yb >> 2) + i] + F[(ys >> 2) + i];
          x = y; shape = sb; break;
        }
        default: {
          const f = ACT[L.op];
          if (!f) throw new Error(`hasynet: unknown layer op ${JSON.stringify(L.op)}`);
          const y = this.alloc(n), F = this.F, xi = x >> 2, yi = y >> 2, a = L.alpha;
          for (let i = 0; i < n; i++) F[yi + i] = f(F[xi + i], a);
          x = y;
        }
      }
    }
    return [x, shape];
  }
  pool(x, shape, L) {
    const [H, W, C] = shape, F = this.F, xi = x >> 2;
    const max = L.op === "maxpool" || L.op === "amax", adaptive = L.op === "amax" || L.op === "aavg";
    const OH = adaptive ? L.size : Math.floor((H + 2 * L.p - L.k) / L.s) + 1;
    const OW = adaptive ? L.size : Math.floor((W + 2 * L.p - L.k) / L.s) + 1;
    const y = this.alloc(OH * OW * C), yi = y >> 2, G = this.F;
    for (let oy = 0; oy < OH; oy++) {
      const y0 = adaptive ? Math.floor((oy * H) / OH) : oy * L.s - L.p;
      const y1 = adaptive ? Math.ceil(((oy + 1) * H) / OH) : y0 + L.k;
      for (let ox = 0; ox < OW; ox++) {
        const x0 = adaptive ? Math.floor((ox * W) / OW) : ox * L.s - L.p;
        const x1 = adaptive ? Math.ceil(((ox + 1) * W) / OW) : x0 + L.k;
        const div = adaptive ? (y1 - y0) * (x1 - x0) : L.k * L.k;   // PyTorch avg_pool2d: count_include_pad=True
        for (let c = 0; c < C; c++) {
          let acc = max ? -Infinity : 0;
          for (let iy = Math.max(0, y0); iy < Math.min(H, y1); iy++) for (let ix = Math.max(0, x0); ix < Math.min(W, x1); ix++) {
            const v = G[xi + (iy * W + ix) * C + c];
            if (max) { if (v > acc) acc = v; } else acc += v;
          }
          G[yi + (oy * OW + ox) * C + c] = max ? acc : acc / div;
        }
      }
    }
    return [y, [OH, OW, C]];
  }
  forwardSplit(image, input) {   // [embedding (the last linear layer's input), logits], both Float64Array
    this.top = this.base;
    const [C, H, W] = input;
    const x = this.alloc(H * W * C), xi = x >> 2;
    for (let i = 0; i < H * W * C; i++) this.F[xi + i] = 1.0 - f32(image[i] / 255.0);
    const [e, es] = this.run(x, [H, W, C], this.layers.slice(0, -1));
    const n = es.reduce((a, b) => a * b, 1);
    const emb = Float64Array.from(this.F.subarray(e >> 2, (e >> 2) + n));
    const [y, shape] = this.run(e, [n], this.layers.slice(-1));
    return [emb, Float64Array.from(this.F.subarray(y >> 2, (y >> 2) + shape.reduce((a, b) => a * b, 1)))];
  }
  forward(image, input) {
    this.top = this.base;
    const [C, H, W] = input;
    const x = this.alloc(H * W * C), xi = x >> 2;
    for (let i = 0; i < H * W * C; i++) this.F[xi + i] = 1.0 - f32(image[i] / 255.0);
    const [y, shape] = this.run(x, [H, W, C], this.layers);
    return Float64Array.from(this.F.subarray(y >> 2, (y >> 2) + shape.reduce((a, b) => a * b, 1)));
  }
}

/** A model from the parsed model.json and the bytes of model.bin; engine "auto" (wasm if possible), "wasm" or "js". */
export function makeModel(header, buffer, engine = "auto") {
  if (header.format !== "hasynet" || header.version !== 1) throw new Error("hasynet: not a hasynet v1 model.json");
  const E = new Engine(header, buffer, engine);
  E.layers = header.layers;
  return { header, engine: E, kind: E.kind, pad: { ...DEFAULT_PAD, ...(header.pad || {}) }, labels: header.labels };
}

/** Fetch model.json and model.bin from a folder URL. */
export async function loadModel(base, engine = "auto") {
  const u = base.endsWith("/") ? base : base + "/";
  const [h, b] = await Promise.all([fetch(u + "model.json"), fetch(u + "model.bin")]);
  if (!h.ok || !b.ok) throw new Error(`hasynet: cannot load the model from ${u} (${h.status}, ${b.status})`);
  return makeModel(await h.json(), await b.arrayBuffer(), engine);
}

/** Logits (Float64Array) for one uint8 image (0 = ink), as `hasy_nb.data.to_input` then the model. */
export function logits(model, image) {
  return model.engine.forward(image, model.header.input);
}

/** Softmax probabilities of logits. */
export function softmax(z) {
  let m = -Infinity;
  for (const v of z) if (v > m) m = v;
  let s = 0;
  const p = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) { p[i] = Math.exp(z[i] - m); s += p[i]; }
  for (let i = 0; i < z.length; i++) p[i] /= s;
  return p;
}

/** The top-k classes [{latex, prob, index}] of one image, best first. */
export function topk(model, image, k = 5) {
  const p = softmax(logits(model, image));
  const idx = Array.from(p.keys()).sort((a, b) => p[b] - p[a]).slice(0, k);
  return idx.map((i) => ({ latex: model.labels[i], prob: p[i], index: i }));
}

// ---- knowing what it does not know, and the embedding (hasy_nb.openset, hasy_nb.fewshot) --------------------
// model.json's "openset" (written by `hasy-nb pad` from hasy_nb.openset.shipped_calibration()): the temperature and the
// top guess's Platt scaling (top_slope, top_bias) that calibrate the probabilities, the score ("energy": logsumexp of
// the raw logits, as hasy_nb.openset.energy_score; "msp": the largest raw softmax probability) and the threshold below which the pad says "not a symbol I know".

/** The embedding (the input of the last, linear layer; hasy_nb.openset.embed's) and the logits of one image. */
export function embedAndLogits(model, image) {
  const last = model.header.layers[model.header.layers.length - 1];
  if (!last || last.op !== "linear") throw new Error("hasynet: the model does not end in a linear layer, so it has no embedding");
  const [embedding, z] = model.engine.forwardSplit(image, model.header.input);
  return { embedding, logits: z };
}

/** log(sum(exp(z))): hasy_nb.openset.energy_score at temperature 1 (high: a symbol the net knows). */
export function energy(z) {
  let m = -Infinity;
  for (const v of z) if (v > m) m = v;
  let s = 0;
  for (const v of z) s += Math.exp(v - m);
  return m + Math.log(s);
}

/** The open-set score model.json names, of some logits. */
export function openScore(model, z) {
  const o = model.header.openset;
  if (!o) throw new Error("hasynet: this model has no open-set settings (model.json has no \"openset\")");
  if (o.score === "energy") return energy(z);
  if (o.score === "msp") { let m = 0; for (const v of softmax(z)) if (v > m) m = v; return m; }
  throw new Error(`hasynet: unknown open-set score ${JSON.stringify(o.score)}`);
}

/** hasy_nb.openset.scale_top: the top probability mapped to sigmoid(slope * logit(p) + bias) and kept on top, the
 *  others scaled to sum 1 with it. */
export function scaleTop(p, slope, bias) {
  let a = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[a]) a = i;
  let second = -Infinity;
  for (let i = 0; i < p.length; i++) if (i !== a && p[i] > second) second = p[i];
  const c = Math.min(Math.max(p[a], 1e-7), 1 - 1e-7), rest = 1 - p[a];
  let top = 1 / (1 + Math.exp(-(slope * Math.log(c / (1 - c)) + bias)));
  top = Math.min(Math.max(top, second / (rest + second) + 1e-9), 1);   // above the second guess once it is scaled (TOP_GAP)
  if (!(rest > 0)) top = 1;                               // nothing to hand the rest to
  const out = new Float64Array(p.length), k = (1 - top) / Math.max(rest, 1e-300);
  for (let i = 0; i < p.length; i++) out[i] = p[i] * k;
  out[a] = top;
  return out;
}

/** What the pad shows for some logits: calibrated probabilities (softmax(z / T), then the top guess's Platt scaling
 *  when model.json has one: hasy_nb.openset.calibrated_probs), the score, and whether it is known. */
export function judge(model, z) {
  const o = model.header.openset;
  if (!o) return { probs: softmax(z), calibrated: false, score: null, threshold: null, known: true };
  const T = o.temperature, zt = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) zt[i] = z[i] / T;
  const score = openScore(model, z), p = softmax(zt);
  const probs = o.top_slope === undefined ? p : scaleTop(p, o.top_slope, o.top_bias);
  return { probs, calibrated: true, score, threshold: o.threshold, known: score >= o.threshold };
}

/** IEEE half-precision bits -> number. */
export function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Float16 little-endian bytes (an ArrayBuffer) -> Float32Array, as numpy's astype(float32). */
export function float16Array(buffer) {
  const u = new Uint16Array(buffer), out = new Float32Array(u.length);
  for (let i = 0; i < u.length; i++) out[i] = halfToFloat(u[i]);
  return out;
}
