-- mxauth initial schema, PostgreSQL flavour.
--
-- Conventions (see docs/storage.md):
--   * every time is TIMESTAMPTZ (microseconds), UTC, set by the application
--     (no SQL defaults);
--   * lists are JSON arrays in TEXT;
--   * optional references are NULL, optional plain text is '';
--   * identifiers, hashes and codes use the "C" collation, so ordering and
--     comparison are bytewise whatever the database's default collation.

-- +goose Up
CREATE TABLE users (
    id                TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    username          TEXT COLLATE "C" NOT NULL,
    created_at        TIMESTAMPTZ      NOT NULL,
    locked_at         TIMESTAMPTZ,
    deactivated_at    TIMESTAMPTZ,
    can_request_admin BOOLEAN          NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (username);

CREATE TABLE user_emails (
    id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id          TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email            TEXT             NOT NULL,
    email_normalized TEXT COLLATE "C" NOT NULL,
    created_at       TIMESTAMPTZ      NOT NULL,
    confirmed_at     TIMESTAMPTZ
);
CREATE UNIQUE INDEX user_emails_user_email_key ON user_emails (user_id, email_normalized);
CREATE INDEX user_emails_email_idx ON user_emails (email_normalized);

CREATE TABLE user_passwords (
    id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id          TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    version          INTEGER          NOT NULL,
    hash             TEXT             NOT NULL,
    created_at       TIMESTAMPTZ      NOT NULL,
    upgraded_from_id TEXT COLLATE "C" REFERENCES user_passwords (id) ON DELETE SET NULL
);
CREATE INDEX user_passwords_user_idx ON user_passwords (user_id, created_at);
CREATE INDEX user_passwords_upgraded_from_idx ON user_passwords (upgraded_from_id);

CREATE TABLE browser_sessions (
    id             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id        TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TIMESTAMPTZ      NOT NULL,
    finished_at    TIMESTAMPTZ,
    user_agent     TEXT             NOT NULL,
    last_active_at TIMESTAMPTZ,
    last_active_ip TEXT             NOT NULL
);
CREATE INDEX browser_sessions_user_idx ON browser_sessions (user_id, id);

CREATE TABLE authentications (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    browser_session_id TEXT COLLATE "C" NOT NULL REFERENCES browser_sessions (id) ON DELETE CASCADE,
    method             TEXT             NOT NULL,
    created_at         TIMESTAMPTZ      NOT NULL
);
CREATE INDEX authentications_session_idx ON authentications (browser_session_id, created_at);

CREATE TABLE oauth_clients (
    id                              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    is_static                       BOOLEAN          NOT NULL,
    first_party                     BOOLEAN          NOT NULL,
    application_type                TEXT             NOT NULL,
    redirect_uris                   TEXT             NOT NULL,
    grant_types                     TEXT             NOT NULL,
    response_types                  TEXT             NOT NULL,
    token_endpoint_auth_method      TEXT             NOT NULL,
    encrypted_secret                TEXT             NOT NULL,
    client_name                     TEXT             NOT NULL,
    client_uri                      TEXT             NOT NULL,
    logo_uri                        TEXT             NOT NULL,
    policy_uri                      TEXT             NOT NULL,
    tos_uri                         TEXT             NOT NULL,
    contacts                        TEXT             NOT NULL,
    jwks                            TEXT             NOT NULL,
    jwks_uri                        TEXT             NOT NULL,
    id_token_signed_response_alg    TEXT             NOT NULL,
    userinfo_signed_response_alg    TEXT             NOT NULL,
    token_endpoint_auth_signing_alg TEXT             NOT NULL,
    metadata_hash                   TEXT COLLATE "C",
    created_at                      TIMESTAMPTZ      NOT NULL
);
CREATE INDEX oauth_clients_metadata_hash_idx ON oauth_clients (metadata_hash) WHERE metadata_hash IS NOT NULL;

CREATE TABLE oauth_sessions (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id            TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    client_id          TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients (id),
    browser_session_id TEXT COLLATE "C" REFERENCES browser_sessions (id) ON DELETE SET NULL,
    scope              TEXT             NOT NULL,
    device_id          TEXT COLLATE "C" NOT NULL,
    human_name         TEXT             NOT NULL,
    created_at         TIMESTAMPTZ      NOT NULL,
    finished_at        TIMESTAMPTZ,
    user_agent         TEXT             NOT NULL,
    last_active_at     TIMESTAMPTZ,
    last_active_ip     TEXT             NOT NULL
);
CREATE INDEX oauth_sessions_user_idx ON oauth_sessions (user_id, id);
CREATE INDEX oauth_sessions_user_active_device_idx ON oauth_sessions (user_id, device_id) WHERE finished_at IS NULL;
CREATE INDEX oauth_sessions_client_idx ON oauth_sessions (client_id, id);
CREATE INDEX oauth_sessions_browser_session_idx ON oauth_sessions (browser_session_id);

CREATE TABLE authorization_grants (
    id                    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_id             TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    redirect_uri          TEXT             NOT NULL,
    scope                 TEXT             NOT NULL,
    state                 TEXT             NOT NULL,
    nonce                 TEXT             NOT NULL,
    response_mode         TEXT             NOT NULL,
    response_type         TEXT             NOT NULL,
    code_challenge        TEXT             NOT NULL,
    code_challenge_method TEXT             NOT NULL,
    max_age               INTEGER,
    prompt                TEXT             NOT NULL,
    login_hint            TEXT             NOT NULL,
    ui_locales            TEXT             NOT NULL,
    code_hash             TEXT COLLATE "C",
    browser_session_id    TEXT COLLATE "C" REFERENCES browser_sessions (id) ON DELETE SET NULL,
    oauth_session_id      TEXT COLLATE "C" REFERENCES oauth_sessions (id) ON DELETE SET NULL,
    created_at            TIMESTAMPTZ      NOT NULL,
    fulfilled_at          TIMESTAMPTZ,
    exchanged_at          TIMESTAMPTZ,
    cancelled_at          TIMESTAMPTZ
);
CREATE UNIQUE INDEX authorization_grants_code_hash_key ON authorization_grants (code_hash);
CREATE INDEX authorization_grants_client_idx ON authorization_grants (client_id);
CREATE INDEX authorization_grants_created_idx ON authorization_grants (created_at);
CREATE INDEX authorization_grants_browser_session_idx ON authorization_grants (browser_session_id);
CREATE INDEX authorization_grants_oauth_session_idx ON authorization_grants (oauth_session_id);

CREATE TABLE device_code_grants (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_id          TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope              TEXT             NOT NULL,
    device_code_hash   TEXT COLLATE "C" NOT NULL,
    user_code          TEXT COLLATE "C" NOT NULL,
    created_at         TIMESTAMPTZ      NOT NULL,
    expires_at         TIMESTAMPTZ      NOT NULL,
    last_polled_at     TIMESTAMPTZ,
    fulfilled_at       TIMESTAMPTZ,
    rejected_at        TIMESTAMPTZ,
    exchanged_at       TIMESTAMPTZ,
    browser_session_id TEXT COLLATE "C" REFERENCES browser_sessions (id) ON DELETE SET NULL,
    user_id            TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    oauth_session_id   TEXT COLLATE "C" REFERENCES oauth_sessions (id) ON DELETE SET NULL,
    requester_ip       TEXT             NOT NULL,
    user_agent         TEXT             NOT NULL
);
CREATE UNIQUE INDEX device_code_grants_device_code_hash_key ON device_code_grants (device_code_hash);
-- A user code is unique among undecided grants: the code a person types
-- designates exactly one request.
CREATE UNIQUE INDEX device_code_grants_user_code_key ON device_code_grants (user_code)
    WHERE fulfilled_at IS NULL AND rejected_at IS NULL;
CREATE INDEX device_code_grants_client_idx ON device_code_grants (client_id);
CREATE INDEX device_code_grants_created_idx ON device_code_grants (created_at);
CREATE INDEX device_code_grants_browser_session_idx ON device_code_grants (browser_session_id);
CREATE INDEX device_code_grants_user_idx ON device_code_grants (user_id);
CREATE INDEX device_code_grants_oauth_session_idx ON device_code_grants (oauth_session_id);

CREATE TABLE oauth_consents (
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    updated_at TIMESTAMPTZ      NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX oauth_consents_client_idx ON oauth_consents (client_id);

CREATE TABLE oauth_consent_scopes (
    user_id     TEXT COLLATE "C" NOT NULL,
    client_id   TEXT COLLATE "C" NOT NULL,
    scope_token TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, client_id, scope_token),
    FOREIGN KEY (user_id, client_id) REFERENCES oauth_consents (user_id, client_id) ON DELETE CASCADE
);

CREATE TABLE access_tokens (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    session_id    TEXT COLLATE "C" NOT NULL REFERENCES oauth_sessions (id) ON DELETE CASCADE,
    token_hash    TEXT COLLATE "C" NOT NULL,
    created_at    TIMESTAMPTZ      NOT NULL,
    expires_at    TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ,
    first_used_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX access_tokens_token_hash_key ON access_tokens (token_hash);
CREATE INDEX access_tokens_session_idx ON access_tokens (session_id);
CREATE INDEX access_tokens_expires_idx ON access_tokens (expires_at);
CREATE INDEX access_tokens_revoked_idx ON access_tokens (revoked_at);

CREATE TABLE refresh_tokens (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    session_id      TEXT COLLATE "C" NOT NULL REFERENCES oauth_sessions (id) ON DELETE CASCADE,
    token_hash      TEXT COLLATE "C" NOT NULL,
    access_token_id TEXT COLLATE "C" REFERENCES access_tokens (id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ      NOT NULL,
    consumed_at     TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ,
    -- Deferred: a refresh may consume the old token before inserting its
    -- successor, in the same transaction.
    next_id         TEXT COLLATE "C" REFERENCES refresh_tokens (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED
);
CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_access_token_idx ON refresh_tokens (access_token_id);
CREATE INDEX refresh_tokens_next_idx ON refresh_tokens (next_id);
CREATE INDEX refresh_tokens_consumed_idx ON refresh_tokens (consumed_at);
CREATE INDEX refresh_tokens_revoked_idx ON refresh_tokens (revoked_at);

CREATE TABLE compat_sessions (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id            TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id          TEXT COLLATE "C" NOT NULL,
    human_name         TEXT             NOT NULL,
    is_synapse_admin   BOOLEAN          NOT NULL,
    browser_session_id TEXT COLLATE "C" REFERENCES browser_sessions (id) ON DELETE SET NULL,
    created_at         TIMESTAMPTZ      NOT NULL,
    finished_at        TIMESTAMPTZ,
    user_agent         TEXT             NOT NULL,
    last_active_at     TIMESTAMPTZ,
    last_active_ip     TEXT             NOT NULL
);
CREATE INDEX compat_sessions_user_idx ON compat_sessions (user_id, id);
CREATE INDEX compat_sessions_user_active_device_idx ON compat_sessions (user_id, device_id) WHERE finished_at IS NULL;
CREATE INDEX compat_sessions_browser_session_idx ON compat_sessions (browser_session_id);

CREATE TABLE compat_access_tokens (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    session_id TEXT COLLATE "C" NOT NULL REFERENCES compat_sessions (id) ON DELETE CASCADE,
    token_hash TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ      NOT NULL,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX compat_access_tokens_token_hash_key ON compat_access_tokens (token_hash);
CREATE INDEX compat_access_tokens_session_idx ON compat_access_tokens (session_id);
CREATE INDEX compat_access_tokens_expires_idx ON compat_access_tokens (expires_at);
CREATE INDEX compat_access_tokens_revoked_idx ON compat_access_tokens (revoked_at);

CREATE TABLE compat_refresh_tokens (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    session_id      TEXT COLLATE "C" NOT NULL REFERENCES compat_sessions (id) ON DELETE CASCADE,
    access_token_id TEXT COLLATE "C" REFERENCES compat_access_tokens (id) ON DELETE SET NULL,
    token_hash      TEXT COLLATE "C" NOT NULL,
    created_at      TIMESTAMPTZ      NOT NULL,
    consumed_at     TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ
);
CREATE UNIQUE INDEX compat_refresh_tokens_token_hash_key ON compat_refresh_tokens (token_hash);
CREATE INDEX compat_refresh_tokens_session_idx ON compat_refresh_tokens (session_id);
CREATE INDEX compat_refresh_tokens_access_token_idx ON compat_refresh_tokens (access_token_id);
CREATE INDEX compat_refresh_tokens_consumed_idx ON compat_refresh_tokens (consumed_at);
CREATE INDEX compat_refresh_tokens_revoked_idx ON compat_refresh_tokens (revoked_at);

CREATE TABLE compat_sso_logins (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    login_token_hash   TEXT COLLATE "C" NOT NULL,
    redirect_uri       TEXT             NOT NULL,
    created_at         TIMESTAMPTZ      NOT NULL,
    fulfilled_at       TIMESTAMPTZ,
    exchanged_at       TIMESTAMPTZ,
    user_id            TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    browser_session_id TEXT COLLATE "C" REFERENCES browser_sessions (id) ON DELETE SET NULL,
    compat_session_id  TEXT COLLATE "C" REFERENCES compat_sessions (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX compat_sso_logins_login_token_hash_key ON compat_sso_logins (login_token_hash);
CREATE INDEX compat_sso_logins_created_idx ON compat_sso_logins (created_at);
CREATE INDEX compat_sso_logins_user_idx ON compat_sso_logins (user_id);
CREATE INDEX compat_sso_logins_browser_session_idx ON compat_sso_logins (browser_session_id);
CREATE INDEX compat_sso_logins_compat_session_idx ON compat_sso_logins (compat_session_id);

CREATE TABLE client_assertion_jtis (
    client_id  TEXT COLLATE "C" NOT NULL,
    jti        TEXT COLLATE "C" NOT NULL,
    expires_at TIMESTAMPTZ      NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_expires_idx ON client_assertion_jtis (expires_at);

-- +goose Down
DROP TABLE client_assertion_jtis;
DROP TABLE compat_sso_logins;
DROP TABLE compat_refresh_tokens;
DROP TABLE compat_access_tokens;
DROP TABLE compat_sessions;
DROP TABLE refresh_tokens;
DROP TABLE access_tokens;
DROP TABLE oauth_consent_scopes;
DROP TABLE oauth_consents;
DROP TABLE device_code_grants;
DROP TABLE authorization_grants;
DROP TABLE oauth_sessions;
DROP TABLE oauth_clients;
DROP TABLE authentications;
DROP TABLE browser_sessions;
DROP TABLE user_passwords;
DROP TABLE user_emails;
DROP TABLE users;
