// Package backendauth injects upstream credentials, one file per
// BackendSecurityPolicy type, chosen by the one switch in [New]. Handlers
// never log or return credentials in errors.
//
// This package must not import the HTTP front end or control-plane packages.
package backendauth
