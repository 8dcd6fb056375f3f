//! The view of an `sso_assertion::VerifiedAssertion` that email lookup reads (feature
//! `assertion`), so every caller converts it the same way.

use sso_assertion::VerifiedAssertion;

use crate::claims::{Attribute, Claims, NameId};

impl<'a> From<&'a VerifiedAssertion> for Claims<'a> {
    fn from(v: &'a VerifiedAssertion) -> Self {
        let name_id = v.name_id();
        let mut nid = NameId::new(&name_id.value);
        if let Some(f) = &name_id.format {
            nid = nid.with_format(f);
        }
        if let Some(q) = &name_id.sp_name_qualifier {
            nid = nid.with_sp_name_qualifier(q);
        }
        let mut claims = Claims::new().with_name_id(nid);
        for a in v.attributes() {
            let mut attr = Attribute::new(&a.name, a.values.iter().map(String::as_str));
            if let Some(f) = &a.name_format {
                attr = attr.with_name_format(f);
            }
            if let Some(f) = &a.friendly_name {
                attr = attr.with_friendly_name(f);
            }
            claims = claims.with_attribute(attr);
        }
        claims
    }
}
