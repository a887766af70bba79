// DOM helpers. Everything the dashboard shows is built with createElement and text nodes:
// data from the API never passes through innerHTML, so a payload holding markup stays text.

/** Creates an element: `h('a', { href: '#/', class: 'x', onclick: fn }, 'text', child)`. */
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children)
}

const SVG_NS = 'http://www.w3.org/2000/svg'

/** Creates an SVG element, attributes only. */
export function svg(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children)
}

function build(el, props, children) {
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue
    if (key === 'class') el.setAttribute('class', value)
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value)
    else if (key === 'value' || key === 'checked' || key === 'selected') el[key] = value
    else el.setAttribute(key, value === true ? '' : String(value))
  }
  append(el, children)
  return el
}

/** Appends children: nodes as they are, anything else as text. */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue
    el.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return el
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren()
  return append(el, children)
}

/** Pretty JSON in a <pre>, as text. */
export function jsonBlock(value, label) {
  const text = value === undefined ? 'undefined' : JSON.stringify(value, null, 2)
  return h('pre', { class: 'json', tabindex: '0', 'aria-label': label }, text ?? 'null')
}
