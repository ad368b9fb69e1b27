// DOM helpers shared by the sidebar and the workflow view.

/** A new element of `tag` with class `cls` and, if given, `text` as its content. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls: string,
  text = ''
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = cls;
  if (text) {
    e.textContent = text;
  }
  return e;
}
