// samlify as a web identity provider with a login page, for the browser test: a person (or a
// headless browser) signs in here the way they would at a company's IdP.
//
//   node idp-server.js --key K --cert C --port P --sp-metadata FILE
//
//   GET  /metadata   the IdP metadata XML (SingleSignOnService at /sso, both bindings)
//   GET  /sso        an AuthnRequest by HTTP-Redirect: the login form, keeping the request
//   POST /sso        an AuthnRequest by HTTP-POST (SAMLRequest, RelayState): the same form
//   POST /login      the form: a signed response for the email typed, in a page whose form
//                    posts SAMLResponse and RelayState to the SP's ACS when it loads
//
// Anyone may sign in as any email: this IdP checks the requests and signs the responses, it
// does not authenticate people. The SP metadata file is read at every login, so the test may
// write it after the IdP has started. It prints "listening URL" once it serves.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const { parseArgs } = require('node:util');
const saml = require('samlify');
const { identityProvider, readRequest, loginResponse } = require('./idp');

/** The largest request body read: a POSTed AuthnRequest is a few kilobytes. */
const MAX_BODY_BYTES = 256 * 1024;

function escapeHtml(text) {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

function hidden(name, value) {
  return value === undefined || value === null
    ? ''
    : `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;
}

function send(res, status, title, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}` +
      `</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
  );
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

/**
 * The AuthnRequest carried by `fields`: the HTTP-Redirect query string (`saml_query`) or the
 * HTTP-POST form values; parsed and checked by samlify against the SP metadata.
 */
async function parseRequest(idp, sp, ssoUrl, fields) {
  let request;
  if (fields.saml_query) {
    request = readRequest({ 'redirect-url': `${ssoUrl}?${fields.saml_query}` });
  } else if (fields.SAMLRequest) {
    request = {
      binding: 'post',
      relayState: fields.RelayState,
      request: { body: { SAMLRequest: fields.SAMLRequest, RelayState: fields.RelayState } },
    };
  } else {
    throw new Error('no SAMLRequest');
  }
  const info = await idp.parseLoginRequest(sp, request.binding, request.request);
  const acs = info.extract.request.assertionConsumerServiceUrl;
  if (acs !== undefined && acs !== sp.entityMeta.getAssertionConsumerService('post')) {
    throw new Error(`the request names ACS ${acs}, which the SP metadata does not list`);
  }
  return { info, relayState: request.relayState };
}

function loginForm(fields, issuer) {
  const keep = fields.saml_query
    ? hidden('saml_query', fields.saml_query)
    : hidden('SAMLRequest', fields.SAMLRequest) + hidden('RelayState', fields.RelayState);
  return (
    `<p>Sign in to continue to <code>${escapeHtml(issuer)}</code>.</p>` +
    `<form id="idp-login" method="post" action="/login">${keep}` +
    '<label>Email <input type="email" name="email" required autofocus></label> ' +
    '<button type="submit">Sign in</button></form>'
  );
}

function main() {
  const { values: opts } = parseArgs({
    options: {
      key: { type: 'string' },
      cert: { type: 'string' },
      port: { type: 'string' },
      'sp-metadata': { type: 'string' },
    },
  });
  for (const name of ['key', 'cert', 'port', 'sp-metadata']) {
    if (opts[name] === undefined) {
      process.stderr.write(`idp-server: --${name} is required\n`);
      process.exit(2);
    }
  }
  const base = `http://127.0.0.1:${Number(opts.port)}`;
  const ssoUrl = `${base}/sso`;
  const idp = identityProvider({
    key: opts.key,
    cert: opts.cert,
    'entity-id': `${base}/metadata`,
    'sso-url': ssoUrl,
    encrypt: 'none',
  });
  const serviceProvider = () =>
    saml.ServiceProvider({
      metadata: fs.readFileSync(opts['sp-metadata'], 'utf8'),
      // Sign the Response as well as the assertion.
      wantMessageSigned: true,
    });

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, base);
    const handle = async () => {
      if (req.method === 'GET' && url.pathname === '/metadata') {
        const xml = idp.getMetadata();
        res.writeHead(200, {
          'content-type': 'application/samlmetadata+xml',
          'content-length': Buffer.byteLength(xml),
        });
        res.end(xml);
        return;
      }
      const sso = url.pathname === '/sso';
      const login = req.method === 'POST' && url.pathname === '/login';
      if (!(sso && (req.method === 'GET' || req.method === 'POST')) && !login) {
        send(res, 404, 'Not found', '');
        return;
      }
      const fields =
        req.method === 'GET'
          ? { saml_query: url.search.slice(1) }
          : Object.fromEntries((await readBody(req)).entries());
      const sp = serviceProvider();
      let request;
      try {
        request = await parseRequest(idp, sp, ssoUrl, fields);
      } catch (error) {
        send(res, 400, 'Bad sign-in request', `<p>${escapeHtml(error.message || error)}</p>`);
        return;
      }
      if (!login) {
        send(res, 200, 'Example IdP', loginForm(fields, request.info.extract.issuer));
        return;
      }
      if (!fields.email) {
        send(res, 400, 'Example IdP', loginForm(fields, request.info.extract.issuer));
        return;
      }
      const response = await loginResponse(idp, sp, request.info, request.relayState, fields.email);
      send(
        res,
        200,
        'Signing you in',
        `<form id="to-sp" method="post" action="${escapeHtml(response.entityEndpoint)}">` +
          hidden('SAMLResponse', response.context) +
          hidden('RelayState', request.relayState) +
          '<noscript><button type="submit">Continue</button></noscript></form>' +
          '<script>document.getElementById("to-sp").submit();</script>',
      );
    };
    handle().catch((error) => {
      process.stderr.write(`idp-server: ${error && error.stack ? error.stack : error}\n`);
      if (!res.headersSent) send(res, 500, 'IdP failure', '');
    });
  });
  server.listen(Number(opts.port), '127.0.0.1', () => {
    process.stdout.write(`listening ${base}\n`);
  });
}

main();
