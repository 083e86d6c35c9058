package safetensors

import "fmt"

// Kind classifies a FormatError. A Kind is itself an error, so errors.Is(err, InvalidOffset)
// tests for one class.
type Kind int

const (
	HeaderTooSmall      Kind = iota + 1 // file shorter than 8 bytes, or N < 2
	HeaderTooLarge                      // N > 100,000,000
	InvalidHeaderLength                 // 8 + N beyond the end of the file
	InvalidHeader                       // header not UTF-8, or not starting with '{'
	InvalidJSON                         // header (or index) is not the expected JSON
	DuplicateKey                        // a JSON object repeats a key
	BadMetadata                         // __metadata__ is not an object of strings
	UnknownDType                        // dtype name not known to this reader
	ValidationOverflow                  // shape or byte size overflows int64
	InvalidOffset                       // offsets not sorted-contiguous from 0 (hole, overlap, end < begin)
	TensorInvalidInfo                   // bad shape, missing/extra field, or size ≠ end − begin
	IncompleteBuffer                    // last end + 8 + N ≠ file size
	TensorNotFound                      // no tensor of that name
	BadIndex                            // index JSON malformed or naming an unsafe shard path
	MissingShard                        // a shard named by the index does not exist
	IndexMismatch                       // a tensor listed for a shard is not in it, or vice versa
	DuplicateTensor                     // a tensor appears in two shards
	BadInput                            // writer: invalid name, dtype, shape or data length
)

var kindNames = [...]string{
	HeaderTooSmall:      "header too small",
	HeaderTooLarge:      "header too large",
	InvalidHeaderLength: "invalid header length",
	InvalidHeader:       "invalid header",
	InvalidJSON:         "invalid JSON",
	DuplicateKey:        "duplicate key",
	BadMetadata:         "bad __metadata__",
	UnknownDType:        "unknown dtype",
	ValidationOverflow:  "validation overflow",
	InvalidOffset:       "invalid offset",
	TensorInvalidInfo:   "invalid tensor info",
	IncompleteBuffer:    "incomplete buffer",
	TensorNotFound:      "tensor not found",
	BadIndex:            "bad index",
	MissingShard:        "missing shard",
	IndexMismatch:       "index mismatch",
	DuplicateTensor:     "duplicate tensor",
	BadInput:            "bad input",
}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

func (k Kind) Error() string { return "safetensors: " + k.String() }

// FormatError reports a malformed file or index, or invalid writer input.
type FormatError struct {
	File   string // path of the file at fault
	Tensor string // tensor name, "" when the error is not about one tensor
	Kind   Kind
	Detail string // human detail, may be ""
	Err    error  // underlying cause (e.g. a JSON syntax error), may be nil
}

func (e *FormatError) Error() string {
	s := "safetensors: " + e.File
	if e.Tensor != "" {
		s += fmt.Sprintf(": tensor %q", e.Tensor)
	}
	s += ": " + e.Kind.String()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is matches a Kind: errors.Is(err, safetensors.InvalidOffset).
func (e *FormatError) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

func (e *FormatError) Unwrap() error { return e.Err }

func errf(file, tensor string, k Kind, format string, args ...any) *FormatError {
	return &FormatError{File: file, Tensor: tensor, Kind: k, Detail: fmt.Sprintf(format, args...)}
}
