package tensors

import "fmt"

// DType is an element type. The names are the safetensors spellings.
type DType uint8

const (
	Invalid DType = iota
	F32
	BF16
	F16
	F64
	I32
	I64
	I16
	I8
	U8
	U16
	U32
	U64
	Bool
	F8E4M3 // float8 e4m3fn (no infinities, 0x7f/0xff are NaN), read-only in compute paths
	F8E5M2
)

var dtypeInfo = [...]struct {
	name string
	size int
}{
	Invalid: {"INVALID", 0},
	F32:     {"F32", 4},
	BF16:    {"BF16", 2},
	F16:     {"F16", 2},
	F64:     {"F64", 8},
	I32:     {"I32", 4},
	I64:     {"I64", 8},
	I16:     {"I16", 2},
	I8:      {"I8", 1},
	U8:      {"U8", 1},
	U16:     {"U16", 2},
	U32:     {"U32", 4},
	U64:     {"U64", 8},
	Bool:    {"BOOL", 1},
	F8E4M3:  {"F8_E4M3", 1},
	F8E5M2:  {"F8_E5M2", 1},
}

// String returns the safetensors name ("F32", "BF16", ...).
func (d DType) String() string {
	if int(d) < len(dtypeInfo) {
		return dtypeInfo[d].name
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Size is the number of bytes per element (0 for Invalid).
func (d DType) Size() int {
	if int(d) < len(dtypeInfo) {
		return dtypeInfo[d].size
	}
	return 0
}

// IsFloat reports whether d is a floating-point type convertible to f32.
func (d DType) IsFloat() bool {
	switch d {
	case F32, BF16, F16, F64, F8E4M3, F8E5M2:
		return true
	}
	return false
}

// ParseDType parses a safetensors dtype name. Unknown names are an error.
func ParseDType(s string) (DType, error) {
	for i := 1; i < len(dtypeInfo); i++ {
		if dtypeInfo[i].name == s {
			return DType(i), nil
		}
	}
	return Invalid, fmt.Errorf("unknown dtype %q", s)
}
