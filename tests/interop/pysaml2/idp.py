"""pysaml2 as an independent identity provider for the whole-system interop tests.

One run is one IdP action, configured only from the command line:

  idp.py metadata ARGS       prints the IdP metadata XML
  idp.py respond ARGS        answers an AuthnRequest (or, without one, sends an unsolicited
                             response) and prints JSON: saml_response (base64), relay_state,
                             destination, in_response_to

The SP is known only from the SP metadata file the test got from the service. The request comes
as the HTTP-Redirect URL or the auto-posting HTML form the service handed its caller.
"""

import argparse
import base64
import functools
import html.parser
import json
import shutil
import sys
import urllib.parse

import saml2.entity
import saml2.sigver
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

AES256_CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"


def config(args, sp_metadata=None):
    bindings = [BINDING_HTTP_POST] if args.post_only else [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST]
    xmlsec = shutil.which("xmlsec1")
    if xmlsec is None:
        sys.exit("pysaml2 needs the xmlsec1 binary (Debian package xmlsec1) on PATH")
    conf = {
        "entityid": args.entity_id,
        "xmlsec_binary": xmlsec,
        "key_file": args.key,
        "cert_file": args.cert,
        "accepted_time_diff": 60,
        "service": {
            "idp": {
                "endpoints": {"single_sign_on_service": [(args.sso_url, b) for b in bindings]},
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                "want_authn_requests_signed": args.want_signed_requests,
                # pysaml2 signs with RSA-SHA1 and SHA-1 digests unless configured otherwise.
                "signing_algorithm": None if args.sha1 else SIG_RSA_SHA256,
                "digest_algorithm": None if args.sha1 else DIGEST_SHA256,
                "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_URI}},
            }
        },
    }
    if sp_metadata is not None:
        conf["metadata"] = {"inline": [sp_metadata]}
    idp_config = IdPConfig()
    idp_config.load(conf)
    return idp_config


class FormReader(html.parser.HTMLParser):
    """The form's action and its hidden inputs, from the HTML page the service made."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action = attrs.get("action")
        elif tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value", "")


def read_request(args):
    """(binding, SAMLRequest, RelayState, SigAlg, Signature, the URL the browser went to)."""
    if args.redirect_url:
        url = urllib.parse.urlsplit(args.redirect_url)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        target = urllib.parse.urlunsplit((url.scheme, url.netloc, url.path, "", ""))
        return (
            BINDING_HTTP_REDIRECT,
            query["SAMLRequest"],
            query.get("RelayState"),
            query.get("SigAlg"),
            query.get("Signature"),
            target,
        )
    reader = FormReader()
    with open(args.post_form, encoding="utf-8") as f:
        reader.feed(f.read())
    return (
        BINDING_HTTP_POST,
        reader.fields["SAMLRequest"],
        reader.fields.get("RelayState"),
        None,
        None,
        reader.action,
    )


def respond(args):
    with open(args.sp_metadata, encoding="utf-8") as f:
        sp_metadata = f.read()
    server = Server(config=config(args, sp_metadata))
    if args.encrypt == "aes256-cbc":
        # pysaml2 always encrypts with 3DES-CBC (its template and xmlsec1 session key, with no
        # setting for either); this IdP's operator chose AES-256-CBC instead.
        saml2.entity.pre_encryption_part = functools.partial(
            saml2.sigver.pre_encryption_part, msg_enc=AES256_CBC
        )
        server.sec.encrypt_assertion = functools.partial(server.sec.encrypt_assertion, key_type="aes-256")
    sp_entity_id = next(iter(server.metadata.service_providers()))
    relay_state = args.relay_state
    in_response_to = None
    name_id_policy = None
    if args.redirect_url or args.post_form:
        binding, saml_request, relay_state, sigalg, signature, target = read_request(args)
        if target != args.sso_url:
            sys.exit(f"the request went to {target}, not to this IdP's {args.sso_url}")
        request = server.parse_authn_request(
            saml_request, binding, relay_state=relay_state, sigalg=sigalg, signature=signature
        )
        if request is None:
            sys.exit("pysaml2 did not accept the AuthnRequest")
        message = request.message
        sp_entity_id = message.issuer.text.strip()
        in_response_to = message.id
        name_id_policy = message.name_id_policy
    acs = [s["location"] for s in server.metadata.assertion_consumer_service(sp_entity_id, BINDING_HTTP_POST)]
    if not acs:
        sys.exit(f"the SP metadata of {sp_entity_id} lists no HTTP-POST ACS")
    destination = acs[0]
    if in_response_to is not None:
        destination = message.assertion_consumer_service_url
        if destination not in acs:
            sys.exit(f"the request names ACS {destination}, which the SP metadata does not list")
    identity = {EMAIL_CLAIM: [args.email], "displayName": ["Interop Tester"]}
    encrypt = args.encrypt != "none"
    response = server.create_authn_response(
        identity,
        in_response_to,
        destination,
        sp_entity_id,
        name_id_policy=name_id_policy,
        name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=args.email),
        authn={
            "class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
            "authn_auth": args.entity_id,
        },
        sign_response=args.sign in ("response", "both"),
        sign_assertion=args.sign in ("assertion", "both"),
        encrypt_assertion=encrypt,
        encrypt_assertion_self_contained=True,
    )
    print(
        json.dumps(
            {
                "saml_response": base64.b64encode(str(response).encode("utf-8")).decode("ascii"),
                "relay_state": relay_state,
                "destination": destination,
                "in_response_to": in_response_to,
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["metadata", "respond"])
    parser.add_argument("--key", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--entity-id", required=True)
    parser.add_argument("--sso-url", required=True)
    parser.add_argument("--post-only", action="store_true", help="offer only HTTP-POST for requests")
    parser.add_argument("--want-signed-requests", action="store_true")
    parser.add_argument("--sp-metadata")
    parser.add_argument("--redirect-url", help="the HTTP-Redirect URL the browser followed")
    parser.add_argument("--post-form", help="a file with the HTML form that posted the request")
    parser.add_argument("--relay-state", help="for an unsolicited response")
    parser.add_argument("--email")
    parser.add_argument("--sign", choices=["assertion", "response", "both"], default="assertion")
    parser.add_argument("--sha1", action="store_true", help="sign with pysaml2's default, RSA-SHA1")
    parser.add_argument("--encrypt", choices=["none", "default", "aes256-cbc"], default="none")
    args = parser.parse_args()
    if args.action == "metadata":
        print(create_metadata_string(None, config(args)).decode("utf-8"))
    else:
        if not args.sp_metadata or not args.email:
            sys.exit("respond needs --sp-metadata and --email")
        respond(args)


if __name__ == "__main__":
    main()
