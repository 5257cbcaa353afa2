// Package apierror defines the errors the gateway reports to clients and the
// one function that turns any error into an HTTP status and an
// OpenAI-shaped JSON body.
//
// Errors are created where they happen, wrapped with %w on the way up and
// mapped exactly once, at the transport edge, by [Write] or [Render]. Only
// messages of errors built by this package reach the client; anything else
// becomes a generic message, so internal details and credentials never leak.
//
// This package must not import any other package of this module.
package apierror
