package epp

import "errors"

// ErrPickerFailed wraps every failure of the endpoint picker itself; the
// pool's failure mode decides what the request gets.
var ErrPickerFailed = errors.New("endpoint picker failed")
