// Package llm is the shared vocabulary of the request pipeline: the
// operation a client asked for, its parsed request, the upstream request of
// one attempt, the authenticator that signs it and the token usage of a
// response.
//
// It holds plain types only, so that packages which need them (backend
// authentication, metrics, costs, the translator, the pipeline and its
// transports) can share them without importing one another.
//
// This package must not import any other package of this module: it
// imports only the standard library.
package llm
