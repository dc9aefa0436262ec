//! Egress allow-list: the set of destinations one plugin may reach.
//!
//! Deny by default: a policy with no rules denies everything. A rule names a
//! scheme, a host and a port, never a path, because the thing worth guarding
//! is *who* the plugin talks to:
//!
//! | rule                          | allows                                                    |
//! |-------------------------------|-----------------------------------------------------------|
//! | `https://mirror.example.com`  | that host, https, port 443                                |
//! | `http://127.0.0.1:5551`       | that address, http, port 5551                             |
//! | `https://[::1]:8443`          | an IPv6 literal, in brackets                              |
//! | `https://*.example.com`       | any subdomain at any depth; **not** `example.com` itself  |
//! | `https://example.com:*`       | any port                                                  |
//! | `*`                           | anything: only with an explicit operator grant            |
//!
//! Destinations are always parsed with [`url::Url`] (WHATWG rules) before
//! matching, so `https://allowed.com@evil.com` is seen as host `evil.com` and
//! denied; no string prefix or suffix tricks reach the matcher.
//!
//! A policy is the plugin's own rules (its manifest), optionally **narrowed**
//! by the operator ([`EgressPolicy::narrow`]: a destination must then match a
//! manifest rule *and* an operator rule), plus the endpoints the operator
//! configured, which are allowed as they are. A denial names every list that
//! lacks the destination, with where that list is written
//! ([`EgressPolicy::located_at`]), so the message says which line to edit.

use std::fmt;

use url::{Host, Url};

/// Where a rule came from; printed in messages so an operator knows which
/// file or setting to edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    /// The plugin's own manifest (`allowed_hosts` in `plugin.toml`).
    PluginManifest,
    /// The operator's configuration (a grant on top of the manifest).
    OperatorConfig,
    /// An endpoint the operator configured for the plugin (e.g. a mirror URL),
    /// which is implicitly allowed.
    ConfiguredEndpoint,
    /// Anything else, described in words.
    Other(String),
}

impl fmt::Display for RuleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleSource::PluginManifest => f.write_str("plugin.toml allowed_hosts"),
            RuleSource::OperatorConfig => f.write_str("operator config"),
            RuleSource::ConfiguredEndpoint => f.write_str("configured endpoint"),
            RuleSource::Other(text) => f.write_str(text),
        }
    }
}

/// Whether the operator explicitly granted the catch-all rule `*`.
///
/// A separate type rather than a `bool` so call sites read as a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnyHostGrant {
    /// `*` is rejected at parse time (the default).
    #[default]
    NotGranted,
    /// The operator allowed this plugin to use `*`.
    Granted,
}

/// A rule string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid allowed host rule {rule:?} (from {source_name}): {reason}")]
pub struct RuleParseError {
    /// The rule exactly as written.
    pub rule: String,
    /// Where the rule came from, in words.
    pub source_name: String,
    /// What is wrong and what is expected instead.
    pub reason: String,
}

/// A destination the policy does not allow.
///
/// Its `Display` is the full message for the plugin author or operator,
/// including the exact rule to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The plugin whose policy denied the request.
    pub plugin: String,
    /// The destination, as `scheme://host[:port]` (port only when not default).
    pub destination: String,
    /// The rule that would allow exactly this destination.
    pub rule_to_add: String,
    /// Every list the rule must be added to (the manifest's `allowed_hosts`,
    /// the operator's narrowing list, or both), each with where it is
    /// written, e.g. `allowed_hosts (plugin.toml [capabilities], line 24)`.
    pub add_to: Vec<String>,
    /// Rules that name the same host but a different scheme or port, as
    /// `"rule" (from source)`: the usual cause of a surprising denial.
    pub near_misses: Vec<String>,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not in the allowed hosts of plugin {}; to allow it add \"{}\" to {}",
            self.destination,
            self.plugin,
            self.rule_to_add,
            self.add_to.join(" and to ")
        )?;
        if !self.near_misses.is_empty() {
            write!(
                f,
                " (rules for the same host with another scheme or port: {})",
                self.near_misses.join(", ")
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Denied {}

/// The scheme a rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// Which hosts a rule allows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// One host, normalised by `url` (lower case, IDNA, IPv6 in brackets),
    /// without a trailing dot.
    Exact(String),
    /// Strict subdomains of this domain (normalised, no leading dot).
    Subdomains(String),
}

/// Which ports a rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    Exact(u16),
    Any,
}

/// One parsed allow rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowRule {
    /// The rule as written, kept for messages.
    text: String,
    source: RuleSource,
    matcher: Matcher,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher {
    /// `*`: everything (operator-granted only).
    Everything,
    Host {
        scheme: Scheme,
        host: HostPattern,
        port: PortPattern,
    },
}

impl AllowRule {
    /// Parses one rule. `*` is accepted only with [`AnyHostGrant::Granted`].
    pub fn parse(
        text: &str,
        source: RuleSource,
        grant: AnyHostGrant,
    ) -> Result<Self, RuleParseError> {
        let fail = |reason: String| RuleParseError {
            rule: text.to_string(),
            source_name: source.to_string(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed == "*" {
            return match grant {
                AnyHostGrant::Granted => Ok(AllowRule {
                    text: trimmed.to_string(),
                    source,
                    matcher: Matcher::Everything,
                }),
                AnyHostGrant::NotGranted => Err(fail(
                    "\"*\" would allow every host on the network; it is accepted only when the \
                     operator explicitly grants it to this plugin"
                        .to_string(),
                )),
            };
        }

        let (scheme, rest) = if let Some(rest) = trimmed.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = trimmed.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(fail(
                "expected http://HOST[:PORT] or https://HOST[:PORT], e.g. \
                 \"https://mirror.example.com\" or \"https://*.example.com\""
                    .to_string(),
            ));
        };
        // A single trailing slash is harmless ("https://host/"); anything more
        // is a path, and rules deliberately do not scope by path.
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() {
            return Err(fail("the host is missing".to_string()));
        }
        if let Some(bad) = authority.chars().find(|c| matches!(c, '/' | '?' | '#')) {
            return Err(fail(format!(
                "a rule names a host, not a path, query or fragment (found {bad:?}); \
                 write only scheme://host[:port]"
            )));
        }
        if authority.contains('@') {
            return Err(fail(
                "user info (\"user@\") is not allowed in a rule; write only scheme://host[:port]"
                    .to_string(),
            ));
        }

        let (authority, any_port) = match authority.strip_suffix(":*") {
            Some(head) => (head, true),
            None => (authority, false),
        };
        let (wildcard, authority) = match authority.strip_prefix("*.") {
            Some(tail) => (true, tail),
            None => (false, authority),
        };
        if authority.contains('*') {
            return Err(fail(
                "\"*\" may only appear as a leading \"*.\" label (\"https://*.example.com\"), \
                 as \":*\" for any port, or alone as the whole rule"
                    .to_string(),
            ));
        }

        // Let the URL parser normalise the host (case, IDNA, IP forms) so a
        // rule and a destination are compared in exactly the same form.
        let url = Url::parse(&format!("{}://{authority}", scheme.as_str()))
            .map_err(|e| fail(format!("the host is not valid: {e}")))?;
        let host = match url.host() {
            Some(host) => host,
            None => return Err(fail("the host is missing".to_string())),
        };
        if wildcard && !matches!(host, Host::Domain(_)) {
            return Err(fail(
                "\"*.\" must be followed by a domain name, not an IP address".to_string(),
            ));
        }
        let host_text = strip_trailing_dot(url.host_str().unwrap_or_default()).to_string();
        if wildcard && !host_text.contains('.') {
            // "*.com" would allow a whole top-level domain: almost surely a mistake.
            return Err(fail(format!(
                "\"*.{host_text}\" would allow a whole top-level domain; name a registered domain"
            )));
        }
        let port = if any_port {
            if url.port().is_some() {
                return Err(fail("give either a port or \":*\", not both".to_string()));
            }
            PortPattern::Any
        } else {
            PortPattern::Exact(url.port().unwrap_or(scheme.default_port()))
        };
        let host = if wildcard {
            HostPattern::Subdomains(host_text)
        } else {
            HostPattern::Exact(host_text)
        };
        Ok(AllowRule {
            text: trimmed.to_string(),
            source,
            matcher: Matcher::Host { scheme, host, port },
        })
    }

    /// The rule as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Where the rule came from.
    pub fn source(&self) -> &RuleSource {
        &self.source
    }

    /// Whether this rule allows the destination of `url`.
    pub fn allows(&self, url: &Url) -> bool {
        match &self.matcher {
            Matcher::Everything => true,
            Matcher::Host { scheme, host, port } => {
                url.scheme() == scheme.as_str()
                    && host_matches(host, url)
                    && match port {
                        PortPattern::Any => true,
                        PortPattern::Exact(p) => url.port_or_known_default() == Some(*p),
                    }
            }
        }
    }

    /// Same host, but the scheme or port differs: used to explain denials.
    fn is_near_miss(&self, url: &Url) -> bool {
        match &self.matcher {
            Matcher::Everything => false,
            Matcher::Host { host, .. } => host_matches(host, url) && !self.allows(url),
        }
    }
}

fn strip_trailing_dot(host: &str) -> &str {
    // "example.com." is the same DNS name as "example.com".
    host.strip_suffix('.').unwrap_or(host)
}

fn host_matches(pattern: &HostPattern, url: &Url) -> bool {
    let Some(host) = url.host() else {
        return false;
    };
    let text = strip_trailing_dot(url.host_str().unwrap_or_default());
    match pattern {
        HostPattern::Exact(expected) => text == expected,
        HostPattern::Subdomains(domain) => {
            // Only names, never IP literals; and a strict subdomain: the byte
            // before the suffix must be a dot, so "evil-example.com" and the
            // apex "example.com" both fail.
            matches!(host, Host::Domain(_))
                && text.len() > domain.len() + 1
                && text.ends_with(domain.as_str())
                && text.as_bytes()[text.len() - domain.len() - 1] == b'.'
        }
    }
}

/// The allowed destinations of one plugin. Empty = deny all.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    plugin: String,
    grant: AnyHostGrant,
    rules: Vec<AllowRule>,
    /// Where the plugin's own rules are written (for denials); `None` reads
    /// as plain `allowed_hosts`.
    location: Option<String>,
    /// The operator's narrowing list, when there is one.
    narrowing: Option<Narrowing>,
}

/// An operator list every destination must also match (configured
/// endpoints excepted).
#[derive(Debug, Clone)]
struct Narrowing {
    rules: Vec<AllowRule>,
    /// Where the list is written, e.g. `allowed_hosts of [plugins.hedera]
    /// in plugins.toml (line 4)`.
    location: String,
}

impl EgressPolicy {
    /// A policy for `plugin` (its name, used in messages) that denies
    /// everything until rules are added; `*` will be rejected.
    pub fn new(plugin: impl Into<String>) -> Self {
        Self::with_grant(plugin, AnyHostGrant::NotGranted)
    }

    /// Like [`EgressPolicy::new`], stating whether the operator granted `*`.
    pub fn with_grant(plugin: impl Into<String>, grant: AnyHostGrant) -> Self {
        EgressPolicy {
            plugin: plugin.into(),
            grant,
            rules: Vec::new(),
            location: None,
            narrowing: None,
        }
    }

    /// Says where the plugin's own rules are written, for denial messages:
    /// e.g. `allowed_hosts (plugin.toml [capabilities], line 24)`.
    pub fn located_at(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    /// Narrows the policy to destinations that `rules` (the operator's list,
    /// written at `location`) also allow. Configured endpoints stay allowed:
    /// the operator chose them. An empty list denies everything else. `*`
    /// is accepted here (an operator's own rule), and narrows nothing.
    pub fn narrow<I, S>(
        &mut self,
        rules: I,
        location: impl Into<String>,
    ) -> Result<(), RuleParseError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let rules = rules
            .into_iter()
            .map(|rule| {
                AllowRule::parse(
                    rule.as_ref(),
                    RuleSource::OperatorConfig,
                    AnyHostGrant::Granted,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.narrowing = Some(Narrowing {
            rules,
            location: location.into(),
        });
        Ok(())
    }

    /// The operator's narrowing rules, when the policy is narrowed.
    pub fn narrowing_rules(&self) -> Option<&[AllowRule]> {
        self.narrowing.as_ref().map(|n| n.rules.as_slice())
    }

    /// Builds a policy from rule strings that share one source.
    pub fn from_rules<I, S>(
        plugin: impl Into<String>,
        grant: AnyHostGrant,
        source: RuleSource,
        rules: I,
    ) -> Result<Self, RuleParseError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut policy = Self::with_grant(plugin, grant);
        for rule in rules {
            policy.allow(rule.as_ref(), source.clone())?;
        }
        Ok(policy)
    }

    /// Parses and adds one rule.
    pub fn allow(&mut self, rule: &str, source: RuleSource) -> Result<&mut Self, RuleParseError> {
        let rule = AllowRule::parse(rule, source, self.grant)?;
        self.rules.push(rule);
        Ok(self)
    }

    /// The plugin this policy belongs to.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// The rules, in the order they were added.
    pub fn rules(&self) -> &[AllowRule] {
        &self.rules
    }

    /// Allows `url` or explains, with the exact rule to add and where, why
    /// not.
    pub fn check(&self, url: &Url) -> Result<(), Denied> {
        let (endpoints, own): (Vec<&AllowRule>, Vec<&AllowRule>) = self
            .rules
            .iter()
            .partition(|rule| rule.source == RuleSource::ConfiguredEndpoint);
        if endpoints.iter().any(|rule| rule.allows(url)) {
            return Ok(());
        }
        let own_allows = own.iter().any(|rule| rule.allows(url));
        let narrowing_allows = self
            .narrowing
            .as_ref()
            .is_none_or(|n| n.rules.iter().any(|rule| rule.allows(url)));
        if own_allows && narrowing_allows {
            return Ok(());
        }
        let mut add_to = Vec::new();
        if !own_allows {
            add_to.push(
                self.location
                    .clone()
                    .unwrap_or_else(|| "allowed_hosts".to_string()),
            );
        }
        if let Some(narrowing) = self.narrowing.as_ref().filter(|_| !narrowing_allows) {
            add_to.push(narrowing.location.clone());
        }
        let narrowing_rules = self.narrowing.iter().flat_map(|n| n.rules.iter());
        let destination = destination_of(url);
        Err(Denied {
            plugin: self.plugin.clone(),
            rule_to_add: destination.clone(),
            destination,
            add_to,
            near_misses: self
                .rules
                .iter()
                .chain(narrowing_rules)
                .filter(|rule| rule.is_near_miss(url))
                .map(|rule| format!("\"{}\" (from {})", rule.text, rule.source))
                .collect(),
        })
    }
}

/// `scheme://host[:port]`, the port only when it is not the scheme's
/// default: exactly the rule that would allow this URL.
fn destination_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        // `Url::port` is already `None` for the scheme's default port.
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rules: &[&str]) -> EgressPolicy {
        EgressPolicy::from_rules(
            "hedera",
            AnyHostGrant::NotGranted,
            RuleSource::PluginManifest,
            rules,
        )
        .expect("rules parse")
    }

    fn allowed(policy: &EgressPolicy, url: &str) -> bool {
        policy
            .check(&Url::parse(url).expect("test URL parses"))
            .is_ok()
    }

    #[test]
    fn an_empty_policy_denies_everything() {
        let p = policy(&[]);
        assert!(!allowed(&p, "https://example.com/"));
        assert!(!allowed(&p, "http://127.0.0.1:5551/"));
    }

    #[test]
    fn a_plain_rule_allows_its_host_on_the_default_port_only() {
        let p = policy(&["https://mirror.example.com"]);
        assert!(allowed(
            &p,
            "https://mirror.example.com/api/v1/tokens?limit=100"
        ));
        assert!(allowed(&p, "https://mirror.example.com:443/"));
        assert!(
            allowed(&p, "https://MIRROR.Example.COM/"),
            "case-insensitive"
        );
        assert!(allowed(&p, "https://mirror.example.com./"), "trailing dot");
        assert!(!allowed(&p, "https://mirror.example.com:8443/"), "port");
        assert!(!allowed(&p, "http://mirror.example.com/"), "scheme");
        assert!(!allowed(&p, "https://other.example.com/"));
        assert!(!allowed(&p, "https://x.mirror.example.com/"), "subdomain");
    }

    #[test]
    fn an_explicit_port_must_match_exactly() {
        let p = policy(&["http://127.0.0.1:5551"]);
        assert!(allowed(&p, "http://127.0.0.1:5551/x"));
        assert!(!allowed(&p, "http://127.0.0.1:5552/x"));
        assert!(!allowed(&p, "http://127.0.0.1/x"));
        assert!(!allowed(&p, "https://127.0.0.1:5551/x"));
        assert!(!allowed(&p, "http://localhost:5551/x"));
    }

    #[test]
    fn a_wildcard_allows_subdomains_at_any_depth_but_not_the_apex_or_lookalikes() {
        let p = policy(&["https://*.example.com"]);
        assert!(allowed(&p, "https://a.example.com/"));
        assert!(allowed(&p, "https://a.b.c.example.com/"));
        assert!(allowed(&p, "https://A.EXAMPLE.com/"));
        assert!(!allowed(&p, "https://example.com/"), "apex");
        assert!(!allowed(&p, "https://evil-example.com/"), "lookalike");
        assert!(!allowed(&p, "https://evilexample.com/"), "lookalike");
        assert!(
            !allowed(&p, "https://example.com.evil.org/"),
            "suffix trick"
        );
        assert!(!allowed(&p, "https://a.example.com:8443/"), "port");
        assert!(!allowed(&p, "http://a.example.com/"), "scheme");
    }

    #[test]
    fn any_port_is_opt_in_with_colon_star() {
        let p = policy(&["http://127.0.0.1:*", "https://*.example.com:*"]);
        assert!(allowed(&p, "http://127.0.0.1:1/"));
        assert!(allowed(&p, "http://127.0.0.1/"));
        assert!(allowed(&p, "https://a.example.com:9999/"));
        assert!(!allowed(&p, "https://127.0.0.1:1/"));
    }

    #[test]
    fn ipv6_literals_are_written_in_brackets() {
        let p = policy(&["http://[::1]:8080"]);
        assert!(allowed(&p, "http://[::1]:8080/"));
        assert!(allowed(&p, "http://[0:0:0:0:0:0:0:1]:8080/"), "normalised");
        assert!(!allowed(&p, "http://[::2]:8080/"));
        assert!(!allowed(&p, "http://127.0.0.1:8080/"));
    }

    #[test]
    fn userinfo_cannot_smuggle_another_host_past_the_rule() {
        let p = policy(&["https://allowed.com"]);
        assert!(!allowed(&p, "https://allowed.com@evil.com/"));
        assert!(!allowed(&p, "https://allowed.com:443@evil.com/"));
        assert!(!allowed(&p, "https://user:allowed.com@evil.com/"));
        // The host really is allowed.com here; credentials do not change it.
        assert!(allowed(&p, "https://user@allowed.com/"));
    }

    #[test]
    fn a_wildcard_never_matches_ip_addresses() {
        assert!(
            AllowRule::parse(
                "https://*.1.2.3",
                RuleSource::OperatorConfig,
                AnyHostGrant::NotGranted
            )
            .is_err()
        );
        let p = policy(&["https://*.example.com"]);
        assert!(!allowed(&p, "https://1.2.3.4/"));
    }

    #[test]
    fn the_catch_all_needs_an_operator_grant() {
        let err = EgressPolicy::from_rules(
            "hedera",
            AnyHostGrant::NotGranted,
            RuleSource::PluginManifest,
            ["*"],
        )
        .unwrap_err();
        assert!(err.to_string().contains("operator"), "{err}");
        assert!(
            err.to_string().contains("plugin.toml allowed_hosts"),
            "{err}"
        );

        let p = EgressPolicy::from_rules(
            "hedera",
            AnyHostGrant::Granted,
            RuleSource::OperatorConfig,
            ["*"],
        )
        .expect("granted");
        assert!(allowed(&p, "https://anything.example.org:1234/"));
    }

    #[test]
    fn bad_rules_are_rejected_with_a_reason() {
        for (rule, needle) in [
            ("mirror.example.com", "expected http://"),
            ("ftp://mirror.example.com", "expected http://"),
            ("https://", "missing"),
            ("https://mirror.example.com/api", "not a path"),
            ("https://mirror.example.com?x=1", "not a path"),
            ("https://user@mirror.example.com", "user info"),
            ("https://a.*.example.com", "leading"),
            ("https://*example.com", "leading"),
            ("https://*.com", "top-level"),
            ("https://host:99999", "not valid"),
            ("https://host:80:*", "not both"),
            ("https://exa mple.com", "not valid"),
        ] {
            let err = AllowRule::parse(rule, RuleSource::PluginManifest, AnyHostGrant::NotGranted)
                .expect_err(rule);
            assert!(err.to_string().contains(needle), "{rule}: {err}");
            assert!(err.to_string().contains(rule), "{rule}: {err}");
        }
    }

    #[test]
    fn the_denial_names_the_destination_and_the_rule_to_add() {
        let p = policy(&["https://mirror.example.com"]);
        let err = p
            .check(&Url::parse("https://evil.example.org/steal?x=1").unwrap())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "https://evil.example.org is not in the allowed hosts of plugin hedera; \
             to allow it add \"https://evil.example.org\" to allowed_hosts"
        );

        let err = p
            .check(&Url::parse("http://mirror.example.com:8080/").unwrap())
            .unwrap_err();
        assert_eq!(err.rule_to_add, "http://mirror.example.com:8080");
        assert_eq!(
            err.near_misses,
            vec!["\"https://mirror.example.com\" (from plugin.toml allowed_hosts)".to_string()]
        );
        assert!(err.to_string().contains("another scheme or port"), "{err}");
    }

    #[test]
    fn rules_remember_their_source() {
        let mut p = EgressPolicy::new("xrpl");
        p.allow("https://s1.ripple.com", RuleSource::ConfiguredEndpoint)
            .unwrap()
            .allow("https://*.xrplcluster.com", RuleSource::OperatorConfig)
            .unwrap();
        assert_eq!(p.rules()[0].source().to_string(), "configured endpoint");
        assert_eq!(p.rules()[1].source().to_string(), "operator config");
        assert_eq!(p.rules()[1].text(), "https://*.xrplcluster.com");
        assert_eq!(p.plugin(), "xrpl");
    }

    fn narrowed(manifest: &[&str], operator: &[&str]) -> EgressPolicy {
        let mut p =
            policy(manifest).located_at("allowed_hosts (plugin.toml [capabilities], line 9)");
        p.narrow(
            operator,
            "allowed_hosts of [plugins.hedera] in plugins.toml (line 3)",
        )
        .expect("operator rules parse");
        p
    }

    #[test]
    fn a_narrowed_policy_allows_only_what_both_lists_allow() {
        let p = narrowed(
            &["https://*.example.com", "https://api.other.org"],
            &["https://mirror.example.com", "https://api.third.net"],
        );
        assert!(allowed(&p, "https://mirror.example.com/x"), "in both");
        assert!(!allowed(&p, "https://other.example.com/"), "manifest only");
        assert!(!allowed(&p, "https://api.other.org/"), "manifest only");
        assert!(!allowed(&p, "https://api.third.net/"), "operator only");
        assert!(!allowed(&p, "https://example.com/"), "apex in neither");
    }

    #[test]
    fn an_empty_operator_list_denies_all_but_configured_endpoints() {
        let mut p = narrowed(&["https://*.example.com"], &[]);
        assert!(!allowed(&p, "https://mirror.example.com/"));
        p.allow("http://127.0.0.1:5551", RuleSource::ConfiguredEndpoint)
            .unwrap();
        assert!(
            allowed(&p, "http://127.0.0.1:5551/api"),
            "the operator's own endpoint passes the narrowing"
        );
        assert!(!allowed(&p, "http://127.0.0.1:5552/api"));
    }

    #[test]
    fn an_operator_star_narrows_nothing() {
        let p = narrowed(&["https://*.example.com"], &["*"]);
        assert!(allowed(&p, "https://a.example.com/"));
        assert!(
            !allowed(&p, "https://a.other.com/"),
            "the manifest still rules"
        );
    }

    #[test]
    fn a_denial_names_every_list_that_lacks_the_destination_and_where_it_is() {
        let p = narrowed(&["https://*.example.com"], &["https://mirror.example.com"]);
        let err = p
            .check(&Url::parse("https://other.example.com/x").unwrap())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "https://other.example.com is not in the allowed hosts of plugin hedera; to allow it \
             add \"https://other.example.com\" to allowed_hosts of [plugins.hedera] in \
             plugins.toml (line 3)"
        );
        let err = p
            .check(&Url::parse("https://evil.org/").unwrap())
            .unwrap_err();
        assert_eq!(
            err.add_to,
            vec![
                "allowed_hosts (plugin.toml [capabilities], line 9)".to_string(),
                "allowed_hosts of [plugins.hedera] in plugins.toml (line 3)".to_string(),
            ]
        );
        assert!(
            err.to_string()
                .contains("add \"https://evil.org\" to allowed_hosts (plugin.toml [capabilities], line 9) and to allowed_hosts of [plugins.hedera]"),
            "{err}"
        );
        let err = p
            .check(&Url::parse("http://mirror.example.com/").unwrap())
            .unwrap_err();
        assert_eq!(
            err.near_misses,
            vec![
                "\"https://*.example.com\" (from plugin.toml allowed_hosts)".to_string(),
                "\"https://mirror.example.com\" (from operator config)".to_string(),
            ]
        );
    }

    #[test]
    fn an_operator_rule_is_checked_like_any_other() {
        let mut p = policy(&["https://*.example.com"]);
        let err = p
            .narrow(["https://exa mple.com"], "allowed_hosts of [plugins.x]")
            .unwrap_err();
        assert!(err.to_string().contains("operator config"), "{err}");
    }
}
