//! The input: a borrowed view of what a verified assertion says about its subject.
//!
//! Borrowed so that turning a verified assertion into a view copies no strings; the view holds
//! only what the email lookup reads, so this crate stays independent of the SAML layer.

/// What a verified assertion says about its subject: the NameID and the attributes.
///
/// Build it from an assertion whose signature has already been checked; this crate trusts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claims<'a> {
    /// The Subject's NameID, if the assertion has one.
    pub name_id: Option<NameId<'a>>,
    /// Every Attribute of every AttributeStatement, in document order.
    pub attributes: Vec<Attribute<'a>>,
}

impl<'a> Claims<'a> {
    /// Claims with no NameID and no attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the Subject's NameID.
    #[must_use]
    pub fn with_name_id(mut self, name_id: NameId<'a>) -> Self {
        self.name_id = Some(name_id);
        self
    }

    /// Appends an attribute, after those already present (document order matters).
    #[must_use]
    pub fn with_attribute(mut self, attribute: Attribute<'a>) -> Self {
        self.attributes.push(attribute);
        self
    }
}

/// The Subject's `<NameID>`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NameId<'a> {
    /// The text value, as sent (all text nodes concatenated).
    pub value: &'a str,
    /// The `Format` URI, if any. Not used for the lookup: any format holding an email counts.
    pub format: Option<&'a str>,
    /// The `SPNameQualifier`, if any. Checked against the SP entity ID by the SAML layer.
    pub sp_name_qualifier: Option<&'a str>,
}

impl<'a> NameId<'a> {
    /// A NameID with this value and no Format or SPNameQualifier.
    pub fn new(value: &'a str) -> Self {
        Self {
            value,
            format: None,
            sp_name_qualifier: None,
        }
    }

    /// Sets the `Format` URI.
    #[must_use]
    pub fn with_format(mut self, format: &'a str) -> Self {
        self.format = Some(format);
        self
    }

    /// Sets the `SPNameQualifier`.
    #[must_use]
    pub fn with_sp_name_qualifier(mut self, sp_name_qualifier: &'a str) -> Self {
        self.sp_name_qualifier = Some(sp_name_qualifier);
        self
    }
}

/// One `<Attribute>` and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attribute<'a> {
    /// The `Name`: the only thing the lookup matches on.
    pub name: &'a str,
    /// The `NameFormat` URI, if any. Not used for the lookup.
    pub name_format: Option<&'a str>,
    /// The `FriendlyName`, if any. Never matched (SAML core 2.7.3.1 says it must not identify an
    /// attribute); a miss report only points out attributes whose `FriendlyName` would have
    /// matched, because that is a common IdP misconfiguration.
    pub friendly_name: Option<&'a str>,
    /// The text of each `<AttributeValue>`, in document order.
    pub values: Vec<&'a str>,
}

impl<'a> Attribute<'a> {
    /// An attribute with this `Name` and these values, no `NameFormat` or `FriendlyName`.
    pub fn new(name: &'a str, values: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            name,
            name_format: None,
            friendly_name: None,
            values: values.into_iter().collect(),
        }
    }

    /// Sets the `NameFormat` URI.
    #[must_use]
    pub fn with_name_format(mut self, name_format: &'a str) -> Self {
        self.name_format = Some(name_format);
        self
    }

    /// Sets the `FriendlyName`.
    #[must_use]
    pub fn with_friendly_name(mut self, friendly_name: &'a str) -> Self {
        self.friendly_name = Some(friendly_name);
        self
    }
}
