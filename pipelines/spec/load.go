package spec

import (
	"errors"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Load reads the pipeline file at path, applies overrides ("key=value", in order) and
// validates the result. Every error names the file and line, or the override, and the key.
func Load(path string, overrides ...string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, overrides...)
}

// Parse is Load for file contents already in memory; name is used in error messages.
func Parse(name string, data []byte, overrides ...string) (*Spec, error) {
	s, err := decodeFile(name, data)
	if err != nil {
		return nil, err
	}
	for _, o := range overrides {
		if err := s.apply(o); err != nil {
			return nil, err
		}
	}
	s.resolve()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// decodeFile decodes a YAML document onto Defaults, strictly.
func decodeFile(name string, data []byte) (*Spec, error) {
	s := Defaults()
	s.origins = map[string]origin{}
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, syntaxError(origin{file: name}, err)
	}
	d := &decoder{file: name, origins: s.origins}
	var docs int
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		if docs++; docs > 1 {
			return nil, d.at(doc.Body).err("", "a pipeline file holds one YAML document")
		}
		if err := d.decode(reflect.ValueOf(&s).Elem(), doc.Body, ""); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// syntaxError converts a goccy parse error into an *Error at the token it points to.
func syntaxError(o origin, err error) error {
	var te interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if errors.As(err, &te) {
		if tk := te.GetToken(); tk != nil && tk.Position != nil && o.override == "" {
			o.line, o.col = tk.Position.Line, tk.Position.Column
		}
		return o.err("", "YAML syntax: %s", te.GetMessage())
	}
	return o.err("", "YAML syntax: %v", err)
}

// keyPath is a dotted key path: snake_case names separated by dots.
var keyPath = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// apply sets one "key=value" override (dotted key path, like Megatron-Bridge's
// dataset.maker_name=medpix). The value is parsed as YAML: a scalar, or a flow list such as
// [linear_qkv,linear_proj] for a list key, or a flow mapping for a whole section. For a
// string key a plain number or boolean is taken as written, and an empty value is "".
// apply does not validate or resolve; Parse does both after all overrides.
func (s *Spec) apply(arg string) error {
	if s.origins == nil {
		s.origins = map[string]origin{}
	}
	o := origin{override: arg}
	key, value, ok := strings.Cut(arg, "=")
	key = strings.TrimSpace(key)
	if !ok {
		return o.err("", "want key=value")
	}
	if !keyPath.MatchString(key) {
		return o.err("", "%q is not a dotted key path such as train.iterations", key)
	}
	v := reflect.ValueOf(s).Elem()
	var path string
	for _, name := range strings.Split(key, ".") {
		if v.Kind() != reflect.Struct {
			return o.err(path, "is a value, not a section; it has no key %s", name)
		}
		fields := fieldsOf(v.Type())
		idx, known := fields[name]
		if !known {
			return o.err(join(path, name), "unknown key%s", suggest(name, sortedKeys(fields), path))
		}
		v, path = v.Field(idx), join(path, name)
	}
	f, err := parser.ParseBytes([]byte(value), 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return syntaxError(origin{override: arg}, err)
	}
	var body ast.Node = ast.Null(token.New("", "", &token.Position{}))
	for _, doc := range f.Docs {
		if doc.Body != nil {
			body = doc.Body
			break
		}
	}
	d := &decoder{override: arg, origins: map[string]origin{}, lenient: true}
	// Decode into a copy so that a failed override leaves the spec unchanged.
	tmp := reflect.New(v.Type()).Elem()
	tmp.Set(v)
	if err := d.decode(tmp, body, path); err != nil {
		return err
	}
	v.Set(tmp)
	for k, org := range d.origins {
		s.origins[k] = org
	}
	return nil
}

// resolve fills the defaults that depend on other keys and puts set-like lists in order.
func (s *Spec) resolve() {
	if s.LRSchedule.DecayIters == 0 {
		s.LRSchedule.DecayIters = s.Train.Iterations
	}
	if s.PEFT.Alpha == 0 {
		switch s.PEFT.Scheme {
		case PEFTLoRA:
			s.PEFT.Alpha = 32
		case PEFTDoRA:
			s.PEFT.Alpha = 64
		}
	}
	s.PEFT.TargetModules = append([]string(nil), s.PEFT.TargetModules...)
	sort.Strings(s.PEFT.TargetModules)
}
