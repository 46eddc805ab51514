// The HTML of the sign-in, consent and device-code pages: plain forms, no scripts, no external
// assets, so a browser can use them and a test can submit them with a single POST.
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `body{font-family:Segoe UI,system-ui,sans-serif;background:#f2f2f2;margin:0}
main{max-width:440px;margin:48px auto;background:#fff;padding:32px 40px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:22px;font-weight:600;margin:0 0 16px}label{display:block;margin:12px 0 4px}
input[type=text],input[type=email],input[type=password]{width:100%;padding:6px;box-sizing:border-box}
.error{color:#a80000;margin:8px 0}.note{color:#555;font-size:13px}button{margin:16px 8px 0 0;padding:6px 20px}
.sandbox{font-size:12px;color:#777;margin-top:24px}`;

export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>${body}<p class="sandbox">relay365 sandbox: a local stand-in for Microsoft Entra ID.</p></main></body></html>`;
}

export interface SignInFormModel {
  /** Where the form posts. */
  action: string;
  /** Hidden fields carried through the post (flow id). */
  hidden: Record<string, string>;
  appName: string;
  /** Permissions the app asks for, shown for consent. */
  permissions: string[];
  login?: string;
  /** Show a field for the device code. */
  askCode?: boolean;
  code?: string;
  error?: string;
}

/** Sign in + consent in one form: mailbox, password, MFA approval, Accept or Cancel. */
export function signInForm(m: SignInFormModel): string {
  const hidden = Object.entries(m.hidden).map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('');
  const code = m.askCode ? `<label for="code">Code</label><input type="text" id="code" name="code" value="${escapeHtml(m.code ?? '')}" autocomplete="off">` : '';
  const perms = m.permissions.map((p) => `<li>${escapeHtml(p)}</li>`).join('');
  return page(
    'Sign in to your account',
    `<h1>Sign in</h1>
<p><b>${escapeHtml(m.appName)}</b> wants to sign you in${perms ? ' and asks for these permissions:' : '.'}</p>${perms ? `<ul>${perms}</ul>` : ''}
${m.error ? `<p class="error" role="alert">${escapeHtml(m.error)}</p>` : ''}
<form method="post" action="${escapeHtml(m.action)}">${hidden}${code}
<label for="login">Email</label><input type="email" id="login" name="login" value="${escapeHtml(m.login ?? '')}" autocomplete="username">
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password">
<label><input type="checkbox" name="mfa" value="approve"> I approved the sign-in request in my authenticator app (MFA)</label>
<button type="submit" name="action" value="accept">Accept</button><button type="submit" name="action" value="decline">Cancel</button>
</form>`,
  );
}

export function messagePage(title: string, text: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>`);
}
