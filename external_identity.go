package kiln

// ExternalIdentity is what a company's identity provider says about a
// person who signed in to the console through it (package sso reads it
// from an OpenID Connect ID token and userinfo).
type ExternalIdentity struct {
	// Issuer and Subject identify the person at the provider for good.
	Issuer, Subject string
	// Email is the person's email: their kiln userName.
	Email string
	// Name, GivenName and FamilyName are the profile claims, when sent.
	Name, GivenName, FamilyName string
	// Groups are the group names the provider sent; HasGroups says whether
	// it sent the groups claim at all (a provider that sends none must not
	// empty a person's groups).
	Groups    []string
	HasGroups bool
}
