/** A few lines instead of a framework: build elements, set text only when it changed. */

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

/**
 * `h('a', { href: '#/' }, 'text')`. Attributes named `on…` take listeners;
 * `true` sets a boolean attribute, `false`/`undefined` leaves it out. Text is
 * always a text node, never parsed as HTML.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== false && value !== undefined) element.setAttribute(name, String(value));
  }
  element.append(...children.filter((child): child is Node | string => child !== null && child !== undefined && child !== false));
  return element;
}

/** Writes `text` unless the element already shows it (keeps screen readers and selections calm). */
export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}
