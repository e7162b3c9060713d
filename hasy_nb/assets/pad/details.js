// The symbol's details beside the guesses: its name in words, the Unicode character and code point, package and mode,
// the Typst spelling, "copy as Unicode", and the classes it is most often confused with. Every field comes from
// symbols.json, which `hasy-nb pad` builds from hasy_nb.symbols' table (Unicode, pylatexenc, Typst's compiler, the
// shipped model's confusions on fold 1's test split); nothing here is typed by hand.

import { el } from "./dom.js";

/** "N-ARY SUMMATION" -> "n-ary summation" (Unicode names are upper case). */
export function nameInWords(name) {
  return (name || "").toLowerCase();
}

/**
 * A details panel in `parent`. o: {symbols (symbols.json's rows), copyText(text) -> Promise, onPick(latex) (a look-alike
 * clicked), root (gets data-details / data-copied)}. Returns {show(latex), get latex}.
 */
export function mountDetails(parent, o) {
  const bySym = new Map(o.symbols.map((s) => [s.latex, s]));
  const box = el("div", "hsp-details");
  box.setAttribute("aria-live", "polite");
  parent.append(box);
  let current = null;
  function row(label, value, cls) {
    const r = el("div", "hsp-detail-row " + (cls || ""));
    r.append(el("span", "hsp-detail-label", label), value);
    return r;
  }
  function show(latex) {
    current = latex;
    const s = bySym.get(latex);
    box.replaceChildren();
    if (!latex) { box.hidden = true; return; }
    box.hidden = false;
    box.dataset.latex = latex;
    if (!s) { box.append(el("div", "hsp-muted", `${latex}: taught by you (not one of HASY's 369 symbols)`)); return; }
    const head = el("div", "hsp-detail-head");
    head.append(el("span", "hsp-detail-char", s.unicode || ""), el("code", "hsp-detail-latex", s.latex));
    box.append(el("div", "hsp-title", "About the symbol"), head);
    box.append(row("name", el("span", "hsp-detail-name", s.name ? nameInWords(s.name) : "no Unicode name")));
    const uni = el("span", "hsp-detail-unicode");
    if (s.unicode) {
      uni.append(el("span", "hsp-detail-code", `${s.unicode} ${s.codepoint}`));
      const copy = el("button", "hsp-copy hsp-copy-unicode", "Copy as Unicode");
      copy.type = "button";
      copy.title = `copy ${s.unicode} (${s.codepoint})`;
      copy.addEventListener("click", async () => {
        await o.copyText(s.unicode);
        if (o.root) o.root.dataset.copied = s.unicode;
        copy.textContent = "Copied";
        setTimeout(() => { copy.textContent = "Copy as Unicode"; }, 1200);
      });
      uni.append(copy);
    } else uni.textContent = "no single Unicode character";
    box.append(row("Unicode", uni));
    box.append(row("LaTeX", el("span", "hsp-detail-pkg", `${s.mode} mode, ${s.usepackage || "no package needed"}`)));
    box.append(row("Typst", s.typst ? el("code", "hsp-detail-typst", s.typst) : el("span", "hsp-muted hsp-detail-typst", "no Typst spelling")));
    const alike = el("span", "hsp-detail-lookalikes");
    if (s.lookalikes && s.lookalikes.length) {
      for (const [l, share] of s.lookalikes) {
        const b = el("button", "hsp-btn hsp-lookalike", `${l} (${Math.round(share * 1000) / 10}%)`);
        b.type = "button";
        b.dataset.latex = l;
        b.title = `the net took ${Math.round(share * 1000) / 10}% of the test drawings of ${s.latex} for ${l}; show it`;
        b.addEventListener("click", () => show(l));
        alike.append(b);
      }
    } else alike.textContent = "none seen twice in the test drawings";
    box.append(row("confused with", alike));
    if (o.root) o.root.dataset.details = latex;
  }
  show(null);
  return { show, get latex() { return current; } };
}
