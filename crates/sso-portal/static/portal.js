// The setup portal's one script: copy buttons. The values stay selectable without it.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  const status = document.createElement('p');
  status.className = 'visually-hidden';
  status.setAttribute('role', 'status');
  document.body.append(status);
  for (const button of document.querySelectorAll('button[data-copy]')) {
    button.hidden = false;
    button.addEventListener('click', async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      try {
        await navigator.clipboard.writeText(source.textContent);
        button.textContent = 'Copied';
        status.textContent = 'Copied to the clipboard.';
      } catch {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = 'Selected';
        status.textContent = 'Selected: press Control+C (or Command+C) to copy.';
      }
      setTimeout(() => {
        button.textContent = 'Copy';
      }, 2000);
    });
  }
});
