-- Single sign-on with OpenID Connect (issue 23, item 9).

-- An account signed in through an identity provider is known by the provider's issuer and its
-- subject (`sub`, stable per provider, unlike the email). Accounts created by single sign-on
-- have no password: `password_hash` may be NULL, and password login refuses them.
ALTER TABLE accounts
    ADD COLUMN oidc_issuer text,
    ADD COLUMN oidc_subject text,
    ALTER COLUMN password_hash DROP NOT NULL,
    ADD CONSTRAINT accounts_oidc_identity UNIQUE (oidc_issuer, oidc_subject),
    ADD CONSTRAINT accounts_oidc_pair CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL)),
    -- Every account has some way to sign in.
    ADD CONSTRAINT accounts_can_sign_in CHECK (password_hash IS NOT NULL OR oidc_subject IS NOT NULL);
