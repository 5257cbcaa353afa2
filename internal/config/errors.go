package config

// Parts of a configuration a data plane may refuse, for [PartError].
const (
	PartRoute         = "route"
	PartBackend       = "backend"
	PartBackendPolicy = "BackendSecurityPolicy"
	PartClientPolicy  = "SecurityPolicy"
)

// PartError is a data plane's refusal of one part of a configuration:
// Part is one of the Part constants and Name its name in the
// configuration ("namespace/name" for routes and policies, a
// [Backend.Name] for backends), so that a control plane can report it on
// the resource and leave it out. Its message is Err's, which names the
// part.
type PartError struct {
	Part, Name string
	Err        error
}

func (e *PartError) Error() string { return e.Err.Error() }

func (e *PartError) Unwrap() error { return e.Err }

// PartErrors returns the PartErrors in err's tree (errors.Join and %w).
func PartErrors(err error) []*PartError {
	var out []*PartError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *PartError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}
