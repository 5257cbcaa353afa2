// Package router selects, for each request, the route rule that serves it
// and plans the backends its attempts go to.
//
// A [Table] is compiled once per configuration from a config.Config and is
// immutable afterwards, so it is safe for concurrent use and swapped as a
// whole on reload. Rules that match the model header exactly are indexed by
// model, so matching costs O(1) in the number of such rules; rules matched by
// regular expression or by other headers only are checked in precedence
// order after the index lookup.
//
// This package must not import Kubernetes or control-plane packages, nor the
// HTTP front end.
package router
