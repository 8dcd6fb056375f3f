//! Discovery (RFC 7644 §4, RFC 7643 §5–7): what this service provider supports, its
//! resource types and the schemas of the attributes it keeps, so an IdP can configure itself.

use serde_json::{Map, Value, json};

/// The core User schema.
pub(crate) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema.
pub(crate) const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension.
pub(crate) const ENTERPRISE_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// `/ServiceProviderConfig`; `base` is `<base_url>/scim/v2/<org>`.
pub(crate) fn service_provider_config(base: &str, max_results: usize) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A SCIM token issued for this organization, sent as \
                            `Authorization: Bearer <token>`.",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig")
        }
    })
}

/// Every resource type.
pub(crate) fn resource_types(base: &str) -> Vec<Value> {
    ["User", "Group"]
        .iter()
        .filter_map(|name| resource_type(base, name))
        .collect()
}

/// One resource type by name (`User`, `Group`, any case).
pub(crate) fn resource_type(base: &str, name: &str) -> Option<Value> {
    let (id, endpoint, schema, description, extensions) = if name.eq_ignore_ascii_case("User") {
        (
            "User",
            "/Users",
            USER_SCHEMA,
            "A person's account",
            json!([{"schema": ENTERPRISE_SCHEMA, "required": false}]),
        )
    } else if name.eq_ignore_ascii_case("Group") {
        (
            "Group",
            "/Groups",
            GROUP_SCHEMA,
            "A group of users",
            json!([]),
        )
    } else {
        return None;
    };
    Some(json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": id,
        "name": id,
        "endpoint": endpoint,
        "description": description,
        "schema": schema,
        "schemaExtensions": extensions,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{id}")}
    }))
}

/// Every schema.
pub(crate) fn schemas(base: &str) -> Vec<Value> {
    [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA]
        .iter()
        .filter_map(|id| schema(base, id))
        .collect()
}

/// One schema by URN (any case).
pub(crate) fn schema(base: &str, uri: &str) -> Option<Value> {
    let (id, name, description, attributes) = if uri.eq_ignore_ascii_case(USER_SCHEMA) {
        (USER_SCHEMA, "User", "User Account", user_attributes())
    } else if uri.eq_ignore_ascii_case(GROUP_SCHEMA) {
        (GROUP_SCHEMA, "Group", "Group", group_attributes())
    } else if uri.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
        (
            ENTERPRISE_SCHEMA,
            "EnterpriseUser",
            "Enterprise User",
            enterprise_attributes(),
        )
    } else {
        return None;
    };
    Some(json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}
    }))
}

/// An attribute definition with the RFC's defaults (RFC 7643 §2.2), changed by its methods.
struct Attr(Map<String, Value>);

fn attr(name: &str, kind: &str) -> Attr {
    let mut m = Map::new();
    m.insert("name".into(), name.into());
    m.insert("type".into(), kind.into());
    m.insert("multiValued".into(), false.into());
    m.insert("required".into(), false.into());
    m.insert("caseExact".into(), false.into());
    m.insert("mutability".into(), "readWrite".into());
    m.insert("returned".into(), "default".into());
    m.insert("uniqueness".into(), "none".into());
    Attr(m)
}

impl Attr {
    fn set(mut self, key: &str, value: Value) -> Self {
        self.0.insert(key.into(), value);
        self
    }
    fn multi(self) -> Self {
        self.set("multiValued", true.into())
    }
    fn required(self) -> Self {
        self.set("required", true.into())
    }
    fn exact(self) -> Self {
        self.set("caseExact", true.into())
    }
    fn mutability(self, m: &str) -> Self {
        self.set("mutability", m.into())
    }
    fn returned(self, r: &str) -> Self {
        self.set("returned", r.into())
    }
    fn unique(self) -> Self {
        self.set("uniqueness", "server".into())
    }
    fn canonical(self, values: &[&str]) -> Self {
        self.set("canonicalValues", json!(values))
    }
    fn refs(self, types: &[&str]) -> Self {
        self.set("referenceTypes", json!(types))
    }
    fn subs(self, subs: Vec<Value>) -> Self {
        self.set("subAttributes", Value::Array(subs))
    }
    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

/// The usual multi-valued complex attribute: value, display, type, primary.
fn multi_complex(name: &str, types: &[&str]) -> Value {
    attr(name, "complex")
        .multi()
        .subs(vec![
            attr("value", "string").done(),
            attr("display", "string").done(),
            attr("type", "string").canonical(types).done(),
            attr("primary", "boolean").done(),
        ])
        .done()
}

fn user_attributes() -> Vec<Value> {
    let name_subs = [
        "formatted",
        "familyName",
        "givenName",
        "middleName",
        "honorificPrefix",
        "honorificSuffix",
    ]
    .iter()
    .map(|n| attr(n, "string").done())
    .collect();
    let address_subs = [
        "formatted",
        "streetAddress",
        "locality",
        "region",
        "postalCode",
        "country",
    ]
    .iter()
    .map(|n| attr(n, "string").done())
    .chain([
        attr("type", "string")
            .canonical(&["work", "home", "other"])
            .done(),
        attr("primary", "boolean").done(),
    ])
    .collect();
    let mut attributes = vec![
        attr("userName", "string").required().unique().done(),
        attr("name", "complex").subs(name_subs).done(),
    ];
    for simple in [
        "displayName",
        "nickName",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
    ] {
        attributes.push(attr(simple, "string").done());
    }
    attributes.extend([
        attr("profileUrl", "reference").refs(&["external"]).done(),
        attr("active", "boolean").done(),
        attr("password", "string")
            .mutability("writeOnly")
            .returned("never")
            .done(),
        multi_complex("emails", &["work", "home", "other"]),
        multi_complex(
            "phoneNumbers",
            &["work", "home", "mobile", "fax", "pager", "other"],
        ),
        multi_complex(
            "ims",
            &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
        ),
        multi_complex("photos", &["photo", "thumbnail"]),
        attr("addresses", "complex")
            .multi()
            .subs(address_subs)
            .done(),
        multi_complex("entitlements", &[]),
        multi_complex("roles", &[]),
        multi_complex("x509Certificates", &[]),
    ]);
    attributes
}

fn enterprise_attributes() -> Vec<Value> {
    let mut attributes: Vec<Value> = [
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
    ]
    .iter()
    .map(|n| attr(n, "string").done())
    .collect();
    attributes.push(
        attr("manager", "complex")
            .subs(vec![
                attr("value", "string").done(),
                attr("$ref", "reference").refs(&["User"]).done(),
                attr("displayName", "string").mutability("readOnly").done(),
            ])
            .done(),
    );
    attributes
}

fn group_attributes() -> Vec<Value> {
    vec![
        attr("displayName", "string").required().unique().done(),
        attr("members", "complex")
            .multi()
            .subs(vec![
                attr("value", "string")
                    .exact()
                    .mutability("immutable")
                    .done(),
                attr("$ref", "reference")
                    .refs(&["User"])
                    .mutability("immutable")
                    .done(),
                attr("type", "string")
                    .canonical(&["User"])
                    .mutability("immutable")
                    .done(),
            ])
            .done(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_type_names_a_schema_we_serve() {
        let base = "https://sso.example.com/scim/v2/acme";
        for rt in resource_types(base) {
            let schema_id = rt["schema"].as_str().unwrap_or_default();
            assert!(schema(base, schema_id).is_some(), "{schema_id}");
            for ext in rt["schemaExtensions"].as_array().into_iter().flatten() {
                assert!(schema(base, ext["schema"].as_str().unwrap_or_default()).is_some());
            }
        }
        assert_eq!(schemas(base).len(), 3);
        assert!(resource_type(base, "group").is_some());
        assert!(resource_type(base, "Device").is_none());
        assert!(schema(base, "urn:example:nothing").is_none());
    }

    #[test]
    fn the_config_states_what_is_and_is_not_supported() {
        let spc = service_provider_config("https://x/scim/v2/o", 50);
        assert_eq!(spc["filter"], json!({"supported": true, "maxResults": 50}));
        assert_eq!(spc["etag"]["supported"], json!(true));
        assert_eq!(spc["sort"]["supported"], json!(false));
        assert_eq!(spc["bulk"]["supported"], json!(false));
        assert_eq!(
            spc["authenticationSchemes"][0]["type"],
            json!("oauthbearertoken")
        );
    }
}
