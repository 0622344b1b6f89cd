package server

import "net/http"

// errPending answers routes whose resource has not landed yet.
var errPending = &APIError{Code: http.StatusNotImplemented, Message: "not available yet"}
