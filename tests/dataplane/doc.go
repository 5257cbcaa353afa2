// Package dataplane holds the data-plane tier tests: the aigw command runs
// in-process (app.Main, exactly as the binary does) from YAML files, in
// front of simulated model servers (internal/sim), driven by the real
// openai-go client.
package dataplane
