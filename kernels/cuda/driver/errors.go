package driver

import "fmt"

// Result is a CUresult.
type Result int32

// CUresult values the package refers to.
const (
	Success       Result = 0
	ErrInvalidVal Result = 1
	ErrOutOfMem   Result = 2
	ErrNotInit    Result = 3
	ErrNoDevice   Result = 100
)

// Error is a failed driver call.
type Error struct {
	Call string // the C symbol, e.g. "cuMemAlloc_v2"
	Code Result
	Name string // e.g. "CUDA_ERROR_OUT_OF_MEMORY"
	Desc string // cuGetErrorString's text; may be empty
}

func (e *Error) Error() string {
	if e.Desc != "" {
		return fmt.Sprintf("%s: %s (%d): %s", e.Call, e.Name, e.Code, e.Desc)
	}
	return fmt.Sprintf("%s: %s (%d)", e.Call, e.Name, e.Code)
}

// check turns a CUresult into an error naming the call.
func (d *Driver) check(call string, r int32) error {
	if r == 0 {
		return nil
	}
	e := &Error{Call: call, Code: Result(r), Name: fmt.Sprintf("CUresult(%d)", r)}
	var s *byte
	if d.cuGetErrorName(r, &s) == 0 && s != nil {
		e.Name = cString(s)
	}
	s = nil
	if d.cuGetErrorString(r, &s) == 0 && s != nil {
		e.Desc = cString(s)
	}
	return e
}
