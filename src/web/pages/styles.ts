/** The stylesheet of every page, served at /assets/app.css (the CSP allows no inline style). */
export const APP_CSS = `
:root {
  --fg: #1c2430; --muted: #5a6676; --bg: #f4f6f9; --card: #ffffff; --line: #d9dee6;
  --accent: #0b5cad; --accent-fg: #ffffff; --ok: #1d7a3e; --ok-bg: #e8f5ec; --err: #a61b1b; --err-bg: #fdecec;
  font-family: system-ui, -apple-system, "Segoe UI", "Hiragino Sans", "Hiragino Kaku Gothic ProN", "Noto Sans JP", "Yu Gothic UI", Meiryo, sans-serif;
  color: var(--fg); background: var(--bg); line-height: 1.6;
}
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--accent); }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--card); padding: .5rem; }
header.site { background: var(--card); border-bottom: 1px solid var(--line); }
header.site .bar, main, footer.site { max-width: 44rem; margin: 0 auto; padding: 0 1.25rem; }
header.site .bar { display: flex; align-items: center; justify-content: space-between; min-height: 3.5rem; }
header.site .name { font-weight: 700; color: var(--fg); text-decoration: none; }
header.site .lang { font-size: .95rem; }
main { padding-top: 1.5rem; padding-bottom: 2rem; }
h1 { font-size: 1.6rem; line-height: 1.3; margin: .5rem 0 .75rem; }
h2 { font-size: 1.2rem; margin: 0 0 .75rem; }
.lead { color: var(--muted); margin-top: 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 1.25rem 1.5rem; margin: 1rem 0; }
ol.steps { display: flex; gap: .5rem; list-style: none; padding: 0; margin: 1rem 0; counter-reset: step; flex-wrap: wrap; }
ol.steps li { flex: 1 1 8rem; padding: .4rem .6rem; border-bottom: 3px solid var(--line); color: var(--muted); font-size: .92rem; counter-increment: step; }
ol.steps li::before { content: counter(step) ". "; }
ol.steps li[aria-current="step"] { border-color: var(--accent); color: var(--fg); font-weight: 600; }
ol.steps li.done { border-color: var(--ok); }
label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
input[type=email], input[type=text], input[type=password] {
  width: 100%; font: inherit; padding: .55rem .7rem; border: 1px solid #9aa5b4; border-radius: 6px; background: #fff;
}
input:focus, button:focus, a:focus { outline: 3px solid #8cbcf0; outline-offset: 1px; }
input.code { text-transform: uppercase; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; letter-spacing: .05em; }
.help { color: var(--muted); font-size: .92rem; margin: .3rem 0 0; }
button, a.button {
  display: inline-block; font: inherit; font-weight: 600; border: 0; border-radius: 6px; padding: .6rem 1.1rem; margin-top: 1rem;
  background: var(--accent); color: var(--accent-fg); cursor: pointer; text-decoration: none;
}
button[disabled] { opacity: .6; cursor: progress; }
button.link { background: none; color: var(--accent); padding: 0; font-weight: 400; text-decoration: underline; margin-left: 1rem; }
a.button.secondary { background: #e7eef7; color: var(--accent); }
.status { min-height: 1.6rem; color: var(--muted); margin: .75rem 0 0; }
.error { background: var(--err-bg); color: var(--err); border-radius: 6px; padding: .6rem .8rem; margin: .75rem 0 0; }
.notice { background: var(--ok-bg); color: var(--ok); border-radius: 6px; padding: .6rem .8rem; }
.downloads { list-style: none; padding: 0; margin: 0; }
.downloads li { border-top: 1px solid var(--line); padding: .75rem 0; }
.downloads li:first-child { border-top: 0; }
.downloads .help { margin-top: .1rem; }
.downloads a.button { margin-top: 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-all; }
.guide ol { padding-left: 1.4rem; }
.guide li { margin: .3rem 0; }
.guide nav ul { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; list-style: none; padding: 0; }
.mail { border-top: 1px solid var(--line); padding: .75rem 0; }
.mail pre { white-space: pre-wrap; word-break: break-all; background: #f7f8fa; padding: .6rem; border-radius: 6px; }
footer.site { color: var(--muted); font-size: .88rem; padding-bottom: 2rem; }
[hidden] { display: none !important; }
`;
