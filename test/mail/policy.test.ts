/** Policy inheritance (global -> domain -> address), scopes, subject triggers: pure functions. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CachedPolicies, parseEncryptMode, parseScope, parseSwitch, resolvePolicy, resolvePolicyCached, type PolicyRule } from '../../src/mail/policy.js';
import { removeTriggers } from '../../src/mail/header.js';
import { AppError } from '../../src/shared/errors.js';

function rules(...rows: Array<Partial<PolicyRule> & { scope: string }>): Map<string, PolicyRule> {
  return new Map(rows.map((r) => [r.scope, { encryptMode: null, sign: null, fallbackLink: null, ...r }]));
}

describe('resolvePolicy', () => {
  const cases: Array<{ name: string; rules: Map<string, PolicyRule>; from: string; to: string; want: { encryptMode: string; sign: boolean; fallbackLink: boolean }; modeFrom?: string }> = [
    { name: 'built-in defaults without rows', rules: rules(), from: 'a@corp.test', to: 'b@ext.test', want: { encryptMode: 'opportunistic', sign: true, fallbackLink: false }, modeFrom: 'default' },
    {
      name: 'global applies to everyone',
      rules: rules({ scope: 'global', encryptMode: 'mandatory', sign: false, fallbackLink: true }),
      from: 'a@corp.test',
      to: 'b@ext.test',
      want: { encryptMode: 'mandatory', sign: false, fallbackLink: true },
      modeFrom: 'global',
    },
    {
      name: 'recipient domain overrides global, address overrides domain',
      rules: rules({ scope: 'global', encryptMode: 'opportunistic' }, { scope: 'domain:ext.test', encryptMode: 'mandatory' }, { scope: 'address:b@ext.test', encryptMode: 'none' }),
      from: 'a@corp.test',
      to: 'b@ext.test',
      want: { encryptMode: 'none', sign: true, fallbackLink: false },
      modeFrom: 'address:b@ext.test',
    },
    {
      name: 'a null field inherits from the wider scope',
      rules: rules({ scope: 'global', fallbackLink: true }, { scope: 'domain:ext.test', encryptMode: 'mandatory', fallbackLink: null }),
      from: 'a@corp.test',
      to: 'c@ext.test',
      want: { encryptMode: 'mandatory', sign: true, fallbackLink: true },
      modeFrom: 'domain:ext.test',
    },
    {
      name: 'domain match is case-insensitive',
      rules: rules({ scope: 'domain:ext.test', encryptMode: 'mandatory' }),
      from: 'a@corp.test',
      to: 'B@EXT.Test',
      want: { encryptMode: 'mandatory', sign: true, fallbackLink: false },
    },
    {
      name: 'a sender set to mandatory makes it stricter',
      rules: rules({ scope: 'global', encryptMode: 'opportunistic' }, { scope: 'address:legal@corp.test', encryptMode: 'mandatory' }),
      from: 'legal@corp.test',
      to: 'b@ext.test',
      want: { encryptMode: 'mandatory', sign: true, fallbackLink: false },
      modeFrom: 'address:legal@corp.test (sender)',
    },
    {
      name: "a sender's none cannot lower the recipient's mode",
      rules: rules({ scope: 'domain:ext.test', encryptMode: 'mandatory' }, { scope: 'domain:corp.test', encryptMode: 'none' }),
      from: 'a@corp.test',
      to: 'b@ext.test',
      want: { encryptMode: 'mandatory', sign: true, fallbackLink: false },
    },
    {
      name: 'sign follows the sender: global -> sender domain -> sender address',
      rules: rules({ scope: 'global', sign: false }, { scope: 'domain:corp.test', sign: true }, { scope: 'address:noreply@corp.test', sign: false }, { scope: 'domain:ext.test', sign: false }),
      from: 'a@corp.test',
      to: 'b@ext.test',
      want: { encryptMode: 'opportunistic', sign: true, fallbackLink: false },
    },
    {
      name: 'sign off for one sender address',
      rules: rules({ scope: 'domain:corp.test', sign: true }, { scope: 'address:noreply@corp.test', sign: false }),
      from: 'noreply@corp.test',
      to: 'b@ext.test',
      want: { encryptMode: 'opportunistic', sign: false, fallbackLink: false },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = resolvePolicy(c.rules, c.from, c.to);
      assert.deepEqual({ encryptMode: p.encryptMode, sign: p.sign, fallbackLink: p.fallbackLink }, c.want);
      if (c.modeFrom) assert.equal(p.from.encryptMode, c.modeFrom);
      // the worker's cached form answers the same, every time
      for (let i = 0; i < 2; i++) assert.deepEqual(resolvePolicyCached(c.rules, c.from, c.to), p);
    });
  }

  it('the cached form is per snapshot: a re-read table (a new Map) is resolved afresh; answers are frozen', () => {
    const first = rules({ scope: 'domain:ext.test', encryptMode: 'mandatory' });
    const a = resolvePolicyCached(first, 'a@corp.test', 'b@ext.test');
    assert.equal(a.encryptMode, 'mandatory');
    assert.equal(resolvePolicyCached(first, 'a@corp.test', 'b@ext.test'), a, 'reused within the snapshot');
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a.from));
    const second = rules({ scope: 'domain:ext.test', encryptMode: 'none' });
    assert.equal(resolvePolicyCached(second, 'a@corp.test', 'b@ext.test').encryptMode, 'none');
    assert.equal(resolvePolicyCached(first, 'a@corp.test', 'c@ext.test').encryptMode, 'mandatory');
  });
});

describe('policy scopes and values', () => {
  it('parses what an administrator types', () => {
    assert.equal(parseScope('global'), 'global');
    assert.equal(parseScope('GLOBAL'), 'global');
    assert.equal(parseScope('Example.COM'), 'domain:example.com');
    assert.equal(parseScope('domain:example.com.'), 'domain:example.com');
    assert.equal(parseScope('Alice@Example.COM'), 'address:Alice@example.com');
    assert.equal(parseScope('address:bob@x.test'), 'address:bob@x.test');
    for (const bad of ['', 'not a domain', 'a@', '@x.test', 'domain:a@b', 'a b@c.test']) {
      assert.throws(() => parseScope(bad), (e: unknown) => e instanceof AppError && e.code === 'policy.bad_scope', bad);
    }
  });

  it('parses on/off/inherit and modes', () => {
    assert.equal(parseSwitch('--sign', 'on'), true);
    assert.equal(parseSwitch('--sign', 'OFF'), false);
    assert.equal(parseSwitch('--sign', 'inherit'), null);
    assert.equal(parseSwitch('--sign', undefined), undefined);
    assert.throws(() => parseSwitch('--sign', 'maybe'), /--sign must be on, off or inherit, got 'maybe'/);
    assert.equal(parseEncryptMode('Mandatory'), 'mandatory');
    assert.equal(parseEncryptMode('inherit'), null);
    assert.throws(() => parseEncryptMode('always'), /encrypt mode must be one of none, opportunistic, mandatory or inherit/);
  });

  it('the worker reads the table again after the refresh interval, and a failed read is an error, not the defaults', async () => {
    let now = 0;
    let calls = 0;
    let fail = false;
    const store = {
      async all(): Promise<PolicyRule[]> {
        calls++;
        if (fail) throw new Error('database down');
        return [{ scope: 'global', encryptMode: 'mandatory', sign: null, fallbackLink: null }];
      },
    };
    const cache = new CachedPolicies(store, { refreshMs: 1000, now: () => now });
    assert.equal(cache.current(), undefined, 'nothing read yet');
    assert.equal((await cache.rules()).get('global')?.encryptMode, 'mandatory');
    now = 999;
    await cache.rules();
    assert.equal(calls, 1);
    assert.equal(cache.current()?.get('global')?.encryptMode, 'mandatory', 'fresh: had without waiting');
    now = 1000;
    assert.equal(cache.current(), undefined, 'stale: must be read again');
    fail = true;
    await assert.rejects(cache.rules(), /database down/);
    assert.equal(calls, 2);
    assert.equal(cache.current(), undefined, 'a failed read leaves nothing fresh');
  });
});

describe('subject triggers', () => {
  const triggers = ['[secure]', '[暗号化]'];
  const cases: Array<[string, string[], string]> = [
    ['[secure] Quarterly report', ['[secure]'], 'Quarterly report'],
    ['Quarterly report [SECURE]', ['[secure]'], 'Quarterly report'],
    ['Quarterly [secure] report', ['[secure]'], 'Quarterly report'],
    ['【至急】[暗号化]見積書の送付', ['[暗号化]'], '【至急】 見積書の送付'],
    ['[暗号化] [secure] both', ['[secure]', '[暗号化]'], 'both'],
    ['no trigger here', [], 'no trigger here'],
    ['[secure]', ['[secure]'], ''],
    ['secure without brackets', [], 'secure without brackets'],
  ];
  for (const [subject, found, rest] of cases) {
    it(JSON.stringify(subject), () => {
      const r = removeTriggers(subject, triggers);
      assert.deepEqual(r.found.sort(), [...found].sort());
      assert.equal(r.subject, rest);
    });
  }
  it('gives the same answers when the cases are run again, in reverse order (the patterns are reused)', () => {
    for (const [subject, found, rest] of [...cases].reverse()) {
      const r = removeTriggers(subject, triggers);
      assert.deepEqual(r.found.sort(), [...found].sort(), subject);
      assert.equal(r.subject, rest, subject);
    }
    // a long subject with the trigger late, then a short one: nothing of the first match carries over
    assert.deepEqual(removeTriggers(`${'x'.repeat(50)} [secure]`, triggers).found, ['[secure]']);
    assert.deepEqual(removeTriggers('[secure] a', triggers), { found: ['[secure]'], subject: 'a' });
  });
});
