/**
 * The HTML sanitiser of the pickup page: an allow-list of tags and attributes, applied by
 * re-serialising a token stream. Whatever the input, the output contains only:
 *
 * - allowed elements, properly nested and closed, with allowed attributes whose values are
 *   entity-decoded, checked and re-escaped inside double quotes;
 * - text with every '<', '>' and stray '&' escaped;
 * - <style> blocks whose CSS was neutralised and that contain no '<'.
 *
 * Dropped: scripts and every other raw-text element with its content (script, iframe, object,
 * embed, noscript, template, textarea, title, ...), forms and form controls, event handlers, any
 * URL other than http(s)/mailto/tel links and data: images, remote images (their alt text is kept),
 * CSS url()/image()/expression()/@import, and CSS with escapes (a way to hide all of those).
 *
 * The result is also served in an <iframe sandbox> under a CSP that forbids scripts and loads
 * nothing remote (src/web/routes/pickup.ts): the sanitiser and the browser each stop it alone.
 * Runtime-agnostic.
 */

const VOID = new Set(['br', 'hr', 'img', 'wbr', 'col']);

/** Allowed elements: everything else is dropped (its text kept, unless listed in DROP_CONTENT). */
const ALLOWED = new Set([
  'a', 'abbr', 'address', 'article', 'aside', 'b', 'bdi', 'bdo', 'big', 'blockquote', 'br', 'caption', 'center', 'cite', 'code', 'col', 'colgroup',
  'dd', 'del', 'details', 'dfn', 'div', 'dl', 'dt', 'em', 'figcaption', 'figure', 'font', 'footer', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hr',
  'i', 'img', 'ins', 'kbd', 'li', 'main', 'mark', 'nav', 'ol', 'p', 'pre', 'q', 's', 'samp', 'section', 'small', 'span', 'strike', 'strong', 'sub',
  'summary', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'time', 'tr', 'tt', 'u', 'ul', 'var', 'wbr',
]);

/** Elements dropped together with everything inside them. */
const DROP_CONTENT = new Set([
  'script', 'style', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'noscript', 'noembed', 'noframes', 'template', 'textarea',
  'title', 'xmp', 'select', 'option', 'optgroup', 'datalist', 'svg', 'math', 'audio', 'video', 'canvas', 'portal', 'dialog',
]);

/** Raw-text / RCDATA elements: their content is not markup and runs to the matching end tag. */
const RAW_TEXT = new Set(['script', 'style', 'iframe', 'noembed', 'noframes', 'noscript', 'textarea', 'title', 'xmp']);

const GLOBAL_ATTRS = new Set(['align', 'valign', 'bgcolor', 'color', 'width', 'height', 'border', 'dir', 'lang', 'title', 'style', 'class', 'face', 'size', 'nowrap', 'clear', 'hspace', 'vspace']);
const TAG_ATTRS: Record<string, Set<string>> = {
  a: new Set(['href']),
  img: new Set(['src', 'alt']),
  table: new Set(['cellpadding', 'cellspacing', 'summary', 'frame', 'rules']),
  td: new Set(['colspan', 'rowspan', 'abbr', 'scope', 'headers']),
  th: new Set(['colspan', 'rowspan', 'abbr', 'scope', 'headers']),
  col: new Set(['span']),
  colgroup: new Set(['span']),
  ol: new Set(['start', 'type', 'reversed']),
  ul: new Set(['type']),
  li: new Set(['value', 'type']),
  time: new Set(['datetime']),
  del: new Set(['datetime']),
  ins: new Set(['datetime']),
  details: new Set(['open']),
};

/** Longest attribute value kept (a data: image may be longer). */
const MAX_ATTR = 2048;
export const MAX_DATA_IMAGE = 2 * 1024 * 1024;

export interface SanitizeOptions {
  /** Resolves a cid: reference of an inline image to a data: URL, or undefined. */
  resolveCid?: (contentId: string) => string | undefined;
}

export interface SanitizedHtml {
  /** The body content. */
  body: string;
  /** Neutralised CSS of the message's <style> blocks. */
  styles: string[];
  /** Remote images, links with other schemes, forms, scripts and the like that were removed. */
  removed: { scripts: number; remoteImages: number; forms: number; handlers: number; urls: number };
}

// ------------------------------------------------------------------------------------------
// Entities
// ------------------------------------------------------------------------------------------

const NAMED: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', copy: '©', reg: '®', trade: '™', hellip: '…', mdash: '—', ndash: '–',
  lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', sbquo: '‚', bdquo: '„', bull: '•', middot: '·', laquo: '«', raquo: '»', yen: '¥', euro: '€',
  pound: '£', cent: '¢', sect: '§', deg: '°', plusmn: '±', times: '×', divide: '÷', para: '¶', shy: '\u00ad', zwnj: '\u200c', zwj: '\u200d',
  ensp: '\u2002', emsp: '\u2003', thinsp: '\u2009', larr: '←', rarr: '→', uarr: '↑', darr: '↓', colon: ':', tab: '\t', newline: '\n', lpar: '(',
  rpar: ')', sol: '/', bsol: '\\', num: '#', excl: '!', quest: '?', equals: '=', period: '.', comma: ',', semi: ';', lowbar: '_', hyphen: '-',
};

/** Decodes character references the way a browser does in an attribute value (enough to see through obfuscation). */
export function decodeEntities(s: string): string {
  return s.replace(/&(#[xX][0-9a-fA-F]{1,8}|#[0-9]{1,10}|[A-Za-z][A-Za-z0-9]{1,31});?/g, (m, ref: string) => {
    if (ref[0] === '#') {
      const n = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!Number.isFinite(n) || n === 0 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return '\ufffd';
      return String.fromCodePoint(n);
    }
    const v = NAMED[ref] ?? NAMED[ref.toLowerCase()];
    return v ?? m;
  });
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Text content: keeps well-formed character references, escapes everything else that could be markup. */
function escapeText(s: string): string {
  return s
    .replace(/&(?!(?:#[xX][0-9a-fA-F]{1,8}|#[0-9]{1,10}|[A-Za-z][A-Za-z0-9]{1,31});)/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

// ------------------------------------------------------------------------------------------
// URLs and CSS
// ------------------------------------------------------------------------------------------

/** Control characters and whitespace a browser strips or ignores inside a URL scheme. */
function compactUrl(v: string): string {
  // eslint-disable-next-line no-control-regex
  return v.replace(/[\u0000-\u0020\u007f-\u009f\u00ad\u200b-\u200f\u2028\u2029\ufeff]/g, '');
}

/** A link target we keep (decoded, as checked): http(s), mailto, tel, or a fragment. */
export function safeLink(value: string): string | undefined {
  const v = compactUrl(decodeEntities(value));
  if (v.startsWith('#')) return v.length > 1 ? v : undefined;
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(v);
  if (!m) return undefined; // relative URLs would point at this service
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'http' || scheme === 'https') return /^https?:\/\/[^/?#]+/i.test(v) ? v : undefined;
  if (scheme === 'mailto' || scheme === 'tel') return v;
  return undefined;
}

const DATA_IMAGE_RE = /^data:image\/(?:png|gif|jpeg|jpg|webp|bmp);base64,[A-Za-z0-9+/=\s]+$/i;

/** An image source we keep: an inline data: image (never remote, never SVG, which can carry script). */
export function safeImage(value: string, options: SanitizeOptions): string | undefined {
  const v = decodeEntities(value).trim();
  const cid = /^cid:(.+)$/i.exec(v);
  if (cid) {
    const resolved = options.resolveCid?.(decodeURIComponentSafe(cid[1]!));
    return resolved && DATA_IMAGE_RE.test(resolved) && resolved.length <= MAX_DATA_IMAGE ? resolved : undefined;
  }
  return DATA_IMAGE_RE.test(v) && v.length <= MAX_DATA_IMAGE ? v.replace(/\s+/g, '') : undefined;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** CSS functions and at-rules that load or run something. */
const CSS_DANGER = /(?:url|image|image-set|-webkit-image-set|cross-fade|element|expression|paint|src|attr|env|var)\s*\(|@import|@font-face|@namespace|behavior|binding|javascript:|vbscript:|[<>\\]/i;

function stripCssComments(css: string): string {
  return css.replace(/\/\*[\s\S]*?(?:\*\/|$)/g, ' ');
}

/** An inline style attribute: declarations kept one by one, any with a risky value dropped. */
export function sanitizeStyleAttribute(style: string): string | undefined {
  const css = stripCssComments(decodeEntities(style));
  if (css.includes('\\')) return undefined;
  const kept: string[] = [];
  for (const decl of css.split(';')) {
    const colon = decl.indexOf(':');
    if (colon < 0) continue;
    const prop = decl.slice(0, colon).trim().toLowerCase();
    const value = decl.slice(colon + 1).trim();
    if (!/^-?[a-z][a-z-]{0,40}$/.test(prop) || value === '' || value.length > 500) continue;
    if (CSS_DANGER.test(value) || /[{}"]/.test(value)) continue;
    kept.push(`${prop}: ${value}`);
  }
  return kept.length ? kept.join('; ') : undefined;
}

/** A <style> block: comments, escapes and loading constructs removed; never contains '<'. */
export function sanitizeStylesheet(css: string): string {
  let s = stripCssComments(css);
  if (s.includes('\\')) return '';
  s = s.replace(/@(?:import|namespace)[^;{]*;?/gi, '');
  s = s.replace(/@font-face\s*\{[^}]*\}?/gi, '');
  // a loading or scripting function makes its declaration invalid: the browser drops it
  s = s.replace(/(?:url|image|image-set|-webkit-image-set|cross-fade|element|expression|paint|src)\s*\(/gi, 'blocked(');
  s = s.replace(/javascript:|vbscript:|behavior|binding/gi, 'blocked');
  return s.replace(/</g, '');
}

// ------------------------------------------------------------------------------------------
// Tokenizer and serializer
// ------------------------------------------------------------------------------------------

interface Attr {
  name: string;
  value: string;
}

function parseAttributes(s: string): Attr[] {
  const attrs: Attr[] = [];
  const re = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
  for (const m of s.matchAll(re)) {
    attrs.push({ name: m[1]!.toLowerCase(), value: m[2] ?? m[3] ?? m[4] ?? '' });
  }
  return attrs;
}

/** Finds the end of a tag starting at `i` (index of '<'): the '>' outside quotes, or -1. */
function tagEnd(html: string, i: number): number {
  let q: string | undefined;
  for (let j = i + 1; j < html.length; j++) {
    const c = html[j];
    if (q) {
      if (c === q) q = undefined;
    } else if (c === '"' || c === "'") {
      // quotes only count inside attribute values (after '=')
      let k = j - 1;
      while (k > i && /\s/.test(html[k]!)) k--;
      if (html[k] === '=') q = c;
    } else if (c === '>') return j;
  }
  return -1;
}

export function sanitizeHtml(html: string, options: SanitizeOptions = {}): SanitizedHtml {
  const out: string[] = [];
  const styles: string[] = [];
  const removed = { scripts: 0, remoteImages: 0, forms: 0, handlers: 0, urls: 0 };
  const stack: string[] = [];
  let i = 0;
  const n = html.length;

  const text = (s: string): void => {
    if (s) out.push(escapeText(s));
  };

  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      text(html.slice(i));
      break;
    }
    text(html.slice(i, lt));
    i = lt;
    // comments, doctype, processing instructions, CDATA: dropped
    if (html.startsWith('<!--', i)) {
      const end = html.indexOf('-->', i + 4);
      i = end < 0 ? n : end + 3;
      continue;
    }
    if (html[i + 1] === '!' || html[i + 1] === '?') {
      const end = html.indexOf('>', i + 2);
      i = end < 0 ? n : end + 1;
      continue;
    }
    const m = /^<(\/?)([A-Za-z][A-Za-z0-9:-]*)/.exec(html.slice(i, i + 64));
    if (!m) {
      text('<');
      i++;
      continue;
    }
    const end = tagEnd(html, i);
    if (end < 0) {
      // an unterminated tag: the rest is not markup
      i = n;
      break;
    }
    const closing = m[1] === '/';
    const name = m[2]!.toLowerCase();
    const rest = html.slice(i + m[0].length, end);
    i = end + 1;

    if (closing) {
      const at = stack.lastIndexOf(name);
      if (at >= 0) {
        while (stack.length > at) out.push(`</${stack.pop()}>`);
      }
      continue;
    }

    if (RAW_TEXT.has(name) || name === 'plaintext') {
      // content runs to the matching end tag (plaintext: to the end)
      let contentEnd = n;
      let after = n;
      if (name !== 'plaintext') {
        const close = new RegExp(`</${name}(?=[\\s/>])`, 'ig');
        close.lastIndex = i;
        const cm = close.exec(html);
        if (cm) {
          contentEnd = cm.index;
          const gt = html.indexOf('>', cm.index);
          after = gt < 0 ? n : gt + 1;
        }
      }
      const content = html.slice(i, contentEnd);
      i = after;
      if (name === 'style') {
        const css = sanitizeStylesheet(content);
        if (css.trim()) styles.push(css);
      } else if (name === 'plaintext') {
        text(content);
      } else {
        if (name === 'script') removed.scripts++;
        if (name === 'textarea') removed.forms++;
      }
      continue;
    }

    if (DROP_CONTENT.has(name)) {
      if (name === 'select' || name === 'option' || name === 'optgroup' || name === 'datalist') removed.forms++;
      // skip to the matching end tag, counting nested ones of the same name
      const re = new RegExp(`<(/?)${name}(?=[\\s/>])[^>]*>`, 'ig');
      re.lastIndex = i;
      let depth = 1;
      let mm: RegExpExecArray | null;
      while (depth > 0 && (mm = re.exec(html))) depth += mm[1] === '/' ? -1 : 1;
      i = depth > 0 ? n : re.lastIndex;
      continue;
    }

    const attrs = parseAttributes(rest);
    for (const a of attrs) if (a.name.startsWith('on')) removed.handlers++;
    if (name === 'form' || name === 'input' || name === 'button' || name === 'fieldset' || name === 'legend' || name === 'label' || name === 'keygen' || name === 'output') {
      removed.forms++;
      continue;
    }
    if (!ALLOWED.has(name)) continue;

    const kept: string[] = [];
    const allowed = TAG_ATTRS[name];
    const seen = new Set<string>();
    let imgSrc: string | undefined;
    let alt = '';
    for (const a of attrs) {
      if (seen.has(a.name)) continue;
      seen.add(a.name);
      if (!(GLOBAL_ATTRS.has(a.name) || allowed?.has(a.name))) continue;
      if (a.name === 'href') {
        const link = safeLink(a.value);
        if (link === undefined) removed.urls++;
        else kept.push(`href="${escapeHtml(link)}"`);
        continue;
      }
      if (a.name === 'src') {
        imgSrc = safeImage(a.value, options);
        if (imgSrc === undefined) removed.remoteImages++;
        continue;
      }
      if (a.name === 'alt') {
        alt = decodeEntities(a.value).slice(0, 300);
        continue;
      }
      if (a.name === 'style') {
        const css = sanitizeStyleAttribute(a.value);
        if (css) kept.push(`style="${escapeHtml(css)}"`);
        continue;
      }
      const v = decodeEntities(a.value);
      if (v.length > MAX_ATTR) continue;
      kept.push(`${a.name}="${escapeHtml(v)}"`);
    }
    if (name === 'img') {
      if (imgSrc === undefined) {
        // a blocked (remote or unsupported) image: its description instead
        if (alt.trim()) text(`[${alt.trim()}]`);
        continue;
      }
      kept.unshift(`src="${escapeHtml(imgSrc)}"`);
      if (alt) kept.push(`alt="${escapeHtml(alt)}"`);
    }
    if (name === 'a' && kept.some((k) => k.startsWith('href='))) kept.push('target="_blank"', 'rel="noopener noreferrer"');

    out.push(`<${name}${kept.length ? ' ' + kept.join(' ') : ''}>`);
    if (!VOID.has(name)) stack.push(name);
  }
  while (stack.length) out.push(`</${stack.pop()}>`);
  return { body: out.join(''), styles, removed };
}

/** The complete document served in the sandboxed frame. */
export function sanitizedDocument(html: string, options: SanitizeOptions = {}): { document: string; removed: SanitizedHtml['removed'] } {
  const s = sanitizeHtml(html, options);
  const base = 'body{margin:8px;font-family:system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans JP",Meiryo,sans-serif;overflow-wrap:anywhere}img{max-width:100%;height:auto}';
  const document =
    '<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">' +
    `<style>${base}</style>` +
    s.styles.map((css) => `<style>${css}</style>`).join('') +
    `</head><body>${s.body}</body></html>`;
  return { document, removed: s.removed };
}
