/** The sign-in form: a tenant read or admin key, checked against the API before it is kept. */
import { ApiClient, ApiError } from '../api-client.js';
import { h, replace } from '../dom.js';
import { storeKey } from '../session.js';

export function showSignIn(main: HTMLElement, signedIn: () => void): () => void {
  const input = h('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'api-key-help' });
  const error = h('p', { id: 'sign-in-error', class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'panel sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title', tabindex: '-1' }, 'Sign in'),
    h('label', { for: 'api-key' }, 'API key (scope read or admin)'),
    input,
    h('p', { id: 'api-key-help', class: 'help' }, 'The key stays in this tab only and is forgotten when the tab closes.'),
    submit,
    error,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (key === '') return;
    submit.disabled = true;
    error.textContent = '';
    const probe = new ApiClient(key, () => undefined);
    probe
      .get('/v1/agents', { limit: '1' })
      .then(() => {
        storeKey(key);
        // A new fragment renders through hashchange; otherwise render the view asked for now.
        if (location.hash === '' || location.hash === '#/') location.hash = '#/agents';
        else signedIn();
      })
      .catch((err: unknown) => {
        error.textContent =
          err instanceof ApiError && err.status === 401
            ? 'This key is not known to the receiver.'
            : err instanceof ApiError && err.status === 403
              ? 'This key cannot read (it needs the read or admin scope).'
              : err instanceof Error
                ? err.message
                : 'Sign-in failed.';
        submit.disabled = false;
        input.focus();
      });
  });
  replace(main, form);
  input.focus();
  return () => undefined;
}
