package hub

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Image is one HF Image feature value.
type Image struct {
	Bytes []byte // the encoded file (JPEG, PNG, …) as stored
	Path  string // the original file name; may be empty
}

// Turn is one element of the_cauldron's texts column.
type Turn struct {
	User, Assistant, Source string
}

// RowError is a problem with one row's value: the caller may skip the row (dead-letter it) and
// go on with the next.
type RowError struct {
	File   string
	Row    int64 // 0-based row in the file
	Column string
	Msg    string
}

func (e *RowError) Error() string {
	return fmt.Sprintf("%s: row %d: column %s: %s", e.File, e.Row, e.Column, e.Msg)
}

// Batch is a run of consecutive rows of one file.
type Batch struct {
	r     *Reader
	rec   arrow.RecordBatch
	start int64 // row index of the first row in the file
}

func newBatch(r *Reader, rec arrow.RecordBatch) (*Batch, error) {
	b := &Batch{r: r, rec: rec, start: r.next}
	sc := rec.Schema()
	for c := 0; c < int(rec.NumCols()); c++ {
		f := sc.Field(c)
		if err := checkNulls(f, rec.Column(c), nil); err != nil {
			return nil, fmt.Errorf("%s: rows %d..%d: column %s: %w", r.file, b.start, b.start+rec.NumRows()-1, f.Name, err)
		}
	}
	return b, nil
}

// checkNulls rejects nulls in a non-nullable field (at positions where the parent is valid).
// parentValid is nil for a top-level column.
func checkNulls(f arrow.Field, a arrow.Array, parentValid func(int) bool) error {
	if !f.Nullable && a.NullN() > 0 {
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) && (parentValid == nil || parentValid(i)) {
				return fmt.Errorf("field %s is declared required but holds a null at %d", f.Name, i)
			}
		}
	}
	switch arr := a.(type) {
	case *array.Struct:
		st := arr.DataType().(*arrow.StructType)
		valid := func(i int) bool { return arr.IsValid(i) && (parentValid == nil || parentValid(i)) }
		for k := 0; k < arr.NumField(); k++ {
			if err := checkNulls(st.Field(k), arr.Field(k), valid); err != nil {
				return err
			}
		}
	case array.ListLike:
		var elem arrow.Field
		switch t := arr.DataType().(type) {
		case *arrow.ListType:
			elem = t.ElemField()
		case *arrow.LargeListType:
			elem = t.ElemField()
		case *arrow.MapType:
			elem = t.ElemField()
		default:
			return nil
		}
		return checkNulls(elem, arr.ListValues(), nil)
	}
	return nil
}

// Len returns the number of rows in the batch.
func (b *Batch) Len() int { return int(b.rec.NumRows()) }

// Row returns row i of the batch (0 ≤ i < Len).
func (b *Batch) Row(i int) Row { return Row{b: b, i: i} }

// Record returns the underlying Arrow record (owned by the batch).
func (b *Batch) Record() arrow.RecordBatch { return b.rec }

// Release frees the batch's memory. Values returned by Row accessors stay valid (they are copies).
func (b *Batch) Release() {
	if b.rec != nil {
		b.rec.Release()
		b.rec = nil
	}
}

// Row is one row of a batch. Its accessors copy values out of the batch.
type Row struct {
	b *Batch
	i int
}

// File returns the file the row comes from.
func (r Row) File() string { return r.b.r.file }

// Index returns the row's 0-based index in its file.
func (r Row) Index() int64 { return r.b.start + int64(r.i) }

func (r Row) errorf(col, format string, args ...any) error {
	return &RowError{File: r.File(), Row: r.Index(), Column: col, Msg: fmt.Sprintf(format, args...)}
}

func (r Row) column(name string, k Kind) (arrow.Array, error) {
	sc := r.b.rec.Schema()
	idx := sc.FieldIndices(name)
	if len(idx) != 1 {
		return nil, r.errorf(name, "not among the columns read")
	}
	a := r.b.rec.Column(idx[0])
	if why := checkType(a.DataType(), k); why != "" {
		return nil, &TypeError{File: r.File(), Column: name, Found: a.DataType(), Want: k, Detail: why}
	}
	return a, nil
}

// String returns a string column's value. A null is an error.
func (r Row) String(col string) (string, error) {
	a, err := r.column(col, KindString)
	if err != nil {
		return "", err
	}
	s, ok := stringAt(a, r.i)
	if !ok {
		return "", r.errorf(col, "null")
	}
	if len(s) > r.b.r.o.MaxValueBytes {
		return "", r.errorf(col, "value of %d bytes (limit %d)", len(s), r.b.r.o.MaxValueBytes)
	}
	return strings.Clone(s), nil
}

// Image returns an Image column's value. A null, or an image without bytes, is an error.
func (r Row) Image(col string) (Image, error) {
	a, err := r.column(col, KindImage)
	if err != nil {
		return Image{}, err
	}
	return r.imageAt(col, a, r.i)
}

// Images returns an image-list column's value: every image of the row, in order. A null list
// is an error; an empty list is returned as is.
func (r Row) Images(col string) ([]Image, error) {
	a, err := r.column(col, KindImageList)
	if err != nil {
		return nil, err
	}
	ll := a.(array.ListLike)
	if ll.IsNull(r.i) {
		return nil, r.errorf(col, "null")
	}
	start, end := ll.ValueOffsets(r.i)
	vals := ll.ListValues()
	if start < 0 || end < start || end > int64(vals.Len()) {
		return nil, r.errorf(col, "list offsets [%d, %d) outside %d values", start, end, vals.Len())
	}
	out := make([]Image, 0, end-start)
	for j := start; j < end; j++ {
		im, err := r.imageAt(fmt.Sprintf("%s[%d]", col, j-start), vals, int(j))
		if err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, nil
}

func (r Row) imageAt(col string, a arrow.Array, i int) (Image, error) {
	st := a.(*array.Struct)
	if st.IsNull(i) {
		return Image{}, r.errorf(col, "null image")
	}
	typ := st.DataType().(*arrow.StructType)
	bi, _ := typ.FieldIdx("bytes")
	data, ok := binaryAt(st.Field(bi), i)
	var path string
	if pi, has := typ.FieldIdx("path"); has {
		path, _ = stringAt(st.Field(pi), i)
	}
	if !ok || len(data) == 0 {
		return Image{}, r.errorf(col, "image has no bytes (path %q): images referenced only by path are not supported", path)
	}
	if len(data) > r.b.r.o.MaxValueBytes {
		return Image{}, r.errorf(col, "image of %d bytes (limit %d)", len(data), r.b.r.o.MaxValueBytes)
	}
	return Image{Bytes: append([]byte(nil), data...), Path: strings.Clone(path)}, nil
}

// Turns returns a texts column's value (list<struct<user, assistant, source>>). A null list is
// an error; null fields inside a turn come back as "" with ok=false in Missing.
func (r Row) Turns(col string) ([]Turn, error) {
	a, err := r.column(col, KindTurns)
	if err != nil {
		return nil, err
	}
	ll := a.(array.ListLike)
	if ll.IsNull(r.i) {
		return nil, r.errorf(col, "null")
	}
	start, end := ll.ValueOffsets(r.i)
	st := ll.ListValues().(*array.Struct)
	if start < 0 || end < start || end > int64(st.Len()) {
		return nil, r.errorf(col, "list offsets [%d, %d) outside %d values", start, end, st.Len())
	}
	typ := st.DataType().(*arrow.StructType)
	ui, _ := typ.FieldIdx("user")
	ai, _ := typ.FieldIdx("assistant")
	si, hasSource := typ.FieldIdx("source")
	out := make([]Turn, 0, end-start)
	for j := int(start); j < int(end); j++ {
		name := fmt.Sprintf("%s[%d]", col, j-int(start))
		if st.IsNull(j) {
			return nil, r.errorf(name, "null turn")
		}
		u, ok := stringAt(st.Field(ui), j)
		if !ok {
			return nil, r.errorf(name+".user", "null")
		}
		as, ok := stringAt(st.Field(ai), j)
		if !ok {
			return nil, r.errorf(name+".assistant", "null")
		}
		var src string
		if hasSource {
			src, _ = stringAt(st.Field(si), j)
		}
		if len(u)+len(as)+len(src) > r.b.r.o.MaxValueBytes {
			return nil, r.errorf(name, "turn of %d bytes (limit %d)", len(u)+len(as)+len(src), r.b.r.o.MaxValueBytes)
		}
		out = append(out, Turn{User: strings.Clone(u), Assistant: strings.Clone(as), Source: strings.Clone(src)})
	}
	return out, nil
}

// stringAt returns a string-like array's value at i; ok is false for a null.
// The string aliases the array's memory.
func stringAt(a arrow.Array, i int) (string, bool) {
	if a.IsNull(i) {
		return "", false
	}
	switch arr := a.(type) {
	case *array.String:
		return arr.Value(i), true
	case *array.LargeString:
		return arr.Value(i), true
	case *array.StringView:
		return arr.Value(i), true
	case *array.Dictionary:
		return stringAt(arr.Dictionary(), arr.GetValueIndex(i))
	}
	return "", false
}

// binaryAt returns a binary-like array's value at i; ok is false for a null.
func binaryAt(a arrow.Array, i int) ([]byte, bool) {
	if a.IsNull(i) {
		return nil, false
	}
	switch arr := a.(type) {
	case *array.Binary:
		return arr.Value(i), true
	case *array.LargeBinary:
		return arr.Value(i), true
	case *array.BinaryView:
		return arr.Value(i), true
	}
	return nil, false
}
