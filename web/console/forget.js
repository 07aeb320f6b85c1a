// Forgetting a caller, behind a <dialog> that names them and enables its
// "Forget" button only once the operator has typed that name (the user id
// for a caller without a name): the same confirmation the API checks.
import { post, seg } from './api.js';
import { el, route } from './dom.js';

export function forgetButton(user, userId, ctx) {
  const id = String(user.user_id ?? userId);
  const confirmWith = String(user.name || id);
  const button = el('button', { type: 'button', class: 'danger' }, 'Forget this caller');
  button.addEventListener('click', () => openDialog(id, confirmWith, ctx));
  return button;
}

function openDialog(userId, confirmWith, ctx) {
  const input = el('input', { id: 'forget-confirm', type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const forget = el('button', { type: 'submit', class: 'danger', disabled: true }, 'Forget');
  const cancel = el('button', { type: 'button', class: 'quiet' }, 'Cancel');
  const error = el('p', { class: 'error', role: 'alert' });
  const dialog = el('dialog', { 'aria-labelledby': 'forget-title', 'aria-describedby': 'forget-what' },
    el('form', { method: 'dialog' },
      el('h2', { id: 'forget-title' }, `Forget ${confirmWith}?`),
      el('p', { id: 'forget-what' },
        `This erases ${confirmWith} (user ${userId}): their memories, calls, vectors and cached answers, ` +
        'and the bodies of their log entries. The log chain still verifies. It cannot be undone.'),
      el('label', { for: 'forget-confirm' }, 'Type the caller\'s name to confirm'),
      el('p', { class: 'note' }, `Type: ${confirmWith}`),
      input, error,
      el('div', { class: 'row end' }, cancel, forget)));
  document.body.appendChild(dialog);

  input.addEventListener('input', () => {
    forget.disabled = input.value.trim() !== confirmWith;
  });
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  ctx.onLeave(() => dialog.isConnected && dialog.close());
  dialog.querySelector('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (input.value.trim() !== confirmWith) return;
    forget.disabled = true;
    error.textContent = '';
    try {
      await post(`/callers/${seg(userId)}/forget`, { confirm: input.value.trim() });
      dialog.close();
      ctx.notifyAfterNavigation(`Forgot ${confirmWith} (user ${userId}).`);
      location.hash = route(['callers'], { q: confirmWith });
    } catch (e) {
      error.textContent = `Could not forget: ${e.message}`;
      forget.disabled = false;
    }
  });
  dialog.showModal();
  input.focus();
}
