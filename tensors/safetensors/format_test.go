package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glmflow/glmflow/tensors"
)

// craft builds a file from a header string (unpadded) and data bytes.
func craft(hdr string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	b = append(b, hdr...)
	return append(b, data...)
}

// craftN builds a file with an explicit (possibly lying) header length.
func craftN(n uint64, rest string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func ti(dtype string, shape string, begin, end int64) string {
	return fmt.Sprintf(`{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`, dtype, shape, begin, end)
}

type badCase struct {
	name   string
	file   []byte
	kind   Kind
	tensor string // expected FormatError.Tensor ("" to not check)
}

// badCases is one or more crafted files per error class. Also the fuzz seed corpus.
func badCases() []badCase {
	attack := []string{}
	for i := range 10 {
		attack = append(attack, fmt.Sprintf(`"t%d":%s`, i, ti("F32", "[4]", 0, 16)))
	}
	z16 := make([]byte, 16)
	return []badCase{
		{"HeaderTooSmall/short_file", []byte{1, 2, 3, 4, 5}, HeaderTooSmall, ""},
		{"HeaderTooSmall/n0", craftN(0, ""), HeaderTooSmall, ""},
		{"HeaderTooSmall/n1", craftN(1, "{"), HeaderTooSmall, ""},
		{"HeaderTooLarge/100M+1", craftN(MaxHeaderSize+1, "{}"), HeaderTooLarge, ""},
		{"HeaderTooLarge/2^64-1", craftN(1<<64-1, "{}"), HeaderTooLarge, ""},
		{"InvalidHeaderLength/past_eof", craftN(100, `{"a":1}`), InvalidHeaderLength, ""},
		{"InvalidHeaderLength/one_short", craftN(3, "{}"), InvalidHeaderLength, ""},
		{"InvalidHeader/non_utf8", craft("{\"\xff\xfe\":"+ti("U8", "[1]", 0, 1)+"}", []byte{7}), InvalidHeader, ""},
		{"InvalidHeader/not_brace", craft(` {}`, nil), InvalidHeader, ""},
		{"InvalidHeader/array", craft(`[]`, nil), InvalidHeader, ""},
		{"InvalidJSON/truncated", craft(`{"a":`, nil), InvalidJSON, ""},
		{"InvalidJSON/trailing_garbage", craft(`{}x`, nil), InvalidJSON, ""},
		{"InvalidJSON/two_objects", craft(`{}{}`, nil), InvalidJSON, ""},
		{"InvalidJSON/trailing_comma", craft(`{"a":`+ti("U8", "[1]", 0, 1)+`,}`, []byte{1}), InvalidJSON, ""},
		{"InvalidJSON/tensor_not_object", craft(`{"a":[1]}`, nil), TensorInvalidInfo, "a"},
		{"DuplicateKey/tensor", craft(`{"a":`+ti("U8", "[1]", 0, 1)+`,"a":`+ti("U8", "[1]", 1, 2)+`}`, []byte{1, 2}), DuplicateKey, "a"},
		{"DuplicateKey/metadata", craft(`{"__metadata__":{"k":"1","k":"2"}}`, nil), DuplicateKey, ""},
		{"DuplicateKey/metadata_twice", craft(`{"__metadata__":{},"__metadata__":{}}`, nil), DuplicateKey, ""},
		{"DuplicateKey/field", craft(`{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}), DuplicateKey, "a"},
		{"BadMetadata/number", craft(`{"__metadata__":{"k":1}}`, nil), BadMetadata, ""},
		{"BadMetadata/nested", craft(`{"__metadata__":{"k":{"x":"y"}}}`, nil), BadMetadata, ""},
		{"BadMetadata/array", craft(`{"__metadata__":["x"]}`, nil), BadMetadata, ""},
		{"UnknownDType/F4", craft(`{"a":`+ti("F4", "[2]", 0, 1)+`}`, []byte{1}), UnknownDType, "a"},
		{"UnknownDType/lowercase", craft(`{"a":`+ti("f32", "[1]", 0, 4)+`}`, z16[:4]), UnknownDType, "a"},
		{"ValidationOverflow/numel", craft(`{"a":`+ti("F32", "[4611686018427387904,4]", 0, 0)+`}`, nil), ValidationOverflow, "a"},
		{"ValidationOverflow/bytes", craft(`{"a":`+ti("F64", "[2305843009213693952]", 0, 0)+`}`, nil), ValidationOverflow, "a"},
		{"ValidationOverflow/dim_u64", craft(`{"a":`+ti("U8", "[18446744073709551616]", 0, 0)+`}`, nil), ValidationOverflow, "a"},
		{"ValidationOverflow/offset", craft(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[9223372036854775808,9223372036854775808]}}`, nil), ValidationOverflow, "a"},
		{"InvalidOffset/json_attack", craft("{"+strings.Join(attack, ",")+"}", z16), InvalidOffset, "t1"},
		{"InvalidOffset/hole", craft(`{"a":`+ti("F32", "[1]", 0, 4)+`,"b":`+ti("F32", "[1]", 8, 12)+`}`, z16[:12]), InvalidOffset, "b"},
		{"InvalidOffset/overlap", craft(`{"a":`+ti("F32", "[2]", 0, 8)+`,"b":`+ti("F32", "[2]", 4, 12)+`}`, z16[:12]), InvalidOffset, "b"},
		{"InvalidOffset/not_from_zero", craft(`{"a":`+ti("F32", "[1]", 4, 8)+`}`, z16[:8]), InvalidOffset, "a"},
		{"InvalidOffset/end_before_begin", craft(`{"a":`+ti("U8", "[0]", 0, 0)+`,"b":`+ti("U8", "[2]", 4, 2)+`}`, z16[:4]), InvalidOffset, "b"},
		{"TensorInvalidInfo/size_mismatch", craft(`{"a":`+ti("F32", "[2]", 0, 4)+`}`, z16[:4]), TensorInvalidInfo, "a"},
		{"TensorInvalidInfo/negative_dim", craft(`{"a":`+ti("F32", "[-1]", 0, 4)+`}`, z16[:4]), TensorInvalidInfo, "a"},
		{"TensorInvalidInfo/float_dim", craft(`{"a":`+ti("F32", "[1.5]", 0, 4)+`}`, z16[:4]), TensorInvalidInfo, "a"},
		{"TensorInvalidInfo/missing_offsets", craft(`{"a":{"dtype":"U8","shape":[1]}}`, []byte{1}), TensorInvalidInfo, "a"},
		{"TensorInvalidInfo/extra_field", craft(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, []byte{1}), TensorInvalidInfo, "a"},
		{"TensorInvalidInfo/three_offsets", craft(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,1]}}`, []byte{1}), TensorInvalidInfo, "a"},
		{"TensorInvalidInfo/dtype_number", craft(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,1]}}`, []byte{1}), TensorInvalidInfo, "a"},
		{"TensorInvalidInfo/rank_65", craft(`{"a":`+ti("U8", "["+strings.Repeat("1,", 64)+"1]", 0, 1)+`}`, []byte{1}), TensorInvalidInfo, "a"},
		{"IncompleteBuffer/extra_byte", craft(`{"a":`+ti("U8", "[2]", 0, 2)+`}`, []byte{1, 2, 3}), IncompleteBuffer, ""},
		{"IncompleteBuffer/missing_byte", craft(`{"a":`+ti("U8", "[2]", 0, 2)+`}`, []byte{1}), IncompleteBuffer, ""},
		{"IncompleteBuffer/data_no_tensors", craft(`{}`, []byte{0}), IncompleteBuffer, ""},
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range badCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := writeTemp(t, "bad.safetensors", tc.file)
			f, err := Open(p)
			if err == nil {
				f.Close()
				t.Fatalf("Open succeeded; want %v", tc.kind)
			}
			if !errors.Is(err, tc.kind) {
				t.Fatalf("err = %v; want kind %v", err, tc.kind)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != p || (tc.tensor != "" && fe.Tensor != tc.tensor) {
				t.Fatalf("err = %#v; want FormatError for file %s tensor %q", err, p, tc.tensor)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("message %q does not name the file", err)
			}
		})
	}
}

// validCases are well-formed edge cases: each must open and read.
func validCases() map[string][]byte {
	return map[string][]byte{
		"empty_object":      craft(`{}`, nil),
		"empty_padded":      craft("{}      ", nil),
		"trailing_ws":       craft("{} \n\t\r", nil),
		"metadata_null":     craft(`{"__metadata__":null}`, nil),
		"metadata_only":     craft(`{"__metadata__":{"format":"pt","é":"ü"}}`, nil),
		"rank0":             craft(`{"s":`+ti("F32", "[]", 0, 4)+`}`, []byte{0, 0, 0x28, 0x42}),
		"empty_tensors":     craft(`{"e1":`+ti("F32", "[0]", 0, 0)+`,"e2":`+ti("BF16", "[3,0,2]", 0, 0)+`,"x":`+ti("U8", "[1]", 0, 1)+`,"e3":`+ti("I64", "[0]", 1, 1)+`}`, []byte{9}),
		"unsorted_offsets":  craft(`{"b":`+ti("U8", "[1]", 0, 1)+`,"a":`+ti("U8", "[2]", 1, 3)+`}`, []byte{1, 2, 3}),
		"misaligned_f32":    craft(`{"a":`+ti("U8", "[1]", 0, 1)+`,"b":`+ti("F32", "[2]", 1, 9)+`}`, []byte{1, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40}),
		"escaped_name":      craft(`{"a\"b\\c\u00e9":`+ti("U8", "[1]", 0, 1)+`}`, []byte{5}),
		"all_dtypes_single": craft(`{"a":`+ti("F8_E4M3", "[1]", 0, 1)+`,"b":`+ti("F8_E5M2", "[1]", 1, 2)+`,"c":`+ti("U64", "[1]", 2, 10)+`}`, make([]byte, 10)),
	}
}

func TestOpenValid(t *testing.T) {
	for name, b := range validCases() {
		t.Run(name, func(t *testing.T) {
			f, err := Open(writeTemp(t, "ok.safetensors", b))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, n := range f.Names() {
				x, err := f.Tensor(n)
				if err != nil {
					t.Fatalf("%s: %v", n, err)
				}
				in, _ := f.Info(n)
				if x.NBytes() != in.NBytes() || x.DType() != in.DType {
					t.Fatalf("%s: %v vs info %+v", n, x, in)
				}
			}
		})
	}
	// Spot checks of values.
	f, err := Open(writeTemp(t, "m.safetensors", validCases()["misaligned_f32"]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, err := f.Tensor("b")
	if err != nil || x.F32()[0] != 1 || x.F32()[1] != 2 {
		t.Fatalf("misaligned F32 read %v, %v", x, err)
	}
	if x.Storage().ReadOnly() {
		t.Error("misaligned tensor should be a private copy")
	}
	s, _ := Open(writeTemp(t, "s.safetensors", validCases()["rank0"]))
	defer s.Close()
	if x, err := s.Tensor("s"); err != nil || x.Rank() != 0 || x.F32()[0] != 42 {
		t.Fatalf("rank-0 read %v, %v", x, err)
	}
	e, _ := Open(writeTemp(t, "e.safetensors", validCases()["escaped_name"]))
	defer e.Close()
	if names := e.Names(); len(names) != 1 || names[0] != "a\"b\\cé" {
		t.Fatalf("escaped name read as %q", names)
	}
	if _, err := e.Tensor("nope"); !errors.Is(err, TensorNotFound) {
		t.Errorf("missing tensor: %v", err)
	}
}

// The reference writer's own test vectors (huggingface/safetensors tensor.rs: test_serialization,
// test_empty): our writer must produce exactly these bytes.
func TestWriterMatchesReferenceBytes(t *testing.T) {
	dir := t.TempDir()
	x := make([]float32, 6)
	for i := range x {
		x[i] = float32(i)
	}
	check := func(name string, entries []Entry, meta map[string]string, want []byte) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := WriteEntries(p, entries, meta); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", name, got, want)
		}
	}
	f32 := func(name string, shape ...int) Entry {
		return Entry{Name: name, DType: tensors.F32, Shape: shape, Data: func(w io.Writer) error {
			for _, v := range x {
				if _, err := w.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v))); err != nil {
					return err
				}
			}
			return nil
		}}
	}
	data := []byte{0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64}
	check("ser", []Entry{f32("attn.0", 1, 2, 3)}, nil,
		append(craftN(64, `{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`), data...))
	check("aligned", []Entry{f32("attn0", 1, 1, 2, 3)}, nil,
		append(craftN(72, `{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `), data...))
	check("empty", nil, nil, craftN(8, "{}      "))
	check("empty_meta", nil, map[string]string{"framework": "pt"}, craftN(40, `{"__metadata__":{"framework":"pt"}}     `))
}
