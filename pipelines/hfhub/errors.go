package hfhub

import (
	"errors"
	"strings"
)

// Error kinds, matched with errors.Is on an *Error.
var (
	ErrNotCached    = errors.New("not in the local cache")
	ErrNotFound     = errors.New("not found on the hub")
	ErrUnauthorized = errors.New("not authorized")
	ErrIntegrity    = errors.New("download failed verification")
)

// Error is a failure to resolve or download one file of one repository.
type Error struct {
	Repo     Repo
	Revision string
	File     string // empty when the whole repository or revision is concerned
	Status   int    // HTTP status, 0 when no response is concerned
	Kind     error  // ErrNotCached, ErrNotFound, ErrUnauthorized, ErrIntegrity or nil
	Msg      string
	Err      error // underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("hfhub: ")
	b.WriteString(e.Repo.String())
	if e.File != "" {
		b.WriteString(": file " + e.File)
	}
	if e.Revision != "" {
		b.WriteString(" (revision " + e.Revision + ")")
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Is matches the error's Kind.
func (e *Error) Is(target error) bool { return e.Kind != nil && target == e.Kind }

func (e *Error) Unwrap() error { return e.Err }
