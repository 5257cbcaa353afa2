// Package labels bounds values that clients choose (model names, request
// IDs, paths) before they become Prometheus label values or log attributes:
// [Truncate] cuts a value to a byte length on a UTF-8 boundary, and a [Set]
// admits a bounded number of distinct label values and maps the rest to
// [Other], so that no client can create unbounded series.
//
// This package must not import the HTTP front end, Prometheus or
// control-plane packages.
package labels
