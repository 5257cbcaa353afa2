package standalone

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ErrNotSupported is wrapped by every error about configuration that is
// valid but that standalone mode cannot serve yet (cloud credentials,
// HTTPRoute filters, …). Test for it with errors.Is.
var ErrNotSupported = errors.New("not supported yet in standalone mode")

// Source locates a resource (or a line) of the input.
type Source struct {
	// File is the path given to Load, or the name given to LoadBytes.
	File string
	// Line is the 1-based line in File, when the problem is tied to a line
	// (environment substitution); zero otherwise.
	Line int
	// Doc is the 1-based index of the YAML document in File, counting only
	// documents that hold something; zero when not tied to a document.
	Doc int
	// APIVersion, Kind, Namespace and Name identify the resource, when the
	// document could be decoded that far. Namespace is already defaulted.
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
}

// String formats s as "config.yaml: document 3: AIGatewayRoute default/chat".
func (s Source) String() string {
	var b strings.Builder
	b.WriteString(s.File)
	if s.Line > 0 {
		fmt.Fprintf(&b, ":%d", s.Line)
	}
	if s.Doc > 0 {
		fmt.Fprintf(&b, ": document %d", s.Doc)
	}
	if s.Kind != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(s.Kind)
		if s.Name != "" {
			b.WriteString(" ")
			b.WriteString(s.Namespace)
			b.WriteString("/")
			b.WriteString(s.Name)
		}
	}
	return b.String()
}

// ref returns "Kind namespace/name" of s, for messages about references.
func (s Source) ref() string { return s.Kind + " " + s.Namespace + "/" + s.Name }

// Error is one problem found in the input. Load reports all of them at once,
// joined with errors.Join; use errors.As to get at each.
type Error struct {
	// Source is where the problem is.
	Source Source
	// Field is the path of the offending field, such as
	// "spec.rules[0].backendRefs[1].weight"; empty when the whole document
	// or file is at fault.
	Field string
	// Err says what is wrong. It never holds a credential.
	Err error
	// Reason, when set, classifies the error for a controller's status
	// (one of the Reason constants).
	Reason string
}

// Error implements [error]: "file: document N: Kind ns/name: field: message".
func (e *Error) Error() string {
	s := e.Source.String()
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying error, such as [ErrNotSupported].
func (e *Error) Unwrap() error { return e.Err }

// Warning is something in the input that the gateway ignores or approximates:
// a resource it does not understand, a field it does not honour yet, an
// unset environment variable. Warnings never hold a credential.
type Warning struct {
	Source  Source
	Field   string
	Message string
	// Reason, when set, classifies the warning for a controller's status
	// (one of the Reason constants).
	Reason string
}

// Reasons of the errors and warnings a controller reports in status
// conditions (Gateway API's and GAIE's condition reasons).
const (
	// ReasonBackendNotFound: a route's backend reference does not resolve.
	ReasonBackendNotFound = "BackendNotFound"
	// ReasonRefNotPermitted: a reference across namespaces that no
	// ReferenceGrant allows.
	ReasonRefNotPermitted = "RefNotPermitted"
	// ReasonInvalidExtensionRef: a pool's endpoint picker reference does
	// not resolve.
	ReasonInvalidExtensionRef = "InvalidExtensionRef"
	// ReasonInvalidKind: a route's backend reference is of a kind the
	// gateway does not route to.
	ReasonInvalidKind = "InvalidKind"
	// ReasonNoMatchingParent: a route's parentRef names no listener of
	// the Gateway (sectionName, port).
	ReasonNoMatchingParent = "NoMatchingParent"
	// ReasonHostnameConflict: a Gateway listener's port and hostname are
	// another listener's (the Error's Field names the listener).
	ReasonHostnameConflict = "HostnameConflict"
	// ReasonProtocolConflict: a Gateway listener shares its port with one
	// of another protocol or other connection settings.
	ReasonProtocolConflict = "ProtocolConflict"
)

// String formats w like an [Error].
func (w Warning) String() string {
	s := w.Source.String()
	if w.Field != "" {
		s += ": " + w.Field
	}
	return s + ": " + w.Message
}

// diag collects the errors and warnings of one load.
type diag struct {
	errs  []error
	warns []Warning
}

func (d *diag) err(src Source, path *field.Path, err error) {
	d.errField(src, pathString(path), err)
}

func (d *diag) errField(src Source, fieldPath string, err error) {
	d.errs = append(d.errs, &Error{Source: src, Field: fieldPath, Err: err})
}

func (d *diag) errorf(src Source, path *field.Path, format string, args ...any) {
	d.errorReasonf(src, path, "", format, args...)
}

// errorReasonf is errorf with the error's reason.
func (d *diag) errorReasonf(src Source, path *field.Path, reason, format string, args ...any) {
	d.errs = append(d.errs, &Error{Source: src, Field: pathString(path), Err: fmt.Errorf(format, args...), Reason: reason})
}

// notSupported reports configuration standalone mode cannot serve yet.
func (d *diag) notSupported(src Source, path *field.Path, what string) {
	d.err(src, path, fmt.Errorf("%s: %w", what, ErrNotSupported))
}

func (d *diag) warnf(src Source, path *field.Path, format string, args ...any) {
	d.reasonf(src, path, "", format, args...)
}

// reasonf is warnf with the warning's reason.
func (d *diag) reasonf(src Source, path *field.Path, reason, format string, args ...any) {
	d.warns = append(d.warns, Warning{Source: src, Field: pathString(path), Message: fmt.Sprintf(format, args...), Reason: reason})
}

// ignored warns that a field is accepted but has no effect in standalone
// mode.
func (d *diag) ignored(src Source, path *field.Path, why string) {
	d.warnf(src, path, "ignored: %s", why)
}

func (d *diag) failed() bool { return len(d.errs) > 0 }

func pathString(p *field.Path) string {
	if p == nil {
		return ""
	}
	return p.String()
}
