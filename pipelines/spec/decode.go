package spec

// Strict decoding of a YAML AST (github.com/goccy/go-yaml/parser) into the Spec structs by
// their yaml tags. goccy's own decoder is not used: walking the AST ourselves gives every
// error the full key path and position, treats duplicate keys as errors that name both
// places, and lets overrides reuse exactly the same typing rules.

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// decoder assigns AST values into a Spec and records where each key got its value.
type decoder struct {
	file     string // the YAML file name, for positions
	override string // the override argument when decoding one (positions then refer to it)
	origins  map[string]origin
	// lenient: a plain non-string scalar given for a string key is taken as written
	// (overrides only: shell quoting makes a YAML-quoted "1234" awkward to pass).
	lenient bool
}

func (d *decoder) at(n ast.Node) origin {
	if d.override != "" {
		return origin{override: d.override}
	}
	o := origin{file: d.file}
	if n != nil {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			o.line, o.col = tk.Position.Line, tk.Position.Column
		}
	}
	return o
}

// decode assigns n to v (a field of Spec or Spec itself) whose key path is path.
func (d *decoder) decode(v reflect.Value, n ast.Node, path string) error {
	switch n.(type) {
	case *ast.AnchorNode, *ast.AliasNode:
		return d.at(n).err(path, "anchors and aliases are not supported; write the value out")
	case *ast.TagNode:
		return d.at(n).err(path, "tags (%s) are not supported", n.GetToken().Value)
	case *ast.MergeKeyNode:
		return d.at(n).err(path, "merge keys (<<) are not supported")
	}
	if v.Kind() == reflect.Struct {
		return d.decodeStruct(v, n, path)
	}
	d.origins[path] = d.at(n)
	switch v.Kind() {
	case reflect.String:
		s, err := d.str(n, path)
		if err != nil {
			return err
		}
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		i, err := d.integer(n, path, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := d.float(n, path)
		if err != nil {
			return err
		}
		v.SetFloat(f)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			return d.at(n).err(path, "want true or false, got %s", describe(n))
		}
		v.SetBool(b.Value)
	case reflect.Slice:
		return d.decodeStrings(v, n, path)
	default:
		return fmt.Errorf("spec: internal: field %s has unsupported kind %s", path, v.Kind())
	}
	return nil
}

func (d *decoder) decodeStruct(v reflect.Value, n ast.Node, path string) error {
	if _, ok := n.(*ast.NullNode); ok {
		return nil // an empty section keeps its defaults
	}
	m, ok := n.(*ast.MappingNode)
	if !ok {
		what := "the spec"
		if path != "" {
			what = "section " + path
		}
		return d.at(n).err(path, "%s must be a mapping of keys, got %s", what, describe(n))
	}
	fields := fieldsOf(v.Type())
	seen := map[string]origin{}
	for _, mv := range m.Values {
		kn, ok := mv.Key.(*ast.StringNode)
		if !ok {
			if _, merge := mv.Key.(*ast.MergeKeyNode); merge {
				return d.at(mv.Key).err(path, "merge keys (<<) are not supported")
			}
			return d.at(mv.Key).err(path, "keys must be plain names, got %s", describe(mv.Key))
		}
		key := join(path, kn.Value)
		if first, dup := seen[kn.Value]; dup {
			return d.at(kn).err(key, "duplicate key (first set at %d:%d)", first.line, first.col)
		}
		seen[kn.Value] = d.at(kn)
		idx, known := fields[kn.Value]
		if !known {
			return d.at(kn).err(key, "unknown key%s", suggest(kn.Value, sortedKeys(fields), path))
		}
		if err := d.decode(v.Field(idx), mv.Value, key); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) decodeStrings(v reflect.Value, n ast.Node, path string) error {
	if _, ok := n.(*ast.NullNode); ok {
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		return nil
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		return d.at(n).err(path, "want a list of strings, got %s", describe(n))
	}
	out := make([]string, 0, len(seq.Values))
	for i, e := range seq.Values {
		p := fmt.Sprintf("%s[%d]", path, i)
		if _, ok := e.(*ast.NullNode); ok {
			return d.at(e).err(p, "want a string, got null")
		}
		s, err := d.str(e, p)
		if err != nil {
			return err
		}
		out = append(out, s)
	}
	v.Set(reflect.ValueOf(out))
	return nil
}

func (d *decoder) str(n ast.Node, path string) (string, error) {
	switch n := n.(type) {
	case *ast.StringNode:
		return n.Value, nil
	case *ast.LiteralNode:
		return n.Value.Value, nil
	case *ast.NullNode:
		return "", nil
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		if d.lenient {
			return n.GetToken().Value, nil
		}
		return "", d.at(n).err(path, "want a string, got %s (quote it: %q)", describe(n), n.GetToken().Value)
	}
	return "", d.at(n).err(path, "want a string, got %s", describe(n))
}

func (d *decoder) integer(n ast.Node, path string, bits int) (int64, error) {
	in, ok := n.(*ast.IntegerNode)
	if !ok {
		// goccy reads a plain integer too large for 64 bits as a string.
		if sn, isStr := n.(*ast.StringNode); isStr && sn.Token.Type == token.StringType && yamlInt.MatchString(sn.Value) {
			return 0, d.at(n).err(path, "integer %s is out of range", sn.Value)
		}
		return 0, d.at(n).err(path, "want an integer, got %s", describe(n))
	}
	var i int64
	switch x := in.Value.(type) {
	case int64:
		i = x
	case uint64:
		if x > math.MaxInt64 {
			return 0, d.at(n).err(path, "integer %s is out of range", in.Token.Value)
		}
		i = int64(x)
	default:
		return 0, d.at(n).err(path, "want an integer, got %s", describe(n))
	}
	if bits < 64 && (i > 1<<(bits-1)-1 || i < -1<<(bits-1)) {
		return 0, d.at(n).err(path, "integer %s is out of range", in.Token.Value)
	}
	return i, nil
}

var yamlInt = regexp.MustCompile(`^[-+]?[0-9]+$`)

// yamlFloat is the YAML 1.2 core-schema float syntax (without .inf/.nan). goccy follows
// YAML 1.1 and reads "1e-4" (no dot) as a string; for a float key it is read as a number.
var yamlFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

func (d *decoder) float(n ast.Node, path string) (float64, error) {
	var f float64
	switch x := n.(type) {
	case *ast.FloatNode:
		f = x.Value
	case *ast.IntegerNode:
		switch i := x.Value.(type) {
		case int64:
			f = float64(i)
		case uint64:
			f = float64(i)
		}
	case *ast.StringNode:
		if x.Token.Type != token.StringType || !yamlFloat.MatchString(x.Value) {
			return 0, d.at(n).err(path, "want a number, got %s", describe(n))
		}
		var err error
		if f, err = strconv.ParseFloat(x.Value, 64); err != nil {
			return 0, d.at(n).err(path, "number %s is out of range", x.Value)
		}
	case *ast.InfinityNode, *ast.NanNode:
		return 0, d.at(n).err(path, "want a finite number, got %s", n.GetToken().Value)
	default:
		return 0, d.at(n).err(path, "want a number, got %s", describe(n))
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, d.at(n).err(path, "want a finite number, got %s", n.GetToken().Value)
	}
	return f, nil
}

// describe names a node's YAML kind and value for error messages.
func describe(n ast.Node) string {
	const max = 40
	val := func() string {
		s := n.GetToken().Value
		if len(s) > max {
			s = s[:max] + "…"
		}
		return strconv.Quote(s)
	}
	switch n := n.(type) {
	case *ast.NullNode:
		return "null"
	case *ast.BoolNode:
		return "boolean " + n.GetToken().Value
	case *ast.IntegerNode:
		return "integer " + n.GetToken().Value
	case *ast.FloatNode:
		return "number " + n.GetToken().Value
	case *ast.StringNode:
		return "string " + val()
	case *ast.LiteralNode:
		return "block string"
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	}
	return n.Type().String()
}

// fieldsOf maps yaml tag names to field indexes of a struct type.
func fieldsOf(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("yaml"); tag != "" {
			m[tag] = i
		}
	}
	return m
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// suggest returns "; did you mean X?" for the nearest known key within edit distance 2,
// else the list of known keys.
func suggest(key string, known []string, section string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %s?", join(section, best))
	}
	where := "the spec"
	if section != "" {
		where = section
	}
	return fmt.Sprintf("; keys of %s: %s", where, strings.Join(known, ", "))
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
