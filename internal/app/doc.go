// Package app is the aigw command: it parses the command line and composes
// the long-running parts (gateway listeners, admin server, configuration
// watcher, simulated model servers) until its context ends.
//
// Main is the whole program, so cmd/aigw stays a few lines and the command
// is testable in-process.
package app
