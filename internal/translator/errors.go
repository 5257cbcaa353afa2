package translator

import "errors"

// ErrUnsupported is returned for an operation the backend schema cannot
// serve, or a schema pair not implemented.
var ErrUnsupported = errors.New("unsupported translation")
