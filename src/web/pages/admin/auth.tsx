/** Sign-in, TOTP enrollment and TOTP verification pages, and the page shown for a refusal. */
import { AdminLayout, CsrfField, type AdminUserInfo } from './layout.js';

function ErrorNote(p: { message: string | undefined }) {
  return p.message ? (
    <p class="error" role="alert">
      {p.message}
    </p>
  ) : null;
}

export function LoginPage(p: { csrfToken: string; username?: string; error?: string }) {
  return (
    <AdminLayout title="Sign in">
      <div class="narrow">
        <h1>Sign in</h1>
        <p class="lead">Administrators and auditors sign in with their e-mail address, password and an authenticator app.</p>
        <ErrorNote message={p.error} />
        <form method="post" action="/admin/login" class="card">
          <CsrfField token={p.csrfToken} />
          <label for="username">E-mail address</label>
          <input id="username" name="username" type="email" autocomplete="username" required value={p.username ?? ''} />
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required />
          <button type="submit">Continue</button>
        </form>
      </div>
    </AdminLayout>
  );
}

export function TotpSetupPage(p: { csrfToken: string; username: string; secret: string; uri: string; error?: string }) {
  return (
    <AdminLayout title="Set up your authenticator">
      <div class="narrow">
        <h1>Set up your authenticator</h1>
        <p class="lead">This is your first sign-in as {p.username}. Add this account to an authenticator app (for example FreeOTP, Google Authenticator or 1Password), then enter the 6-digit code it shows.</p>
        <ErrorNote message={p.error} />
        <div class="card">
          <h2>Secret key</h2>
          <p class="secret" id="totp-secret">
            {p.secret.replace(/(.{4})/g, '$1 ').trim()}
          </p>
          <p class="help">Type: time-based, SHA-1, 6 digits, every 30 seconds.</p>
          <p class="help">
            Or open this link on the device with the app: <a class="uri" href={p.uri}>{p.uri}</a>
          </p>
        </div>
        <form method="post" action="/admin/totp" class="card">
          <CsrfField token={p.csrfToken} />
          <label for="code">Code from the app</label>
          <input id="code" name="code" type="text" class="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength={7} required />
          <button type="submit">Confirm and sign in</button>
        </form>
      </div>
    </AdminLayout>
  );
}

export function TotpVerifyPage(p: { csrfToken: string; username: string; error?: string }) {
  return (
    <AdminLayout title="Authenticator code">
      <div class="narrow">
        <h1>Authenticator code</h1>
        <p class="lead">Enter the 6-digit code your authenticator app shows for {p.username}.</p>
        <ErrorNote message={p.error} />
        <form method="post" action="/admin/totp" class="card">
          <CsrfField token={p.csrfToken} />
          <label for="code">Code</label>
          <input id="code" name="code" type="text" class="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength={7} required autofocus />
          <button type="submit">Sign in</button>
        </form>
        <form method="post" action="/admin/logout">
          <CsrfField token={p.csrfToken} />
          <button type="submit" class="link">
            Cancel
          </button>
        </form>
      </div>
    </AdminLayout>
  );
}

/** A refusal (401, 403, 404, 409, 429...) as a page a person can act on. */
export function RefusalPage(p: { title: string; message: string; user?: AdminUserInfo; next?: { href: string; label: string } }) {
  return (
    <AdminLayout title={p.title} user={p.user}>
      <h1>{p.title}</h1>
      <p class="error" role="alert">
        {p.message}
      </p>
      <p>
        <a href={p.next?.href ?? (p.user ? '/admin/certificates' : '/admin/login')}>{p.next?.label ?? (p.user ? 'Back to the certificates' : 'Sign in')}</a>
      </p>
    </AdminLayout>
  );
}
