// Package backendauth injects upstream credentials, one file per
// BackendSecurityPolicy type, chosen by the one switch in [New]. Handlers
// never log or return credentials in errors.
//
// This package must not import the HTTP front end, the request pipeline
// (internal/processor), the translator or control-plane packages; the
// types it shares with them live in internal/llm.
package backendauth
