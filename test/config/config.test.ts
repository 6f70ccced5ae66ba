import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEV_ADMIN_SECRET_KEY, DEV_CA_KEY_PASSPHRASE, formatListenAddress, loadConfig, redactUrl, type Env } from '../../src/config/index.js';
import { AppError } from '../../src/shared/errors.js';

/** Asserts that loadConfig(env) throws config.invalid naming `variable`, with a message matching `re`. */
function assertInvalid(env: Env, variable: string, re: RegExp): AppError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof AppError, `expected an AppError, got ${String(caught)}`);
  assert.equal(caught.code, 'config.invalid');
  assert.equal(caught.status, 400);
  assert.match(caught.message, re);
  assert.ok(caught.message.includes(variable), `message should name ${variable}: ${caught.message}`);
  const problems = caught.detail?.problems as { variable: string; message: string }[];
  assert.ok(problems.some((p) => p.variable === variable), `detail.problems should name ${variable}`);
  return caught;
}

describe('loadConfig: defaults', () => {
  it('applies embedded defaults to an empty environment', () => {
    const c = loadConfig({});
    assert.equal(c.nodeEnv, 'development');
    assert.equal(c.dataDir, './data');
    assert.deepEqual(c.database, { kind: 'pglite', dataDir: './data/pglite' });
    assert.deepEqual(c.httpListen, { host: '127.0.0.1', port: 8080 });
    assert.equal(c.publicUrl, 'http://127.0.0.1:8080');
    assert.deepEqual(c.filterListen, { host: '127.0.0.1', port: 10025 });
    assert.equal(c.reinjectSmtpUrl, 'smtp://127.0.0.1:10026');
    assert.equal(c.notifySmtpUrl, undefined);
    assert.equal(c.caKeyPassphrase, DEV_CA_KEY_PASSPHRASE);
    assert.equal(c.caKeyPassphraseIsDevDefault, true);
    assert.equal(c.adminSecretKey, DEV_ADMIN_SECRET_KEY);
    assert.equal(c.adminSecretKeyIsDevDefault, true);
    assert.equal(c.logLevel, 'info');
  });

  it('treats empty strings as unset', () => {
    const c = loadConfig({ DATABASE_URL: '', HTTP_LISTEN: '  ', NOTIFY_SMTP_URL: '', NODE_ENV: '' });
    assert.equal(c.database.kind, 'pglite');
    assert.deepEqual(c.httpListen, { host: '127.0.0.1', port: 8080 });
    assert.equal(c.notifySmtpUrl, undefined);
    assert.equal(c.nodeEnv, 'development');
  });

  it('puts PGlite under DATA_DIR and strips trailing slashes', () => {
    assert.deepEqual(loadConfig({ DATA_DIR: '/var/lib/smimegw/' }).database, {
      kind: 'pglite',
      dataDir: '/var/lib/smimegw/pglite',
    });
    assert.equal(loadConfig({ DATA_DIR: '/var/lib/smimegw//' }).dataDir, '/var/lib/smimegw');
  });

  it('returns a frozen object', () => {
    const c = loadConfig({});
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.httpListen));
  });

  it('reads process.env when called without an argument', () => {
    const c = loadConfig();
    assert.ok(['development', 'production', 'test'].includes(c.nodeEnv));
  });
});

describe('loadConfig: valid values', () => {
  it('accepts a full production configuration', () => {
    const c = loadConfig({
      NODE_ENV: 'production',
      DATA_DIR: '/srv/gw',
      DATABASE_URL: 'postgresql://gw:secret@db.internal:5432/gw',
      HTTP_LISTEN: '0.0.0.0:443',
      PUBLIC_URL: 'https://smime.example.com/',
      FILTER_LISTEN: '[::1]:10025',
      REINJECT_SMTP_URL: 'smtp://localhost:10026',
      NOTIFY_SMTP_URL: 'smtps://mailer:pw@mail.example.com:465',
      CA_KEY_PASSPHRASE: 'correct horse battery staple',
      ADMIN_SECRET_KEY: 'k3Yq9r0cVx1e2Jm4Tn5Lp6Zs7Wd8Ha9Bf0Gu1Qi2Oy=',
      LOG_LEVEL: 'warn',
    });
    assert.equal(c.nodeEnv, 'production');
    assert.equal(c.dataDir, '/srv/gw');
    assert.deepEqual(c.database, { kind: 'postgres', url: 'postgresql://gw:secret@db.internal:5432/gw' });
    assert.deepEqual(c.httpListen, { host: '0.0.0.0', port: 443 });
    assert.equal(c.publicUrl, 'https://smime.example.com');
    assert.deepEqual(c.filterListen, { host: '::1', port: 10025 });
    assert.equal(c.reinjectSmtpUrl, 'smtp://localhost:10026');
    assert.equal(c.notifySmtpUrl, 'smtps://mailer:pw@mail.example.com:465');
    assert.equal(c.caKeyPassphrase, 'correct horse battery staple');
    assert.equal(c.caKeyPassphraseIsDevDefault, false);
    assert.equal(c.adminSecretKey, 'k3Yq9r0cVx1e2Jm4Tn5Lp6Zs7Wd8Ha9Bf0Gu1Qi2Oy=');
    assert.equal(c.adminSecretKeyIsDevDefault, false);
    assert.equal(c.logLevel, 'warn');
  });

  it('accepts postgres:// URLs, host names, port 0 and a PUBLIC_URL with a path', () => {
    const c = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:54330/postgres',
      HTTP_LISTEN: 'localhost:0',
      PUBLIC_URL: 'https://example.com/gateway/',
    });
    assert.equal(c.database.kind, 'postgres');
    assert.deepEqual(c.httpListen, { host: 'localhost', port: 0 });
    assert.equal(c.publicUrl, 'https://example.com/gateway');
  });

  it('allows the dev passphrase outside production, and flags it', () => {
    const c = loadConfig({ NODE_ENV: 'test', CA_KEY_PASSPHRASE: DEV_CA_KEY_PASSPHRASE });
    assert.equal(c.caKeyPassphraseIsDevDefault, true);
    assert.equal(loadConfig({ CA_KEY_PASSPHRASE: 'mine' }).caKeyPassphraseIsDevDefault, false);
  });

  it('allows the dev admin secret outside production, and flags it', () => {
    assert.equal(loadConfig({ NODE_ENV: 'test', ADMIN_SECRET_KEY: DEV_ADMIN_SECRET_KEY }).adminSecretKeyIsDevDefault, true);
    const c = loadConfig({ ADMIN_SECRET_KEY: '  ' + 'x'.repeat(32) + ' ' });
    assert.equal(c.adminSecretKey, 'x'.repeat(32));
    assert.equal(c.adminSecretKeyIsDevDefault, false);
  });

  it('formats listen addresses, bracketing IPv6', () => {
    assert.equal(formatListenAddress({ host: '127.0.0.1', port: 8080 }), '127.0.0.1:8080');
    assert.equal(formatListenAddress({ host: '::1', port: 25 }), '[::1]:25');
  });
});

describe('loadConfig: bad values', () => {
  it('rejects an unknown NODE_ENV', () => {
    assertInvalid({ NODE_ENV: 'staging' }, 'NODE_ENV', /NODE_ENV must be one of development\|production\|test, got 'staging'/);
  });

  it('rejects an unknown LOG_LEVEL', () => {
    assertInvalid({ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL', /LOG_LEVEL must be one of debug\|info\|warn\|error, got 'verbose'/);
  });

  it('rejects HTTP_LISTEN without a port', () => {
    const e = assertInvalid({ HTTP_LISTEN: 'abc' }, 'HTTP_LISTEN', /HTTP_LISTEN must be host:port, got 'abc'/);
    assert.deepEqual(e.toJSON().error.code, 'config.invalid');
  });

  it('rejects a listen port out of range or not numeric', () => {
    assertInvalid({ HTTP_LISTEN: '127.0.0.1:70000' }, 'HTTP_LISTEN', /HTTP_LISTEN port must be 0-65535, got '70000'/);
    assertInvalid({ FILTER_LISTEN: '127.0.0.1:smtp' }, 'FILTER_LISTEN', /FILTER_LISTEN must be host:port/);
    assertInvalid({ FILTER_LISTEN: '127.0.0.1:-1' }, 'FILTER_LISTEN', /FILTER_LISTEN must be host:port/);
  });

  it('rejects a listen address with a bad host or an unbracketed IPv6', () => {
    assertInvalid({ HTTP_LISTEN: 'bad_host!:80' }, 'HTTP_LISTEN', /HTTP_LISTEN has an invalid host 'bad_host!'/);
    assertInvalid({ FILTER_LISTEN: '::1:10025' }, 'FILTER_LISTEN', /FILTER_LISTEN must be host:port/);
  });

  it('rejects a DATABASE_URL that is not a postgres URL, without echoing its password', () => {
    assertInvalid({ DATABASE_URL: 'mysql://u:hunter2@db/x' }, 'DATABASE_URL', /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/);
    const e = assertInvalid({ DATABASE_URL: 'mysql://u:hunter2@db/x' }, 'DATABASE_URL', /u:\*\*\*@db/);
    assert.ok(!e.message.includes('hunter2'));
    assertInvalid({ DATABASE_URL: 'not a url' }, 'DATABASE_URL', /got 'not a url'/);
  });

  it('rejects a PUBLIC_URL that is not http(s) or carries a query', () => {
    assertInvalid({ PUBLIC_URL: 'ftp://example.com' }, 'PUBLIC_URL', /PUBLIC_URL must be an http:\/\/ or https:\/\/ URL, got 'ftp:\/\/example.com'/);
    assertInvalid({ PUBLIC_URL: 'example.com' }, 'PUBLIC_URL', /PUBLIC_URL must be an http/);
    assertInvalid({ PUBLIC_URL: 'https://example.com/?a=1' }, 'PUBLIC_URL', /must not contain credentials, a query or a fragment/);
  });

  it('rejects SMTP URLs of the wrong scheme', () => {
    assertInvalid({ REINJECT_SMTP_URL: 'http://127.0.0.1:10026' }, 'REINJECT_SMTP_URL', /REINJECT_SMTP_URL must be an smtp:\/\/ or smtps:\/\/ URL/);
    assertInvalid({ NOTIFY_SMTP_URL: '127.0.0.1:25' }, 'NOTIFY_SMTP_URL', /NOTIFY_SMTP_URL must be an smtp/);
  });

  it('requires CA_KEY_PASSPHRASE in production and refuses the dev default there', () => {
    assertInvalid({ NODE_ENV: 'production' }, 'CA_KEY_PASSPHRASE', /CA_KEY_PASSPHRASE is required when NODE_ENV=production/);
    assertInvalid(
      { NODE_ENV: 'production', CA_KEY_PASSPHRASE: DEV_CA_KEY_PASSPHRASE },
      'CA_KEY_PASSPHRASE',
      /must not be the development default/,
    );
  });

  it('requires ADMIN_SECRET_KEY in production, refuses the dev default there, and a short one anywhere', () => {
    const prod = { NODE_ENV: 'production', CA_KEY_PASSPHRASE: 'correct horse battery staple' };
    assertInvalid(prod, 'ADMIN_SECRET_KEY', /ADMIN_SECRET_KEY is required when NODE_ENV=production/);
    assertInvalid({ ...prod, ADMIN_SECRET_KEY: DEV_ADMIN_SECRET_KEY }, 'ADMIN_SECRET_KEY', /must not be the development default/);
    const e = assertInvalid({ ADMIN_SECRET_KEY: 'short-secret' }, 'ADMIN_SECRET_KEY', /at least 32 characters .*got 12/);
    assert.ok(!e.message.includes('short-secret'), 'the secret itself is never echoed');
  });

  it('reports every problem at once', () => {
    const e = assertInvalid({ HTTP_LISTEN: 'abc', LOG_LEVEL: 'loud' }, 'HTTP_LISTEN', /HTTP_LISTEN/);
    assert.match(e.message, /LOG_LEVEL/);
    const problems = e.detail?.problems as { variable: string }[];
    assert.deepEqual(problems.map((p) => p.variable).sort(), ['HTTP_LISTEN', 'LOG_LEVEL']);
  });
});

describe('redactUrl', () => {
  it('hides passwords and leaves other URLs alone', () => {
    assert.equal(redactUrl('postgres://u:secret@h:5432/db'), 'postgres://u:***@h:5432/db');
    assert.equal(redactUrl('postgres://u@h/db'), 'postgres://u@h/db');
    assert.equal(redactUrl('abc'), 'abc');
  });
});
