package sessions

// ReasonUser means the person ended the session themselves, from the
// account page (the org.matrix.device_delete account-management action).
const ReasonUser Reason = "user"
