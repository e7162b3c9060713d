// The pad's one DOM helper, shared by its modules (pad.js, details.js, teach.js, picture.js) and the Jupyter widget.

/** A new element: its tag, its class names (if any) and its text (if any). */
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A button that opens a hidden file input (for pictures, imported drawings): [button, input]. */
export function filePicker(label, buttonCls, inputCls, accept) {
  const input = el("input", inputCls);
  input.type = "file";
  input.accept = accept;
  input.hidden = true;
  const button = el("button", buttonCls, label);
  button.type = "button";
  button.addEventListener("click", () => input.click());
  return [button, input];
}
