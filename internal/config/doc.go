// Package config is the contract between any control plane and the data plane.
//
// A control plane (the standalone file loader in internal/standalone today, a
// Kubernetes controller later) compiles the user's resources into a [Config];
// the data plane compiles a Config into its runtime form and serves it. The
// types here are plain structs with JSON tags so that a Config can be written
// to a file, diffed in golden tests and shipped across a process boundary.
//
// This package must not import Kubernetes, Gateway API, Envoy Gateway or any
// other control-plane package, nor anything from the data plane.
package config
