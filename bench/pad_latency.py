"""How fast and how big is the static pad? And is onnxruntime-web the better runtime? Measured in headless Chromium.

Writes `hasy-nb pad --out` into a temporary folder, serves it on 127.0.0.1 (every other request aborted), and prints
  - the size of the whole site, gzipped (the issue's goal: <= 4 MB),
  - when the first guess is possible after the page starts loading, over --loads cold loads (goal: <= 1 s),
  - the guess refresh after a pointer move while drawing with the mouse (goal: <= 16 ms),
  - per-image inference time of hasynet.js (wasm SIMD kernels, and its plain-JavaScript kernels) on the same images,
    and, as the baseline measured in the same run, onnxruntime-web (npm, wasm backend) with the same model exported to
    ONNX, including its load time and what it would add to the site (needs js/node_modules and the `onnx` package;
    --no-ort skips it).
Usage: python bench/pad_latency.py [--loads 10] [--images 300] [--no-ort] [--json FILE]
"""
from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ORT_DIST = ROOT / "js" / "node_modules" / "onnxruntime-web" / "dist"
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def stats(ms: list[float]) -> dict:
    return {"n": len(ms), "median": round(statistics.median(ms), 3), "p95": round(float(np.percentile(ms, 95)), 3)}


def gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), 9))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript", ".wasm": "application/wasm"}
    def log_message(self, *args) -> None: pass


def images_for_bench(n: int) -> tuple[np.ndarray, str]:
    "Fold-1 test images if the archive is at hand, else the pad's own drawings of random strokes."
    try:
        from hasy_nb.data import load_hasy
        data = load_hasy()
        return data.images[data.fold(1)[1][:n]], f"{n} fold-1 test images"
    except Exception as e:  # no archive: say so, use drawings
        from hasy_nb.infer import strokes_to_image
        rng = np.random.default_rng(0)
        imgs = [strokes_to_image([np.clip(rng.normal(0, 0.05, (20, 2)).cumsum(0) + 0.5, 0, 1).tolist()]) for _ in range(n)]
        return np.stack(imgs), f"{n} random pad drawings (no HASY archive: {e})"


def add_ort(site: Path) -> dict:
    "Put onnxruntime-web (wasm backend) and the model as ONNX into site/ort/; returns their gzipped sizes."
    import torch
    from hasy_nb.infer import fuse_conv_bn, load_pretrained
    ort = site / "ort"
    ort.mkdir()
    for f in ORT_FILES: shutil.copyfile(ORT_DIST / f, ort / f)
    torch.onnx.export(fuse_conv_bn(load_pretrained()).eval(), (torch.zeros(1, 1, 32, 32),), str(ort / "model.onnx"),
                      dynamo=False, input_names=["x"], output_names=["logits"], opset_version=17)
    return {f.name: (f.stat().st_size, gz(f)) for f in sorted(ort.iterdir())}


RUNTIME_JS = """async ([b64, withOrt]) => {
  const m = await import('./hasynet.js');
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0)), n = bytes.length / 1024, out = {};
  const img = (i) => bytes.subarray(i * 1024, (i + 1) * 1024);
  for (const engine of ['wasm', 'js']) {
    const t0 = performance.now();
    const model = await m.loadModel('./', engine);
    const load = performance.now() - t0, ms = [], z = [];
    for (let i = 0; i < n; i++) { const t = performance.now(); z.push(m.logits(model, img(i))); ms.push(performance.now() - t); }
    out[engine] = {load, ms, top: z.map(v => v.indexOf(Math.max(...v)))};
  }
  if (withOrt) {
    const t0 = performance.now();
    const ort = await import('./ort/ort.wasm.min.mjs');
    ort.env.wasm.wasmPaths = new URL('./ort/', location.href).href;
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create('./ort/model.onnx', {executionProviders: ['wasm']});
    const load = performance.now() - t0, ms = [], top = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const x = new Float32Array(1024);
      const b = img(i);
      for (let k = 0; k < 1024; k++) x[k] = 1 - b[k] / 255;
      const r = await session.run({x: new ort.Tensor('float32', x, [1, 1, 32, 32])});
      const v = r.logits.data;
      ms.push(performance.now() - t);
      let a = 0; for (let k = 1; k < v.length; k++) if (v[k] > v[a]) a = k;
      top.push(a);
    }
    out.ort = {load, ms, top, threads: ort.env.wasm.numThreads};
  }
  return out;
}"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loads", type=int, default=10, help="cold page loads to time (default 10)")
    ap.add_argument("--images", type=int, default=300, help="images per runtime (default 300)")
    ap.add_argument("--no-ort", action="store_true", help="skip the onnxruntime-web baseline")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    if args.loads < 1 or args.images < 1: ap.error("--loads and --images must be >= 1")
    with_ort = not args.no_ort
    if with_ort and not ORT_DIST.is_dir():
        ap.error(f"onnxruntime-web is not installed at {ORT_DIST} (cd js && npm ci), or pass --no-ort")
    from playwright.sync_api import sync_playwright
    from hasy_nb.export import site_sizes, write_static_pad

    tmp = Path(tempfile.mkdtemp(prefix="pad-bench-"))
    site = write_static_pad(tmp / "site")
    sizes = site_sizes(site)
    res: dict = {"site_files": len(sizes), "site_bytes": sum(v[0] for v in sizes.values()),
                 "site_gzip_bytes": sum(v[1] for v in sizes.values())}
    if with_ort:
        ort_sizes = add_ort(site)
        ours = [k for k in sizes if k.startswith(("hasynet", "model.bin"))]
        res["ort_files_gzip_bytes"] = {k: v[1] for k, v in ort_sizes.items()}
        res["site_with_ort_gzip_bytes"] = res["site_gzip_bytes"] - sum(sizes[k][1] for k in ours) + sum(v[1] for v in ort_sizes.values())
    images, what = images_for_bench(args.images)
    res["images"] = what

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    blocked: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)

            def page():
                ctx = browser.new_context(viewport={"width": 1100, "height": 900})
                ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(url) else (blocked.append(r.request.url), r.abort()))
                return ctx, ctx.new_page()

            ready = []
            for _ in range(args.loads):            # cold loads: a fresh context (no cache) each time
                ctx, pg = page()
                pg.goto(url + "index.html")
                pg.wait_for_selector(".hasy-symbolpad[data-ready='1']", timeout=60_000)
                ready.append(float(pg.locator(".hasy-symbolpad").get_attribute("data-ready-ms")))
                ctx.close()
            res["first_guess_possible_ms"] = stats(ready)

            ctx, pg = page()
            pg.goto(url + "index.html")
            pg.wait_for_selector(".hasy-symbolpad[data-ready='1']", timeout=60_000)
            box = pg.locator(".hsp-ink").bounding_box()
            for k in range(6):                      # circles drawn with the mouse, 60 moves each
                t = np.linspace(0, 2 * np.pi, 61)
                xy = [(box["x"] + box["width"] * (0.5 + 0.3 * np.cos(a)), box["y"] + box["height"] * (0.5 + 0.3 * np.sin(a))) for a in t]
                pg.mouse.move(*xy[0])
                pg.mouse.down()
                for x, y in xy[1:]: pg.mouse.move(x, y)
                pg.mouse.up()
                pg.locator(".hsp-clear").click()
            ms = pg.evaluate("window.hasyPad.guessMs")
            res["guess_refresh_ms"] = stats(ms[10:])   # the first ones pay for compiling the code
            import base64
            out = pg.evaluate(RUNTIME_JS, [base64.b64encode(np.ascontiguousarray(images, np.uint8).tobytes()).decode(), with_ort])
            ctx.close()
            browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
        shutil.rmtree(tmp, ignore_errors=True)
    res["runtimes"] = {k: {"load_ms": round(v["load"], 1), "per_image_ms": stats(v["ms"][5:]),
                           "top1_same_as_wasm": float(np.mean(np.array(v["top"]) == np.array(out["wasm"]["top"])))}
                       for k, v in out.items()}
    res["blocked_requests"] = blocked

    mb = lambda b: f"{b / 1e6:.2f} MB"
    print(f"static pad: {res['site_files']} files, {mb(res['site_bytes'])}, gzip {mb(res['site_gzip_bytes'])} (goal <= 4 MB)")
    if with_ort:
        print(f"  the same site with onnxruntime-web instead of hasynet: gzip {mb(res['site_with_ort_gzip_bytes'])} "
              f"({', '.join(f'{k} {mb(v)}' for k, v in res['ort_files_gzip_bytes'].items())})")
    r = res["first_guess_possible_ms"]
    print(f"first guess possible after the page starts loading ({r['n']} cold loads): median {r['median']:.0f} ms, p95 {r['p95']:.0f} ms (goal <= 1000)")
    r = res["guess_refresh_ms"]
    print(f"guess refresh after a pointer move ({r['n']} moves): median {r['median']:.2f} ms, p95 {r['p95']:.2f} ms (goal <= 16)")
    print(f"runtimes on {what}:")
    for k, v in res["runtimes"].items():
        s = v["per_image_ms"]
        print(f"  {k:5s} load {v['load_ms']:7.1f} ms   per image median {s['median']:6.2f} ms  p95 {s['p95']:6.2f} ms   "
              f"top-1 as hasynet-wasm {v['top1_same_as_wasm']:.1%}")
    if blocked: print(f"WARNING: requests outside the site were made (and aborted): {blocked}")
    if args.json: args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
