// samlify as an independent identity provider for the whole-system interop tests.
//
// One run is one IdP action, configured only from the command line:
//
//   node idp.js metadata ARGS   prints the IdP metadata XML
//   node idp.js respond ARGS    answers an AuthnRequest (or, without one, sends an unsolicited
//                               response) and prints JSON: saml_response (base64), relay_state,
//                               destination, in_response_to
//
// The SP is known only from the SP metadata file the test got from the service. The request
// comes as the HTTP-Redirect URL or the auto-posting HTML form the service handed its caller.
'use strict';

const fs = require('fs');
const { parseArgs } = require('util');
const saml = require('samlify');
const xmllint = require('@authenio/samlify-node-xmllint');

const { binding, format } = saml.Constants.namespace;
const { data: dataAlgorithms } = saml.Constants.algorithms.encryption;
const EMAIL_CLAIM = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress';
const URI_FORMAT = 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri';

// Every message samlify reads is checked against the SAML schemas (libxml2 compiled to
// JavaScript: no network, no Java).
saml.setSchemaValidator(xmllint);

function fail(message) {
  process.stderr.write(`samlify idp: ${message}\n`);
  process.exit(1);
}

// samlify's own response template with an AuthnStatement (it has none by default) and the
// email attribute.
function loginResponseTemplate() {
  const authn =
    '<saml:AuthnStatement AuthnInstant="{IssueInstant}" SessionIndex="{AssertionID}">' +
    '<saml:AuthnContext><saml:AuthnContextClassRef>' +
    'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport' +
    '</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>';
  return {
    context: saml.SamlLib.defaultLoginResponseTemplate.context.replace('{AuthnStatement}', authn),
    attributes: [
      { name: EMAIL_CLAIM, valueTag: 'email', nameFormat: URI_FORMAT, valueXsiType: 'xs:string' },
    ],
  };
}

function identityProvider(opts) {
  const location = opts['sso-url'];
  const services = [{ Binding: binding.post, Location: location }];
  if (!opts['post-only']) {
    services.unshift({ Binding: binding.redirect, Location: location });
  }
  const encrypt = opts.encrypt !== 'none';
  return saml.IdentityProvider({
    entityID: opts['entity-id'],
    privateKey: fs.readFileSync(opts.key, 'utf8'),
    signingCert: fs.readFileSync(opts.cert, 'utf8'),
    singleSignOnService: services,
    nameIDFormat: [format.emailAddress],
    wantAuthnRequestsSigned: opts['want-signed-requests'],
    isAssertionEncrypted: encrypt,
    dataEncryptionAlgorithm:
      opts.encrypt === 'aes128-gcm' ? dataAlgorithms.AES_128_GCM : dataAlgorithms.AES_256,
    loginResponseTemplate: loginResponseTemplate(),
    // samlify's default is RSA-SHA256 (with a SHA-256 digest).
    ...(opts.sha1 ? { requestSignatureAlgorithm: saml.Constants.algorithms.signature.RSA_SHA1 } : {}),
  });
}

// The request as samlify's parseLoginRequest takes it, from what the service handed its caller.
function readRequest(opts) {
  if (opts['redirect-url']) {
    const url = new URL(opts['redirect-url']);
    const raw = url.search.slice(1).split('&');
    // The signed octet string: the parameters exactly as they were encoded in the URL, in the
    // order SAML's HTTP-Redirect binding fixes.
    const octetString = ['SAMLRequest', 'RelayState', 'SigAlg']
      .map((name) => raw.find((pair) => pair.startsWith(`${name}=`)))
      .filter((pair) => pair !== undefined)
      .join('&');
    const query = Object.fromEntries(url.searchParams.entries());
    return {
      binding: 'redirect',
      target: `${url.origin}${url.pathname}`,
      relayState: query.RelayState,
      request: { query, octetString },
    };
  }
  const html = fs.readFileSync(opts['post-form'], 'utf8');
  const action = /<form[^>]*\saction="([^"]*)"/.exec(html);
  const field = (name) => {
    const match = new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`).exec(html);
    return match ? match[1].replace(/&amp;/g, '&') : undefined;
  };
  if (!action || field('SAMLRequest') === undefined) {
    fail('the form has no action or no SAMLRequest');
  }
  return {
    binding: 'post',
    target: action[1].replace(/&amp;/g, '&'),
    relayState: field('RelayState'),
    request: { body: { SAMLRequest: field('SAMLRequest'), RelayState: field('RelayState') } },
  };
}

async function respond(opts) {
  const idp = identityProvider(opts);
  const sp = saml.ServiceProvider({
    metadata: fs.readFileSync(opts['sp-metadata'], 'utf8'),
    // Sign the Response as well as (or instead of) the assertion.
    wantMessageSigned: opts.sign !== 'assertion',
  });
  if (opts.sign === 'response') {
    // samlify signs the assertion whenever the SP metadata asks for it; this IdP's
    // administrator chose to sign only the Response.
    sp.entityMeta.meta.spSSODescriptor.wantAssertionsSigned = 'false';
  }
  let requestInfo = null;
  let relayState = opts['relay-state'];
  if (opts['redirect-url'] || opts['post-form']) {
    const request = readRequest(opts);
    if (request.target !== opts['sso-url']) {
      fail(`the request went to ${request.target}, not to this IdP's ${opts['sso-url']}`);
    }
    requestInfo = await idp.parseLoginRequest(sp, request.binding, request.request);
    relayState = request.relayState;
    const acs = requestInfo.extract.request.assertionConsumerServiceUrl;
    if (acs !== undefined && acs !== sp.entityMeta.getAssertionConsumerService('post')) {
      fail(`the request names ACS ${acs}, which the SP metadata does not list for HTTP-POST`);
    }
  }
  const response = await loginResponse(idp, sp, requestInfo, relayState, opts.email);
  process.stdout.write(
    `${JSON.stringify({
      saml_response: response.context,
      relay_state: relayState === undefined ? null : relayState,
      destination: response.entityEndpoint,
      in_response_to: requestInfo ? requestInfo.extract.request.id : null,
    })}\n`,
  );
}

// A signed login response for `email`, answering `requestInfo` (or unsolicited when null), to
// the SP's HTTP-POST ACS; samlify's { context (base64), entityEndpoint }.
async function loginResponse(idp, sp, requestInfo, relayState, email) {
  const user = { email };
  const now = new Date();
  const later = new Date(now.getTime() + 5 * 60 * 1000);
  const idpSetting = idp.entitySetting;
  const replace = (template) => {
    const id = idpSetting.generateID();
    const acs = sp.entityMeta.getAssertionConsumerService('post');
    const inResponseTo = requestInfo ? requestInfo.extract.request.id : null;
    const context = saml.SamlLib.replaceTagsByValue(template, {
      ID: id,
      AssertionID: idpSetting.generateID(),
      Destination: acs,
      Audience: sp.entityMeta.getEntityID(),
      SubjectRecipient: acs,
      Issuer: idp.entityMeta.getEntityID(),
      IssueInstant: now.toISOString(),
      StatusCode: saml.Constants.StatusCode.Success,
      ConditionsNotBefore: now.toISOString(),
      ConditionsNotOnOrAfter: later.toISOString(),
      SubjectConfirmationDataNotOnOrAfter: later.toISOString(),
      NameIDFormat: format.emailAddress,
      NameID: user.email,
      InResponseTo: inResponseTo,
      attrEmail: user.email,
    });
    return { id, context };
  };
  return idp.createLoginResponse(sp, requestInfo, 'post', user, {
    relayState,
    customTagReplacement: replace,
    // Sign the Response over the encrypted assertion, not over the plaintext it replaced.
    encryptThenSign: true,
  });
}

async function main() {
  const { values: opts, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      key: { type: 'string' },
      cert: { type: 'string' },
      'entity-id': { type: 'string' },
      'sso-url': { type: 'string' },
      'post-only': { type: 'boolean', default: false },
      'want-signed-requests': { type: 'boolean', default: false },
      'sp-metadata': { type: 'string' },
      'redirect-url': { type: 'string' },
      'post-form': { type: 'string' },
      'relay-state': { type: 'string' },
      email: { type: 'string' },
      sign: { type: 'string', default: 'assertion' },
      encrypt: { type: 'string', default: 'none' },
      sha1: { type: 'boolean', default: false },
    },
  });
  for (const name of ['key', 'cert', 'entity-id', 'sso-url']) {
    if (opts[name] === undefined) fail(`--${name} is required`);
  }
  if (!['assertion', 'response', 'both'].includes(opts.sign)) fail(`--sign ${opts.sign}?`);
  if (!['none', 'aes256-cbc', 'aes128-gcm'].includes(opts.encrypt)) {
    fail(`--encrypt ${opts.encrypt}?`);
  }
  const action = positionals[0];
  if (action === 'metadata') {
    process.stdout.write(`${identityProvider(opts).getMetadata()}\n`);
  } else if (action === 'respond') {
    if (opts['sp-metadata'] === undefined || opts.email === undefined) {
      fail('respond needs --sp-metadata and --email');
    }
    await respond(opts);
  } else {
    fail('usage: node idp.js metadata|respond --key K --cert C --entity-id E --sso-url U ...');
  }
}

// The web IdP (idp-server.js) shares the IdP's settings and responses.
module.exports = { identityProvider, readRequest, loginResponse };

if (require.main === module) {
  main().catch((error) => fail(error && error.stack ? error.stack : String(error)));
}
