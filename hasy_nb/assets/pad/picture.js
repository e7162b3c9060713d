// A picture in: drop, paste or pick an image file; it becomes the 32x32 image the net sees exactly as hasy_nb.infer's
// `preprocess` makes it (grey as Pillow's "L", transparency onto white, the same no-ink checks, light strokes on a dark
// ground inverted, a lone dot as HASY's dot, the ink box cropped, its longer side box-resized to 32 as Pillow's BOX
// filter on a float image, thresholded at 15 % of the darkest, centred with the odd pixel on top / left).
// Caps: pictures over MAX_PIXELS (hasy_nb.infer.MAX_PIXELS, from model.json) or MAX_BYTES are refused before decoding.

export const MAX_BYTES = 64 * 1024 * 1024;
const f32 = Math.fround;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

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
  const input = el("input", "hsp-picture-input");
  input.type = "file";
  input.accept = "image/*";
  input.hidden = true;
  const btn = el("button", "hsp-btn hsp-picture", "🖼 Picture…");
  btn.type = "button";
  btn.title = "guess from a picture: pick, drop or paste a photo or scan of one symbol (or, in formula mode, a formula)";
  btn.addEventListener("click", () => input.click());
  parent.append(btn, input);
  async function take(file) {
    const t0 = performance.now();
    try {
      const pic = await readPicture(file, o.P);
      await o.onPicture(pic, file);
      if (o.root) o.root.dataset.pictureMs = String(performance.now() - t0);   // decode, preprocess and guess
    } catch (e) { o.onError(String(e && e.message || e)); }
  }
  input.addEventListener("change", () => { const f = input.files && input.files[0]; if (f) take(f); input.value = ""; });
  const root = o.root;
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
  return { take, input, button: btn };
}
