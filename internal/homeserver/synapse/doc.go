// Package synapse implements homeserver.Connection against Synapse over
// HTTP, in two flavours (spec/protocol.md §7):
//
//   - Client (New, kind "synapse") calls the twelve /_synapse/mas/* endpoints
//     of Synapse ≥ 1.136, authenticated with the shared secret as a bearer
//     token. Request bodies are exactly those Synapse validates: optional
//     keys are left out rather than sent as null or false, and set_x and
//     unset_x are never both present.
//   - LegacyClient (NewLegacy, kind "synapse_legacy") calls the classic admin
//     API (/_synapse/admin/...) of Synapse running MSC3861's experimental
//     delegation, with the secret as the admin token.
//
// # Timeouts and retries
//
// Each HTTP attempt has its own timeout (Config.Timeout, 10 s by default;
// delete_user gets Config.DeleteUserTimeout, 5 min by default, because
// deactivating a large account is slow). A call is tried up to
// Config.MaxAttempts times (3 by default). Only failures that may pass are
// retried: network errors, attempt timeouts, 5xx and 429 answers. A 4xx
// answer is final. Between attempts the client waits an exponential back-off
// (Config.BackoffBase doubled per attempt, capped at Config.BackoffMax) with
// random jitter, or what the homeserver asked for with a Retry-After header
// or a retry_after_ms body field. If the homeserver asks for more than
// Config.MaxRetryAfter, the client stops and returns the (retryable) error,
// leaving the wait to the caller's job queue. The wait is done by
// Config.Sleep, which tests replace so that they do not wait.
//
// Retrying is safe because every call is idempotent by design: provision_user
// and upsert_device create or update, delete_device and sync_devices converge
// on a target state, delete_user and reactivate_user set a state, and the
// display-name and cross-signing calls overwrite. Repeating a call whose
// answer was lost therefore changes nothing further.
//
// # Errors
//
// Every failure is a *homeserver.Error naming the operation, the user and
// the homeserver's answer; errors.Is(err, homeserver.ErrUserNotFound)
// recognises an unknown user, and homeserver.Retryable tells transient
// failures from permanent ones.
package synapse
