// The pad's one DOM helper, shared by its modules (pad.js, details.js, teach.js, picture.js) and the Jupyter widget.

/** A new element: its tag, its class names (if any) and its text (if any). */
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
