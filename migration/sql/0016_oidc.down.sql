-- Accounts that only single sign-on could open cannot exist without it (password_hash is NOT
-- NULL again): they go.
DELETE FROM accounts WHERE password_hash IS NULL;
ALTER TABLE accounts
    DROP CONSTRAINT accounts_can_sign_in,
    DROP CONSTRAINT accounts_oidc_pair,
    DROP CONSTRAINT accounts_oidc_identity,
    DROP COLUMN oidc_subject,
    DROP COLUMN oidc_issuer,
    ALTER COLUMN password_hash SET NOT NULL;
