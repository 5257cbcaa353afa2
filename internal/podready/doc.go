// Package podready decides whether a Pod is an endpoint of the pools that
// select it, by the rule of GAIE's endpoint pickers
// (pkg/epp/util/pod.IsPodReady in v1.5.0, pkg/lwepp/util/pod in v1.6.0): a
// Pod serves when its Ready condition is True and it is not being deleted.
// Two additions, which a cluster's Pods always satisfy when they are Ready:
// it needs an IP to be reached at, and a status.phase other than Running
// (Pending, Succeeded, Failed, Unknown), when one is given, excludes it.
// A Pod without status.phase, as Pods written in files often are, is judged
// by its Ready condition alone.
//
// The standalone loader (Pods declared in files) and the Kubernetes pod
// source (Pods watched in a cluster) both call [Address], so that a Pod
// counts the same way in both.
//
// This package must not import anything but the Kubernetes core API types.
package podready
