// A small web app that signs people in with their company's identity provider through the SSO
// service, the way an internal product service does: it talks to the service's gRPC API only.
//
//   GET  /               "Sign in with SSO": an email field
//   POST /sso/start      AuthService.BeginSsoLogin for that email; sends the browser to the IdP
//   GET  /sso/callback   where the service's ACS sends the browser back: ?code=... is redeemed
//                        with AuthService.RedeemLoginCode; ?error=<reason> is explained
//
// Configuration, from the environment:
//   SSO_GRPC_ADDR     the service's gRPC address (default 127.0.0.1:50051)
//   SSO_AUTH_TOKEN    a bearer token of scope "auth" (required)
//   APP_LISTEN        host:port this app listens on (default 127.0.0.1:3000)
//   APP_PUBLIC_URL    the app's URL as browsers reach it (default http://APP_LISTEN)
//   SSO_PROTO_DIR     the directory holding sso/v1/*.proto (default: the repository's proto/)
'use strict';

const http = require('node:http');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

/** The largest form body this app reads: an email address needs far less. */
const MAX_BODY_BYTES = 4096;
/** How long one call to the service may take. */
const CALL_TIMEOUT_MS = 10_000;

/** What the person at the browser reads for each refusal the service's ACS reports. */
const REASON_MESSAGES = {
  'domain-not-verified':
    'Your email domain is not verified for this organization, so your identity provider ' +
    'cannot sign you in to it. Sign in with your work address, or ask your administrator ' +
    'to verify your domain.',
  'not-a-member':
    'You are not a member of this organization yet. Ask an administrator to invite you.',
  'plan-without-sso': "Single sign-on is not part of this organization's plan.",
  'no-connection': 'This organization has not set up single sign-on.',
  'connection-disabled': 'Single sign-on is switched off for this organization.',
  'no-valid-email': 'Your identity provider did not tell us your email address.',
  'request-expired': 'The sign-in took too long. Please start again.',
  replayed: 'This sign-in was already used. Please start again.',
  'unknown-request': 'This sign-in was not started here. Please start again.',
  'unsolicited-response': 'This organization only accepts sign-ins started from this app.',
};

function config() {
  const token = process.env.SSO_AUTH_TOKEN;
  if (!token) {
    process.stderr.write('sso-app: set SSO_AUTH_TOKEN to a bearer token of scope "auth"\n');
    process.exit(2);
  }
  const listen = process.env.APP_LISTEN || '127.0.0.1:3000';
  const colon = listen.lastIndexOf(':');
  return {
    grpcAddr: process.env.SSO_GRPC_ADDR || '127.0.0.1:50051',
    token,
    host: listen.slice(0, colon),
    port: Number(listen.slice(colon + 1)),
    publicUrl: (process.env.APP_PUBLIC_URL || `http://${listen}`).replace(/\/$/, ''),
    protoDir: process.env.SSO_PROTO_DIR || path.join(__dirname, '..', '..', 'proto'),
  };
}

/** An AuthService client from the .proto files, loaded at run time. */
function authClient(cfg) {
  const definition = protoLoader.loadSync('sso/v1/auth.proto', {
    includeDirs: [cfg.protoDir],
    keepCase: true,
    enums: String,
    longs: String,
    defaults: true,
    oneofs: true,
  });
  const { AuthService } = grpc.loadPackageDefinition(definition).sso.v1;
  return new AuthService(cfg.grpcAddr, grpc.credentials.createInsecure());
}

/** Calls `method` with the bearer token; resolves with the reply, rejects with the gRPC error. */
function call(client, cfg, method, request) {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${cfg.token}`);
  const deadline = new Date(Date.now() + CALL_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline }, (error, reply) =>
      error ? reject(error) : resolve(reply),
    );
  });
}

function escapeHtml(text) {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

function page(title, body) {
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    `<title>${escapeHtml(title)}</title>` +
    '<style>body{font-family:sans-serif;max-width:34em;margin:4em auto;line-height:1.5}' +
    '.error{color:#a00}input{font-size:1em;padding:.3em}button{font-size:1em}</style>' +
    `</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`
  );
}

function send(res, status, html, headers = {}) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    ...headers,
  });
  res.end(html);
}

function signInForm(message) {
  const error = message ? `<p class="error" id="message">${escapeHtml(message)}</p>` : '';
  return page(
    'Example app',
    `${error}<form method="post" action="/sso/start">` +
      '<label>Work email <input type="email" name="email" required autofocus></label> ' +
      '<button type="submit">Sign in with SSO</button></form>',
  );
}

/** The urlencoded form body, at most MAX_BODY_BYTES. */
function readForm(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('form too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

/** The message of a refusal from the service (safe to show, as the API says). */
function errorMessage(error) {
  return error && error.details ? error.details : 'The sign-in service is unavailable.';
}

async function start(client, cfg, req, res) {
  let email;
  try {
    email = ((await readForm(req)).get('email') || '').trim();
  } catch {
    send(res, 413, signInForm('That form was too large.'));
    return;
  }
  if (!email) {
    send(res, 400, signInForm('Enter your work email.'));
    return;
  }
  let begin;
  try {
    begin = await call(client, cfg, 'BeginSsoLogin', {
      email,
      return_target: `${cfg.publicUrl}/sso/callback`,
    });
  } catch (error) {
    send(res, 403, signInForm(errorMessage(error)));
    return;
  }
  if (begin.redirect_url) {
    send(res, 303, '', { location: begin.redirect_url });
  } else {
    // The IdP takes requests by HTTP-POST only: the service's page posts the form on load.
    send(res, 200, begin.post_form_html);
  }
}

async function callback(client, cfg, url, res) {
  const reason = url.searchParams.get('error');
  if (reason !== null) {
    const message =
      REASON_MESSAGES[reason] ||
      'Your identity provider could not sign you in. Your administrator can see why in the ' +
        'organization’s sign-in log.';
    send(
      res,
      403,
      page(
        'Sign-in failed',
        `<p class="error" id="message">${escapeHtml(message)}</p>` +
          `<p><small>Reason code: <code>${escapeHtml(reason)}</code></small></p>` +
          '<p><a href="/">Try again</a></p>',
      ),
    );
    return;
  }
  const code = url.searchParams.get('code');
  if (!code) {
    send(res, 400, signInForm('The sign-in came back without a result. Please start again.'));
    return;
  }
  let login;
  try {
    login = await call(client, cfg, 'RedeemLoginCode', { code });
  } catch (error) {
    send(res, 403, signInForm(errorMessage(error)));
    return;
  }
  // A real app would start its own session here and redirect, dropping the code from the URL.
  const role = String(login.role).replace(/^ROLE_/, '').toLowerCase();
  const email = login.user ? login.user.email : '';
  const joined = login.membership_created ? '<p>Welcome: your account was just created.</p>' : '';
  send(
    res,
    200,
    page(
      'Signed in',
      `<p id="message">Signed in as ${escapeHtml(email)} (role ${escapeHtml(role)})</p>${joined}`,
    ),
  );
}

function main() {
  const cfg = config();
  const client = authClient(cfg);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, cfg.publicUrl);
    let handled;
    if (req.method === 'GET' && url.pathname === '/') {
      handled = Promise.resolve(send(res, 200, signInForm()));
    } else if (req.method === 'POST' && url.pathname === '/sso/start') {
      handled = start(client, cfg, req, res);
    } else if (req.method === 'GET' && url.pathname === '/sso/callback') {
      handled = callback(client, cfg, url, res);
    } else {
      handled = Promise.resolve(send(res, 404, page('Not found', '<p><a href="/">Home</a></p>')));
    }
    handled.catch((error) => {
      process.stderr.write(`sso-app: ${error && error.stack ? error.stack : error}\n`);
      if (!res.headersSent) send(res, 500, page('Something went wrong', ''));
    });
  });
  server.listen(cfg.port, cfg.host, () => {
    process.stdout.write(`sso-app listening on ${cfg.publicUrl}\n`);
  });
}

main();
