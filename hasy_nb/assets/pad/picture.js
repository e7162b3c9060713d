// A picture in: drop, paste or pick an image file; it becomes the 32x32 image the net sees exactly as hasy_nb.infer's
// `preprocess` makes it (grey as Pillow's "L", transparency onto white, the same no-ink checks, light strokes on a dark
// ground inverted, a lone dot as HASY's dot, the ink box cropped, its longer side box-resized to 32 as Pillow's BOX
// filter on a float image, thresholded at 15 % of the darkest, centred with the odd pixel on top / left).
// Caps: pictures over MAX_PIXELS (hasy_nb.infer.MAX_PIXELS, from model.json) or MAX_BYTES are refused before decoding.

import { el, filePicker } from "./dom.js";

export const MAX_BYTES = 64 * 1024 * 1024;
const f32 = Math.fround;

/** RGBA bytes (as canvas getImageData gives) -> grey, as Pillow: alpha onto white, then L = R 299/1000 + G 587/1000 + B 114/1000. */
export function rgbaToGrey(rgba, w, h) {
  const out = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) {
    let r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2];
    const a = rgba[4 * i + 3];
    if (a !== 255) {      // Image.alpha_composite onto opaque white: out = (src * a + 255 * (255 - a)) / 255, rounded
      const blend = (c) => { const t = c * a + 255 * (255 - a) + 0x80; return (t + (t >> 8)) >> 8; };
      r = blend(r); g = blend(g); b = blend(b);
    }
    out[i] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
  }
  return out;
}

function median(values) {   // numpy's median: the mean of the two middle values of an even count
  const s = Float64Array.from(values).sort();
  const n = s.length, m = n >> 1;
  return n % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Pillow's precompute_coeffs for the BOX filter (support 0.5): per output pixel [first input, count, weights]. */
function boxCoeffs(inSize, outSize) {
  const scale = inSize / outSize, filterscale = Math.max(scale, 1.0), support = 0.5 * filterscale, ss = 1.0 / filterscale;
  const out = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5); if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5); if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const k = new Float64Array(xmax);
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = (x + xmin - center + 0.5) * ss;
      k[x] = t > -0.5 && t <= 0.5 ? 1.0 : 0.0;
      ww += k[x];
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) k[x] /= ww;
    out.push([xmin, xmax, k]);
  }
  return out;
}

/** Pillow's Image.resize(BOX) of a float32 ("F") image w x h -> nw x nh: horizontal pass, then vertical (double sums, float32 out). */
export function resizeBoxF(src, w, h, nw, nh) {
  let cur = src, cw = w;
  if (nw !== w) {
    const C = boxCoeffs(w, nw), out = new Float32Array(nw * h);
    for (let y = 0; y < h; y++) for (let xx = 0; xx < nw; xx++) {
      const [x0, n, k] = C[xx];
      let s = 0;
      for (let x = 0; x < n; x++) s += cur[y * cw + x0 + x] * k[x];
      out[y * nw + xx] = s;
    }
    cur = out; cw = nw;
  }
  if (nh !== h) {
    const C = boxCoeffs(h, nh), out = new Float32Array(cw * nh);
    for (let yy = 0; yy < nh; yy++) {
      const [y0, n, k] = C[yy];
      for (let x = 0; x < cw; x++) {
        let s = 0;
        for (let y = 0; y < n; y++) s += cur[(y0 + y) * cw + x] * k[y];
        out[yy * cw + x] = s;
      }
    }
    cur = out;
  }
  return cur;
}

function pyRound(x) {   // Python's round(): halves to even
  const f = Math.floor(x), d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function inkBox(mask, w, h) {
  let r0 = h, r1 = -1, c0 = w, c1 = -1;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (mask(y * w + x)) {
    if (y < r0) r0 = y; if (y > r1) r1 = y; if (x < c0) c0 = x; if (x > c1) c1 = x;
  }
  return [r0, r1 + 1, c0, c1 + 1];
}

/**
 * hasy_nb.infer.preprocess of a grey picture (Uint8Array w*h, 255 = paper): {image (32x32 uint8), inverted, dot}, or an
 * Error whose message names `where` and says why there is nothing to guess. P: {size, dot_px, ink_threshold, max_pixels}.
 */
export function preprocessGrey(grey, w, h, P, where = "the picture") {
  const size = P.size || 32, dims = `${w}x${h}`;
  if (w * h > P.max_pixels) throw new Error(`${where}: ${dims} = ${(w * h).toLocaleString("en")} pixels, more than ${P.max_pixels.toLocaleString("en")} (4096x4096); scale it down first`);
  if (w * h === 0) throw new Error(`${where} (${dims}) is empty: it has no pixels, so no ink`);
  let lo = 255, hi = 0;
  for (const v of grey) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (lo >= 224) throw new Error(`${where} (${dims}) has no ink: no pixel is darker than 224 (expected dark strokes on a light background)`);
  if (hi - lo < 32) throw new Error(`${where} (${dims}) is one flat shade (every pixel is between ${lo} and ${hi}): no strokes stand out from a background`);
  if (w === size && h === size && grey.every((v) => v === 0 || v === 255)) return { image: Uint8Array.from(grey), inverted: false, dot: false };
  const border = [];
  for (let x = 0; x < w; x++) border.push(grey[x], grey[(h - 1) * w + x]);
  for (let y = 0; y < h; y++) border.push(grey[y * w], grey[y * w + w - 1]);
  const inverted = !(median(border) >= 128 || median(grey) >= 128);
  const dark = new Float32Array(w * h);
  let dmax = 0;
  for (let i = 0; i < w * h; i++) { dark[i] = 255 - (inverted ? 255 - grey[i] : grey[i]); if (dark[i] > dmax) dmax = dark[i]; }
  const half = f32(0.5 * dmax);
  const [r0, r1, c0, c1] = inkBox((i) => dark[i] >= half, w, h);
  const bh = r1 - r0, bw = c1 - c0;
  // _is_dot: the ink box is tiny relative to the drawing and mostly filled
  let filled = 0;
  for (let y = r0; y < r1; y++) for (let x = c0; x < c1; x++) if (dark[y * w + x] >= half) filled++;
  if (Math.max(bh, bw) <= P.dot_extent * Math.max(w, h) && filled / (bh * bw) >= 0.6) {
    const out = new Uint8Array(size * size), r2 = (P.dot_px / 2) ** 2;
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) out[y * size + x] = (y + 0.5 - size / 2) ** 2 + (x + 0.5 - size / 2) ** 2 <= r2 ? 0 : 255;
    return { image: out, inverted, dot: true };
  }
  // fit_ink: crop / max (float32), resize the longer side to size (BOX), threshold, centre
  const crop = new Float32Array(bh * bw);
  for (let y = 0; y < bh; y++) for (let x = 0; x < bw; x++) crop[y * bw + x] = f32(dark[(r0 + y) * w + c0 + x] / dmax);
  const m = Math.max(bh, bw);
  const nh = Math.max(1, pyRound((bh * size) / m)), nw = Math.max(1, pyRound((bw * size) / m));
  const small = resizeBoxF(crop, bw, bh, nw, nh);
  let smax = -Infinity;
  for (const v of small) if (v > smax) smax = v;
  const cut = f32(f32(P.ink_threshold) * smax);       // numpy 2: python float * float32 scalar stays float32
  const out = new Uint8Array(size * size).fill(255);
  const top = Math.floor((size - nh + 1) / 2), left = Math.floor((size - nw + 1) / 2);
  for (let y = 0; y < nh; y++) for (let x = 0; x < nw; x++) if (small[y * nw + x] >= cut) out[(top + y) * size + left + x] = 0;
  return { image: out, inverted, dot: false };
}

/** The grey pixels of an image file (a File or Blob), refused before decoding when too big; errors name the file. */
export async function readPicture(file, P) {
  const name = file.name || "the pasted picture";
  if (file.size > MAX_BYTES) throw new Error(`${name}: ${(file.size / 1e6).toFixed(1)} MB, more than ${MAX_BYTES / 1e6} MB; scale it down first`);
  const url = URL.createObjectURL(file);
  let w, h;
  try {
    const img = new Image();
    img.src = url;
    try { await img.decode(); } catch (e) { throw new Error(`${name}: not an image this browser can read (${file.type || "unknown type"})`); }
    w = img.naturalWidth; h = img.naturalHeight;
  } finally { URL.revokeObjectURL(url); }
  if (w * h > P.max_pixels) throw new Error(`${name}: ${w}x${h} = ${(w * h).toLocaleString("en")} pixels, more than ${P.max_pixels.toLocaleString("en")} (4096x4096); scale it down first`);
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const c = document.createElement("canvas");
  c.width = w; c.height = h;
  const g = c.getContext("2d", { willReadFrequently: true, colorSpace: "srgb" });
  g.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { grey: rgbaToGrey(g.getImageData(0, 0, w, h).data, w, h), width: w, height: h, name };
}

/**
 * The picture's controls in `parent` ("Picture…", a file input), dropping on `root` and pasting into the page.
 * o: {pad settings P, onImage(result, file) (result of preprocessGrey), onError(message), root}.
 */
export function mountPicture(parent, o) {
  const [btn, input] = filePicker("🖼 Picture…", "hsp-btn hsp-picture", "hsp-picture-input", "image/*");
  btn.title = "guess from a picture: pick, drop or paste a photo or scan of one symbol (or, in formula mode, a formula)";
  const status = el("span", "hsp-picture-error hsp-error");
  parent.append(btn, input, status);
  async function take(file) {
    const t0 = performance.now();
    try {
      const pic = await readPicture(file, o.P);
      await o.onPicture(pic, file);
      status.textContent = "";
      if (o.root) o.root.dataset.pictureMs = String(performance.now() - t0);   // decode, preprocess and guess
    } catch (e) { o.onError(String(e && e.message || e)); }
  }
  const say = (text) => { status.textContent = text; };     // the page decides where an error shows
  input.addEventListener("change", () => { const f = input.files && input.files[0]; if (f) take(f); input.value = ""; });
  const root = o.root;
  if (o.listen === false) return { take, input, button: btn, say };     // a second button: drop and paste are heard once
  root.addEventListener("dragover", (ev) => { if (ev.dataTransfer && Array.from(ev.dataTransfer.types).includes("Files")) { ev.preventDefault(); root.classList.add("hsp-dropping"); } });
  root.addEventListener("dragleave", () => root.classList.remove("hsp-dropping"));
  root.addEventListener("drop", (ev) => {
    root.classList.remove("hsp-dropping");
    const f = ev.dataTransfer && ev.dataTransfer.files && ev.dataTransfer.files[0];
    if (!f) return;
    ev.preventDefault();
    take(f);
  });
  (o.pasteTarget || document).addEventListener("paste", (ev) => {
    const items = ev.clipboardData ? Array.from(ev.clipboardData.items) : [];
    const it = items.find((i) => i.kind === "file" && i.type.startsWith("image/"));
    if (!it) return;
    ev.preventDefault();
    take(it.getAsFile());
  });
  return { take, input, button: btn, say };
}

// ---- a picture read as a formula: its ink as pen strokes for formula.js's public reader (readFormula takes strokes) ---
// The ink (as preprocess finds it: inverted when light on dark, half the darkest) is scaled so its box is about
// WORK_PX high, thinned to one-pixel lines (Zhang-Suen) and traced into polylines: what a pen would have drawn.
export const WORK_PX = 96;

function thin(m, w, h) {   // Zhang-Suen thinning of a 0/1 mask, in place
  const at = (x, y) => (x < 0 || y < 0 || x >= w || y >= h ? 0 : m[y * w + x]);
  for (let changed = true; changed;) {
    changed = false;
    for (const step of [0, 1]) {
      const del = [];
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        if (!m[y * w + x]) continue;
        const p = [at(x, y - 1), at(x + 1, y - 1), at(x + 1, y), at(x + 1, y + 1), at(x, y + 1), at(x - 1, y + 1), at(x - 1, y), at(x - 1, y - 1)];
        const b = p.reduce((a, v) => a + v, 0);
        if (b < 2 || b > 6) continue;
        let a = 0;
        for (let i = 0; i < 8; i++) if (!p[i] && p[(i + 1) % 8]) a++;
        if (a !== 1) continue;
        if (step === 0 ? (p[0] && p[2] && p[4]) || (p[2] && p[4] && p[6]) : (p[0] && p[2] && p[6]) || (p[0] && p[4] && p[6])) continue;
        del.push(y * w + x);
      }
      for (const i of del) m[i] = 0;
      if (del.length) changed = true;
    }
  }
  return m;
}

function trace(m, w, h) {   // one-pixel lines -> polylines of pixel centres (endpoints first, then loops, then dots)
  const on = (x, y) => x >= 0 && y >= 0 && x < w && y < h && m[y * w + x] === 1;
  const nb = (i) => {       // 8-neighbours, less a diagonal step that a shared 4-neighbour already joins (no triangles)
    const x = i % w, y = (i - x) / w, out = [];
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
      if (!(dx || dy) || !on(x + dx, y + dy)) continue;
      if (dx && dy && (on(x + dx, y) || on(x, y + dy))) continue;
      out.push((y + dy) * w + x + dx);
    }
    return out;
  };
  // thinning leaves short spurs at corners and crossings: drop a branch of <= SPUR pixels that ends at a junction
  const SPUR = 4;
  for (let i = 0; i < w * h; i++) {
    if (!m[i] || nb(i).length !== 1) continue;
    const branch = [i];
    let prev = -1, cur = i;
    while (branch.length <= SPUR) {
      const next = nb(cur).filter((j) => j !== prev);
      if (next.length !== 1) break;
      prev = cur; cur = next[0];
      if (nb(cur).length >= 3) { for (const b of branch) m[b] = 0; break; }
      branch.push(cur);
    }
  }
  const used = new Set(), key = (a, b) => (a < b ? a + "," + b : b + "," + a), lines = [];
  const xy = (i) => [i % w, Math.floor(i / w)];
  const walk = (start) => {    // as a pen goes: at a crossing, on in the direction it came from
    const line = [start];
    for (let cur = start; ;) {
      const next = nb(cur).filter((j) => !used.has(key(cur, j)));
      if (!next.length) break;
      let j = next[0];
      if (next.length > 1 && line.length > 1) {
        const [x0, y0] = xy(line[Math.max(0, line.length - 4)]), [x1, y1] = xy(cur);
        const dir = [x1 - x0, y1 - y0], n0 = Math.hypot(...dir) || 1;
        const cos = (k) => { const [x2, y2] = xy(k); return ((x2 - x1) * dir[0] + (y2 - y1) * dir[1]) / (n0 * Math.hypot(x2 - x1, y2 - y1)); };
        j = next.reduce((a, b) => (cos(b) > cos(a) ? b : a));
      }
      used.add(key(cur, j)); line.push(j); cur = j;
    }
    return line;
  };
  const pixels = [];
  for (let i = 0; i < w * h; i++) if (m[i]) pixels.push(i);
  for (const i of pixels) if (nb(i).length === 1 && nb(i).some((j) => !used.has(key(i, j)))) lines.push(walk(i));
  for (const i of pixels) while (nb(i).some((j) => !used.has(key(i, j)))) lines.push(walk(i));
  for (const i of pixels) if (!nb(i).length) lines.push([i]);
  // a pen writes one symbol after another: order the lines by their connected piece, pieces from left to right
  const comp = new Int32Array(w * h).fill(-1), left = [];
  for (const i of pixels) {
    if (comp[i] >= 0) continue;
    const c = left.length, stack = [i];
    comp[i] = c; left.push(i % w);
    while (stack.length) for (const j of nb(stack.pop())) if (comp[j] < 0) { comp[j] = c; left[c] = Math.min(left[c], j % w); stack.push(j); }
  }
  const order = lines.map((l, k) => [left[comp[l[0]]], comp[l[0]], k]).sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  return order.map(([, , k]) => lines[k].map((i) => [i % w + 0.5, Math.floor(i / w) + 0.5]));
}

/**
 * The picture's ink as pen strokes ({points, width, erase} in units of a board `height` high) for formula.js: the ink
 * box fills `fill` of the board's height (and at most `maxWidth` board heights across), left-aligned at `left`.
 */
export function pictureStrokes(grey, w, h, P, where = "the picture", o = {}) {
  preprocessGrey(grey, w, h, P, where);                 // the same caps and no-ink errors as one symbol
  const fill = o.fill ?? 0.6, maxWidth = o.maxWidth ?? 2.8, left = o.left ?? 0.1;
  const border = [];
  for (let x = 0; x < w; x++) border.push(grey[x], grey[(h - 1) * w + x]);
  for (let y = 0; y < h; y++) border.push(grey[y * w], grey[y * w + w - 1]);
  const inverted = !(median(border) >= 128 || median(grey) >= 128);
  let dmax = 0;
  for (const v of grey) dmax = Math.max(dmax, inverted ? v : 255 - v);
  const ink = (i) => (inverted ? grey[i] : 255 - grey[i]) >= 0.5 * dmax;
  const [r0, r1, c0, c1] = inkBox(ink, w, h);
  const bh = r1 - r0, bw = c1 - c0;
  const s = Math.min(1, WORK_PX / bh, (WORK_PX * maxWidth / fill) / bw);   // work pixels per picture pixel
  const W = Math.max(1, Math.round(bw * s)), H = Math.max(1, Math.round(bh * s));
  const cover = new Float32Array(W * H), count = new Float32Array(W * H);
  for (let y = r0; y < r1; y++) for (let x = c0; x < c1; x++) {
    const j = Math.min(H - 1, Math.floor((y - r0) * s)) * W + Math.min(W - 1, Math.floor((x - c0) * s));
    count[j]++; if (ink(y * w + x)) cover[j]++;
  }
  const m = new Uint8Array(W * H);
  for (let j = 0; j < W * H; j++) m[j] = count[j] && cover[j] / count[j] >= 0.25 ? 1 : 0;
  const k = Math.min(fill / H, maxWidth / W), top = (1 - H * k) / 2;  // board units per work pixel
  return trace(thin(m, W, H), W, H).map((line) => ({
    points: line.filter((p, i) => i % 2 === 0 || i === line.length - 1)
      .map(([x, y]) => [Math.round((left + x * k) * 1e4) / 1e4, Math.round((top + y * k) * 1e4) / 1e4]),
    width: 0.02, erase: false,
  }));
}
