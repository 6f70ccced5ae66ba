/** Admin console styles, served at /admin/assets/admin.css on top of /assets/app.css (no inline style: CSP). */
export const ADMIN_CSS = `
body.admin header.site .bar, body.admin main, body.admin footer.site { max-width: 76rem; }
body.admin header.site .bar { gap: 1.5rem; flex-wrap: wrap; }
body.admin nav.admin { display: flex; gap: 1.25rem; flex: 1; flex-wrap: wrap; }
body.admin nav.admin a { text-decoration: none; padding: .2rem 0; border-bottom: 3px solid transparent; }
body.admin nav.admin a[aria-current="page"] { border-color: var(--accent); color: var(--fg); font-weight: 600; }
body.admin .who { display: flex; align-items: center; gap: .75rem; color: var(--muted); font-size: .92rem; }
body.admin .who form { margin: 0; }
body.admin .who button { margin: 0; padding: .3rem .8rem; background: #e7eef7; color: var(--accent); }
body.admin .narrow { max-width: 28rem; }
form.filters { display: flex; flex-wrap: wrap; gap: .75rem 1rem; align-items: flex-end; }
form.filters label { margin: 0 0 .2rem; font-size: .9rem; }
form.filters .field { display: flex; flex-direction: column; }
form.filters input[type=text] { width: 16rem; }
form.filters button { margin-top: 0; }
form.filters input[type=text], form.filters select { height: 2.6rem; padding-top: 0; padding-bottom: 0; }
form.filters > a { align-self: center; margin-top: 1.4rem; }
select { font: inherit; padding: .5rem .6rem; border: 1px solid #9aa5b4; border-radius: 6px; background: #fff; }
table.list { width: 100%; border-collapse: collapse; background: var(--card); font-size: .93rem; }
table.list th, table.list td { text-align: left; padding: .5rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
table.list th { background: #eef1f5; font-weight: 600; white-space: nowrap; }
table.list th a { color: var(--fg); }
table.list td.mono, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .85rem; word-break: break-all; }
table.list tr:hover td { background: #f8fafc; }
.badge { display: inline-block; border-radius: 999px; padding: 0 .55rem; font-size: .8rem; font-weight: 600; background: #e7eef7; color: var(--accent); }
.badge.active, .badge.pending { background: var(--ok-bg); color: var(--ok); }
.badge.revoked, .badge.locked, .badge.expired, .badge.broken { background: var(--err-bg); color: var(--err); }
.badge.superseded { background: #eef1f5; color: var(--muted); }
.pager { display: flex; gap: 1rem; align-items: center; margin: 1rem 0; color: var(--muted); }
.pager a[aria-current="page"] { color: var(--fg); font-weight: 600; text-decoration: none; border-bottom: 3px solid var(--accent); }
table.list td.action { white-space: nowrap; word-break: normal; }
.count { color: var(--muted); margin: .5rem 0; }
.secret { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 1.15rem; letter-spacing: .08em; word-break: break-all; background: #f7f8fa; padding: .6rem .8rem; border-radius: 6px; }
.uri { word-break: break-all; font-size: .85rem; }
.danger button { background: var(--err); }
.ext dd ul { margin: 0; padding-left: 1.1rem; }
.chain { padding: .6rem .8rem; border-radius: 6px; margin: .75rem 0; }
.chain.ok { background: var(--ok-bg); color: var(--ok); }
.chain.broken { background: var(--err-bg); color: var(--err); }
details.json pre { white-space: pre-wrap; word-break: break-all; margin: .3rem 0 0; font-size: .8rem; }
label.check { display: flex; gap: .5rem; align-items: center; font-weight: 400; }
`;
