package hub

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// Kind is the HF `datasets` feature a column must hold.
type Kind uint8

// Column kinds.
const (
	KindString    Kind = iota + 1 // Value("string"): string, large_string, string_view or dictionary of those
	KindImage                     // Image(): struct<bytes: binary, path: string>
	KindImageList                 // Sequence(Image()) / list of Image: list<struct<bytes, path>>
	KindTurns                     // the_cauldron texts: list<struct<user: string, assistant: string, source: string>>
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindImage:
		return "struct<bytes: binary, path: string>"
	case KindImageList:
		return "list<struct<bytes: binary, path: string>>"
	case KindTurns:
		return "list<struct<user: string, assistant: string, source: string>>"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Column is a column a reader needs: its name and feature kind.
type Column struct {
	Name string
	Kind Kind
}

// TypeError says that a column has a type other than the one expected.
type TypeError struct {
	File, Column string
	Found        arrow.DataType
	Want         Kind
	Detail       string // which part of the type is wrong
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("%s: column %s: type %s, want %s (%s)", e.File, e.Column, e.Found, e.Want, e.Detail)
}

// checkType reports why t cannot hold kind k ("" when it can).
func checkType(t arrow.DataType, k Kind) string {
	switch k {
	case KindString:
		return checkString(t)
	case KindImage:
		return checkImage(t)
	case KindImageList:
		elem, why := listElem(t)
		if why != "" {
			return why
		}
		if why := checkImage(elem); why != "" {
			return "list element: " + why
		}
		return ""
	case KindTurns:
		elem, why := listElem(t)
		if why != "" {
			return why
		}
		st, ok := elem.(*arrow.StructType)
		if !ok {
			return "list element is " + elem.String() + ", not a struct"
		}
		for _, name := range []string{"user", "assistant"} {
			f, ok := st.FieldByName(name)
			if !ok {
				return "list element has no field " + name
			}
			if why := checkString(f.Type); why != "" {
				return "field " + name + ": " + why
			}
		}
		if f, ok := st.FieldByName("source"); ok {
			if why := checkString(f.Type); why != "" {
				return "field source: " + why
			}
		}
		return ""
	}
	return "unknown kind"
}

func checkString(t arrow.DataType) string {
	switch tt := t.(type) {
	case *arrow.StringType, *arrow.LargeStringType, *arrow.StringViewType:
		return ""
	case *arrow.DictionaryType:
		if why := checkString(tt.ValueType); why != "" {
			return "dictionary values: " + why
		}
		return ""
	}
	return t.String() + " is not a string type"
}

func checkBinary(t arrow.DataType) string {
	switch t.(type) {
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.BinaryViewType:
		return ""
	}
	return t.String() + " is not a binary type"
}

func checkImage(t arrow.DataType) string {
	st, ok := t.(*arrow.StructType)
	if !ok {
		return t.String() + " is not a struct"
	}
	b, ok := st.FieldByName("bytes")
	if !ok {
		return "struct has no field bytes"
	}
	if why := checkBinary(b.Type); why != "" {
		return "field bytes: " + why
	}
	if p, ok := st.FieldByName("path"); ok {
		if why := checkString(p.Type); why != "" {
			return "field path: " + why
		}
	}
	return ""
}

func listElem(t arrow.DataType) (arrow.DataType, string) {
	switch tt := t.(type) {
	case *arrow.ListType:
		return tt.Elem(), ""
	case *arrow.LargeListType:
		return tt.Elem(), ""
	}
	return nil, t.String() + " is not a list"
}
