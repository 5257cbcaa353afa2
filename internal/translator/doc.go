// Package translator converts requests from the client's API schema to a
// backend's and responses back, and reads token usage from responses.
//
// There is one file per schema pair, <in>_<out>.go, and one switch, in
// [New], that picks among them. A Translator is created per attempt and is
// not safe for concurrent use.
//
// This package must not import the HTTP front end, the router or any
// control-plane package.
package translator
