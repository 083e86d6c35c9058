package spec

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Canonical returns the spec as YAML with every key present, keys sorted at every level,
// strings double-quoted and floats written so that YAML 1.1 and 1.2 readers both see numbers.
// The same spec always gives the same bytes, and Parse(Canonical()) gives the same spec: it is
// what runs log and checkpoints store.
func (s *Spec) Canonical() []byte {
	var b bytes.Buffer
	writeStruct(&b, reflect.ValueOf(s).Elem(), 0)
	return b.Bytes()
}

func writeStruct(b *bytes.Buffer, v reflect.Value, indent int) {
	fields := fieldsOf(v.Type())
	for _, k := range sortedKeys(fields) {
		f := v.Field(fields[k])
		b.WriteString(strings.Repeat("  ", indent))
		b.WriteString(k)
		b.WriteByte(':')
		if f.Kind() == reflect.Struct {
			b.WriteByte('\n')
			writeStruct(b, f, indent+1)
			continue
		}
		b.WriteByte(' ')
		b.WriteString(scalar(f))
		b.WriteByte('\n')
	}
}

func scalar(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String()) // Go's escapes (\n, \t, \xNN, \uNNNN) are YAML's too
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Float64:
		return formatFloat(v.Float())
	case reflect.Slice:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = scalar(v.Index(i))
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	panic(fmt.Sprintf("spec: internal: no canonical form for kind %s", v.Kind()))
}

// formatFloat writes the shortest round-tripping decimal with a '.' in the mantissa
// ("1.0", "1.0e-08"): YAML 1.1 readers (PyYAML, goccy) need the dot to see a float.
func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	mant, exp, hasExp := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	if hasExp {
		return mant + "e" + exp
	}
	return mant
}

// sortedFieldNames lists every key path of the spec (sections and leaves), sorted; the test
// that freezes the schema compares against it.
func sortedFieldNames() []string {
	var out []string
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		fields := fieldsOf(t)
		for _, k := range sortedKeys(fields) {
			p := join(path, k)
			out = append(out, p)
			if ft := t.Field(fields[k]).Type; ft.Kind() == reflect.Struct {
				walk(ft, p)
			}
		}
	}
	walk(reflect.TypeOf(Spec{}), "")
	sort.Strings(out)
	return out
}
