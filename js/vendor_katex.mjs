// Copy the parts of KaTeX (npm) that the static pad needs into hasy_nb/assets/pad/katex/:
// katex.min.js, katex.min.css with only the woff2 fonts referenced (every browser that runs the pad reads woff2),
// the woff2 fonts, and KaTeX's licence. Run: cd js && npm ci && node vendor_katex.mjs
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.join(here, "node_modules", "katex");
const dst = path.join(here, "..", "hasy_nb", "assets", "pad", "katex");
fs.rmSync(dst, { recursive: true, force: true });
fs.mkdirSync(path.join(dst, "fonts"), { recursive: true });
fs.copyFileSync(path.join(src, "dist", "katex.min.js"), path.join(dst, "katex.min.js"));
fs.copyFileSync(path.join(src, "LICENSE"), path.join(dst, "LICENSE"));
let css = fs.readFileSync(path.join(src, "dist", "katex.min.css"), "utf8");
css = css.replace(/,url\(fonts\/[^)]+\.(woff|ttf)\) format\("(woff|truetype)"\)/g, "");
if (/\.(woff|ttf)\)/.test(css)) throw new Error("katex.min.css still names woff/ttf fonts: the pattern needs an update");
fs.writeFileSync(path.join(dst, "katex.min.css"), css);
let n = 0;
for (const f of fs.readdirSync(path.join(src, "dist", "fonts"))) {
  if (f.endsWith(".woff2")) { fs.copyFileSync(path.join(src, "dist", "fonts", f), path.join(dst, "fonts", f)); n++; }
}
const version = JSON.parse(fs.readFileSync(path.join(src, "package.json"), "utf8")).version;
fs.writeFileSync(path.join(dst, "VERSION"), `katex ${version} (npm)\n`);
console.log(`vendored KaTeX ${version}: katex.min.js, katex.min.css, ${n} woff2 fonts -> ${dst}`);
