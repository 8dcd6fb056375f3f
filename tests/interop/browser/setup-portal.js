// The setup portal in headless Chromium, as a customer's IT admin goes through it: open the
// setup link, read the values for the IdP, upload its metadata (after a wrong paste), run a
// test sign-in in a new tab, prove a domain, turn JIT on, switch SSO on and require it, then
// sign in for real through the example app and read the sign-in on the portal. Each page is
// screenshotted and checked with axe-core; a serious or critical finding fails the run.
//
//   node setup-portal.js --link URL --app URL --idp-metadata FILE --domain D --email E
//                        --screenshots DIR [--chromium PATH]
//
// Prints one JSON line per DNS record to publish ({"publish": {"name", "value"}}) and waits
// for a line on standard input before verifying; at the end prints {"done": true, ...}.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { parseArgs } = require('node:util');
const { chromium } = require('playwright-core');

const STEP_TIMEOUT_MS = 30_000;
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const input = readline.createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();

function say(object) {
  process.stdout.write(`${JSON.stringify(object)}\n`);
}

async function main() {
  const { values: opts } = parseArgs({
    options: {
      link: { type: 'string' },
      app: { type: 'string' },
      'idp-metadata': { type: 'string' },
      domain: { type: 'string' },
      email: { type: 'string' },
      screenshots: { type: 'string' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
    },
  });
  for (const name of ['link', 'app', 'idp-metadata', 'domain', 'email', 'screenshots']) {
    if (opts[name] === undefined) throw new Error(`--${name} is required`);
  }
  fs.mkdirSync(opts.screenshots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: opts.chromium,
    headless: true,
    args: ['--no-sandbox'],
  });
  const report = { pages: [], axe: {}, csrf: {}, layout: {} };
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    const cspErrors = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    });

    /** Screenshot and axe check of the page as it is now, under `name`. */
    async function check(name) {
      await page.screenshot({ path: path.join(opts.screenshots, `${name}.png`), fullPage: true });
      await page.evaluate(AXE_SOURCE);
      const result = await page.evaluate(async () => {
        // eslint-disable-next-line no-undef
        const r = await axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
      });
      report.axe[name] = result;
      report.pages.push(name);
      const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      if (bad.length > 0) throw new Error(`axe on ${name}: ${JSON.stringify(bad)}`);
    }

    // The link: lands on the overview, the token gone from the address bar.
    await page.goto(opts.link);
    const base = new URL(page.url());
    if (!/^\/setup\/\d+\/$/.test(base.pathname)) throw new Error(`link led to ${page.url()}`);
    const org = base.pathname;
    await page.getByRole('heading', { name: 'SSO setup' }).waitFor();
    await check('0-overview');

    // Keyboard: the first Tab stop is the skip link, and it is visible when focused.
    await page.keyboard.press('Tab');
    report.layout.firstTab = await page.evaluate(() => document.activeElement.textContent);
    if (report.layout.firstTab !== 'Skip to content') throw new Error(`first Tab: ${report.layout.firstTab}`);

    // Step 1.
    await page.getByRole('link', { name: 'Pick your IdP' }).first().click();
    await page.getByRole('link', { name: 'Other SAML 2.0 IdP' }).click();
    await page.locator('#acs-url').waitFor();
    report.acsUrl = await page.locator('#acs-url').textContent();
    if (!(await page.getByRole('button', { name: 'Copy ACS URL (Single sign-on URL, Reply URL)' }).isVisible())) {
      throw new Error('no visible copy button (portal.js did not run)');
    }
    await check('1-pick-idp');
    // Narrow and wide screens: no sideways scrolling at 320 px.
    await page.setViewportSize({ width: 320, height: 800 });
    report.layout.scrollWidth320 = await page.evaluate(() => document.documentElement.scrollWidth);
    await page.screenshot({ path: path.join(opts.screenshots, '1-pick-idp-320px.png'), fullPage: true });
    if (report.layout.scrollWidth320 > 320) throw new Error(`320 px: ${report.layout.scrollWidth320} px wide`);
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.screenshot({ path: path.join(opts.screenshots, '1-pick-idp-1920px.png') });
    await page.setViewportSize({ width: 1280, height: 900 });

    // Step 2: a wrong paste first, told in plain words with its reason code.
    await page.getByRole('link', { name: 'Give us your IdP' }).first().click();
    await page.getByLabel('Metadata XML').fill('<EntityDescriptor');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.notice.error').waitFor();
    report.metadataError = await page.locator('.notice.error').innerText();
    if (!/Reason code: metadata-malformed/.test(report.metadataError)) throw new Error(report.metadataError);
    await check('2-metadata-error');
    await page.getByLabel('Metadata file (XML)').setInputFiles(opts['idp-metadata']);
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.locator('.notice.ok').waitFor();
    await check('2-metadata-saved');

    // Step 3: the test sign-in opens a new tab at the IdP and ends on the ACS result page.
    await page.getByRole('link', { name: 'Test sign-in' }).first().click();
    const [popup] = await Promise.all([
      context.waitForEvent('page'),
      page.getByRole('button', { name: /Test sign-in/ }).click(),
    ]);
    popup.setDefaultTimeout(STEP_TIMEOUT_MS);
    await popup.waitForSelector('form#idp-login');
    await popup.getByLabel('Email').fill(opts.email);
    await popup.getByRole('button', { name: 'Sign in' }).click();
    await popup.getByText('SSO test login completed').waitFor();
    await popup.screenshot({ path: path.join(opts.screenshots, '3-test-result-tab.png'), fullPage: true });
    await popup.close();
    await page.getByRole('link', { name: 'Reload the result' }).click();
    report.testState = await page.locator('#test-state').innerText();
    if (!/Succeeded/.test(report.testState)) throw new Error(`test: ${report.testState}`);
    report.testChecks = await page.locator('ul.checklist').innerText();
    await check('3-test-succeeded');

    // Step 4: claim, publish (by the test's DNS server), verify.
    await page.getByRole('link', { name: 'Domains' }).first().click();
    await page.getByLabel('Domain', { exact: true }).fill(opts.domain);
    await page.getByRole('button', { name: 'Add domain' }).click();
    await page.locator('#record-value-0').waitFor();
    const name = await page.locator('#record-name-0').textContent();
    const value = await page.locator('#record-value-0').textContent();
    await check('4-domain-claimed');
    say({ publish: { name, value } });
    const answer = await lines.next();
    if (answer.done) throw new Error('no answer to the publish request');
    await page.getByRole('button', { name: `Verify ${opts.domain}` }).click();
    await page.getByText(`${opts.domain} is verified.`).waitFor();
    await check('4-domain-verified');

    // A form post without its CSRF token (and with a wrong one) is refused.
    for (const [label, form] of [
      ['missing', { domain: 'csrf-probe.example.org' }],
      ['wrong', { domain: 'csrf-probe.example.org', csrf: '0'.repeat(64) }],
    ]) {
      const r = await page.request.post(new URL(`${org}domains`, base).href, { form });
      report.csrf[label] = { status: r.status(), refused: (await r.text()).includes('setup-csrf-mismatch') };
      if (r.status() !== 403 || !report.csrf[label].refused) throw new Error(`CSRF ${label}: ${r.status()}`);
    }

    // Step 5.
    await page.getByRole('link', { name: 'Users' }).first().click();
    await page.getByLabel('On: add them to the organization').check();
    await page.getByLabel('Default role of people added').selectOption('member');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved: new people join as member.').waitFor();
    await check('5-users');

    // Step 6.
    await page.getByRole('link', { name: 'Require SSO' }).first().click();
    await page.getByRole('button', { name: 'Switch SSO sign-in on' }).click();
    await page.getByText('SSO sign-in is on.', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Require SSO' }).click();
    await page.getByText('SSO is now required.').waitFor();
    report.requireState = await page.locator('#require-state').innerText();
    await check('6-require-sso');

    // A real sign-in, through the example app.
    const app = await context.newPage();
    app.setDefaultTimeout(STEP_TIMEOUT_MS);
    const appUrl = new URL(opts.app);
    await app.goto(appUrl.href);
    await app.getByLabel('Work email').fill(opts.email);
    await app.getByRole('button', { name: 'Sign in with SSO' }).click();
    await app.waitForSelector('form#idp-login');
    await app.getByLabel('Email').fill(opts.email);
    await app.getByRole('button', { name: 'Sign in' }).click();
    await app.waitForURL((url) => url.origin === appUrl.origin && url.pathname === '/sso/callback');
    await app.waitForSelector('#message');
    report.signedIn = await app.locator('body').innerText();
    await app.screenshot({ path: path.join(opts.screenshots, '7-app-signed-in.png'), fullPage: true });
    await app.close();

    // Step 7.
    await page.getByRole('link', { name: 'Recent sign-ins' }).first().click();
    report.signIns = await page.locator('main').innerText();
    await check('7-sign-ins');
    report.cspErrors = cspErrors;
    if (cspErrors.length > 0) throw new Error(`CSP errors: ${cspErrors.join('; ')}`);
    say({ done: true, ...report });
  } finally {
    await browser.close();
    input.close();
  }
}

main().catch((error) => {
  process.stderr.write(`setup-portal: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
