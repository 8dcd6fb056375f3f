//! Reason codes in plain words: what went wrong, and what to do about it. A code not listed
//! here is shown with the service's own message; the code itself is always shown too.

/// One sentence saying what a refusal means, for the reasons an IT admin meets in setup and
/// in sign-ins.
pub(crate) fn explain(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "invalid-xml" | "metadata-malformed" => {
            "The file or text is not well-formed XML, or not a whole metadata document."
        }
        "unsupported-encoding" => "The metadata must be UTF-8; save it again as UTF-8.",
        "not-metadata" | "entity-not-found" | "no-idp-descriptor" => {
            "The metadata does not describe an identity provider (no IDPSSODescriptor)."
        }
        "ambiguous-entity" => {
            "The metadata lists several identity providers; give the metadata of this one only."
        }
        "no-signing-certificate" => {
            "The metadata has no signing certificate, so no response could be trusted."
        }
        "metadata-expired" => {
            "The metadata says it is no longer valid (its validUntil has passed)."
        }
        "no-sso-service" => "The metadata has no single sign-on address (SingleSignOnService).",
        "metadata-url-invalid" => "This is not a URL.",
        "metadata-http-status" => "The metadata URL did not answer with the document (HTTP error).",
        "metadata-url-scheme" => "The metadata URL must start with https://.",
        "metadata-url-blocked-address" => {
            "The metadata URL points inside a private network, which this service never fetches."
        }
        "metadata-too-large" => "The metadata is larger than the 2 MiB this service reads.",
        "metadata-fetch-timeout" => "The metadata URL did not answer within 10 seconds.",
        "metadata-fetch-failed" | "metadata-tls-failed" => {
            "The metadata URL's server could not be reached."
        }
        "no-metadata-url" => {
            "The metadata was not imported from a URL, so there is nothing to refresh."
        }
        "plan-without-sso" => "Your organization's plan does not include SSO.",
        "no-connection" => "No identity provider is configured yet: do step 2 first.",
        "connection-disabled" => "SSO sign-in is switched off for your organization.",
        "no-sso-login-since-change" => {
            "Nobody has signed in with the current IdP configuration yet, so requiring SSO could \
             lock everyone out: run a successful test sign-in first."
        }
        "not-a-member" => {
            "This person is not a member of your organization, and new people are not added \
             automatically (just-in-time provisioning is off)."
        }
        "domain-not-verified" => {
            "This person's email domain is not one of your organization's verified domains."
        }
        "member-deactivated" => {
            "Your directory (SCIM) has deactivated this person, so they cannot sign in."
        }
        "no-valid-email" => "The IdP sent no email address this service could use.",
        "wrong-audience" | "missing-audience" => {
            "The IdP addressed the response to another application (wrong SP entity ID / audience)."
        }
        "wrong-destination" | "wrong-recipient" => {
            "The IdP sent the response to another address than this organization's ACS URL."
        }
        "untrusted-key" | "signature-invalid" => {
            "The response was not signed by a certificate in your IdP's metadata."
        }
        "unsigned-assertion" => "The response carried no signature.",
        "algorithm-not-allowed" => "The IdP signs with SHA-1, which this service refuses.",
        "replayed" => "The same response was used twice.",
        "request-expired" => "The sign-in took too long and its request expired; start again.",
        "unknown-request" => "The response answers a sign-in this service did not start.",
        "unsolicited-response" => {
            "The sign-in was started at the IdP (IdP-initiated), which this organization does not allow."
        }
        "not-yet-valid" | "expired" | "confirmation-expired" => {
            "The response's time window did not include now (check the IdP's clock)."
        }
        "domain-public-suffix" => {
            "This is a public suffix (like com or co.uk), which nobody can claim."
        }
        "domain-free-mail" => {
            "This is a free email provider's domain, which no organization can claim."
        }
        "domain-not-claimed" => "Add the domain first; then publish its record and verify.",
        "domain-record-missing" => {
            "The DNS has no TXT record with this name yet. Publish it, wait for it to appear, and verify again."
        }
        "domain-token-mismatch" => {
            "The DNS has a TXT record at this name, but not with this value: check that you copied it whole."
        }
        "domain-lookup-failed" | "domain-lookup-timeout" => {
            "The DNS could not be asked just now; nothing was learned. Try again in a minute."
        }
        "domain-verified-elsewhere" => "Another organization has already proven this domain.",
        "domain-limit-reached" => "Your organization has reached the limit of 100 domains.",
        "plan-without-default-projects" => "Default projects need the Enterprise plan.",
        "invalid-input" => "A value was missing or not in the expected form.",
        "conflict" => "This already exists.",
        _ => return None,
    })
}

/// What to do when a test sign-in's check fails with `reason`.
pub(crate) fn fix(reason: &str) -> &'static str {
    match reason {
        "wrong-audience" | "missing-audience" => {
            "In your IdP, set the Audience / SP Entity ID to the value shown in step 1, exactly."
        }
        "wrong-destination" | "wrong-recipient" => {
            "In your IdP, set the ACS URL (Single sign-on URL, Reply URL) to the value in step 1."
        }
        "untrusted-key" | "signature-invalid" => {
            "Import your IdP's current metadata again in step 2: its signing certificate changed."
        }
        "unsigned-assertion" => {
            "Turn on signing of the assertion (or the whole response) in your IdP."
        }
        "algorithm-not-allowed" => "Switch the IdP's signature algorithm to RSA-SHA256.",
        "no-valid-email" => {
            "Set the IdP's NameID format to EmailAddress with the user's email, or send an \
             attribute named email."
        }
        "domain-not-verified" => "Verify the email domain of the person who signed in, in step 4.",
        "not-a-member" => "Turn just-in-time provisioning on in step 5, or add the person first.",
        "member-deactivated" => "Reactivate the person in your IdP; provisioning restores them.",
        "plan-without-sso" => "Ask the service's operator for a plan that includes SSO.",
        "request-expired" => "Start the test again and finish it within ten minutes.",
        "unsolicited-response" => "Start the test from this page, not from your IdP's dashboard.",
        "not-yet-valid" | "expired" | "confirmation-expired" => {
            "Check the clock of your IdP's server; the response's validity window missed now."
        }
        _ => "Compare the values in step 1 with your IdP's settings, then test again.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_end_and_fixes_exist() {
        for reason in [
            "domain-record-missing",
            "not-a-member",
            "no-sso-login-since-change",
        ] {
            let sentence = explain(reason).unwrap();
            assert!(sentence.ends_with('.'), "{reason}");
        }
        assert_eq!(explain("something-new"), None);
        assert!(fix("wrong-audience").contains("Audience"));
        assert!(!fix("anything").is_empty());
    }
}
