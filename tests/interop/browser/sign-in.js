// One sign-in in headless Chromium, as a person does it: the app's page, the email, "Sign in
// with SSO", the IdP's login form, back on the app. Prints JSON: the final URL, the page's
// text and every URL the browser visited.
//
//   node sign-in.js --app URL --email E --idp-email E --screenshot FILE [--chromium PATH]
'use strict';

const { parseArgs } = require('node:util');
const { chromium } = require('playwright-core');

/** How long each step may take. */
const STEP_TIMEOUT_MS = 30_000;

async function main() {
  const { values: opts } = parseArgs({
    options: {
      app: { type: 'string' },
      email: { type: 'string' },
      'idp-email': { type: 'string' },
      screenshot: { type: 'string' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
    },
  });
  for (const name of ['app', 'email', 'idp-email', 'screenshot']) {
    if (opts[name] === undefined) throw new Error(`--${name} is required`);
  }
  const browser = await chromium.launch({
    executablePath: opts.chromium,
    headless: true,
    // Root in a container has no user namespaces for Chromium's sandbox.
    args: ['--no-sandbox'],
  });
  const visited = [];
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) visited.push(frame.url());
    });
    const app = new URL(opts.app);
    await page.goto(app.href);
    await page.getByLabel('Work email').fill(opts.email);
    await page.getByRole('button', { name: 'Sign in with SSO' }).click();
    // The IdP's login page.
    await page.waitForSelector('form#idp-login');
    await page.getByLabel('Email').fill(opts['idp-email']);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Through the service's ACS and back to the app.
    await page.waitForURL((url) => url.origin === app.origin && url.pathname === '/sso/callback');
    await page.waitForSelector('#message');
    await page.screenshot({ path: opts.screenshot, fullPage: true });
    const text = await page.locator('body').innerText();
    process.stdout.write(`${JSON.stringify({ url: page.url(), text, visited })}\n`);
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  process.stderr.write(`sign-in: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
