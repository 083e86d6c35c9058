package makers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// jsonValue is a parsed JSON value that keeps what Python's json.loads keeps: object keys
// (duplicates: last wins, as in a dict), ints apart from floats, the literal number text.
type jsonValue struct {
	kind jsonKind
	str  string // jsonString; the literal for jsonNumber
	b    bool
	obj  []jsonMember
	arr  []jsonValue
}

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonObject
	jsonArray
)

type jsonMember struct {
	key string
	val jsonValue
}

// maxJSONDepth bounds nesting (a ground_truth string is untrusted input).
const maxJSONDepth = 200

func parseJSON(s string) (jsonValue, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	v, err := readJSON(dec, 0)
	if err != nil {
		return jsonValue{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return jsonValue{}, fmt.Errorf("invalid JSON: data after the value at offset %d", dec.InputOffset())
	}
	return v, nil
}

func readJSON(dec *json.Decoder, depth int) (jsonValue, error) {
	if depth > maxJSONDepth {
		return jsonValue{}, fmt.Errorf("invalid JSON: nested deeper than %d", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return jsonValue{}, fmt.Errorf("invalid JSON at offset %d: %w", dec.InputOffset(), err)
	}
	switch t := tok.(type) {
	case nil:
		return jsonValue{kind: jsonNull}, nil
	case bool:
		return jsonValue{kind: jsonBool, b: t}, nil
	case json.Number:
		return jsonValue{kind: jsonNumber, str: t.String()}, nil
	case string:
		return jsonValue{kind: jsonString, str: t}, nil
	case json.Delim:
		switch t {
		case '{':
			v := jsonValue{kind: jsonObject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return jsonValue{}, fmt.Errorf("invalid JSON at offset %d: %w", dec.InputOffset(), err)
				}
				key, _ := kt.(string)
				val, err := readJSON(dec, depth+1)
				if err != nil {
					return jsonValue{}, err
				}
				replaced := false
				for i := range v.obj {
					if v.obj[i].key == key {
						v.obj[i].val, replaced = val, true
					}
				}
				if !replaced {
					v.obj = append(v.obj, jsonMember{key, val})
				}
			}
			if _, err := dec.Token(); err != nil {
				return jsonValue{}, fmt.Errorf("invalid JSON at offset %d: %w", dec.InputOffset(), err)
			}
			return v, nil
		case '[':
			v := jsonValue{kind: jsonArray}
			for dec.More() {
				e, err := readJSON(dec, depth+1)
				if err != nil {
					return jsonValue{}, err
				}
				v.arr = append(v.arr, e)
			}
			if _, err := dec.Token(); err != nil {
				return jsonValue{}, fmt.Errorf("invalid JSON at offset %d: %w", dec.InputOffset(), err)
			}
			return v, nil
		}
	}
	return jsonValue{}, fmt.Errorf("invalid JSON at offset %d: unexpected %v", dec.InputOffset(), tok)
}

func (v jsonValue) member(key string) (jsonValue, bool) {
	for _, m := range v.obj {
		if m.key == key {
			return m.val, true
		}
	}
	return jsonValue{}, false
}

// CordTarget turns a CORD ground_truth JSON string into the assistant text: the first of
// "gt_parses" (a list) or else "gt_parse" (an object), through Json2Token.
func CordTarget(groundTruth string) (string, error) {
	// The top level is decoded into raw members (validating all of it, as json.loads does) and
	// only the parse is walked token by token: valid_line, most of the bytes, is skipped.
	var top map[string]json.RawMessage // duplicate keys: last wins, like a Python dict
	if err := json.Unmarshal([]byte(groundTruth), &top); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return "", fmt.Errorf("invalid JSON at offset %d: %s", se.Offset, se.Error())
		case errors.As(err, &te):
			return "", errors.New("ground_truth is not a JSON object")
		}
		return "", fmt.Errorf("invalid JSON: %w", err)
	}
	if top == nil {
		return "", errors.New("ground_truth is not a JSON object")
	}
	var parse jsonValue
	if raw, ok := top["gt_parses"]; ok {
		ps, err := parseJSON(string(raw))
		if err != nil {
			return "", err
		}
		if ps.kind != jsonArray {
			return "", errors.New("gt_parses is not a list")
		}
		if len(ps.arr) == 0 {
			return "", errors.New("gt_parses is empty")
		}
		parse = ps.arr[0]
	} else if raw, ok := top["gt_parse"]; ok {
		p, err := parseJSON(string(raw))
		if err != nil {
			return "", err
		}
		if p.kind != jsonObject {
			return "", errors.New("ground_truth has neither a gt_parses list nor a gt_parse object")
		}
		parse = p
	} else {
		return "", errors.New("ground_truth has neither a gt_parses list nor a gt_parse object")
	}
	var b strings.Builder
	if err := json2token(&b, parse); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Json2Token converts the JSON text of one parse into tokens the way NeMo's json2token (used
// by Megatron-Bridge, sort_json_key=True) does: an object becomes, for each key in reverse-sorted
// order, "<s_KEY>" + value + "</s_KEY>"; an object whose only key is "text_sequence" becomes
// that text; a list joins its items with "<sep/>"; other values are written as Python's str()
// writes them (True, None, 1.0, 1e+16, …).
func Json2Token(parse string) (string, error) {
	v, err := parseJSON(parse)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := json2token(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

func json2token(b *strings.Builder, v jsonValue) error {
	switch v.kind {
	case jsonObject:
		if len(v.obj) == 1 && v.obj[0].key == "text_sequence" {
			ts := v.obj[0].val
			if ts.kind != jsonString {
				// Python returns the value itself; concatenating a non-str raises TypeError.
				return errors.New("text_sequence is not a string")
			}
			b.WriteString(ts.str)
			return nil
		}
		keys := make([]int, len(v.obj))
		for i := range keys {
			keys[i] = i
		}
		// Python sorts str by code point; Go compares UTF-8 bytes, which orders the same.
		sort.Slice(keys, func(i, j int) bool { return v.obj[keys[i]].key > v.obj[keys[j]].key })
		for _, i := range keys {
			m := v.obj[i]
			b.WriteString("<s_" + m.key + ">")
			if err := json2token(b, m.val); err != nil {
				return err
			}
			b.WriteString("</s_" + m.key + ">")
		}
	case jsonArray:
		for i, e := range v.arr {
			if i > 0 {
				b.WriteString("<sep/>")
			}
			if err := json2token(b, e); err != nil {
				return err
			}
		}
	case jsonString:
		b.WriteString(v.str)
	case jsonBool:
		if v.b {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case jsonNull:
		b.WriteString("None")
	case jsonNumber:
		s, err := pyNumberStr(v.str)
		if err != nil {
			return err
		}
		b.WriteString(s)
	}
	return nil
}

// pyNumberStr returns str() of the number Python's json.loads makes of the JSON literal lit:
// an int (arbitrary precision) unless the literal has a fraction or exponent, else a float.
func pyNumberStr(lit string) (string, error) {
	if !strings.ContainsAny(lit, ".eE") {
		neg := strings.HasPrefix(lit, "-")
		digits := strings.TrimLeft(strings.TrimPrefix(lit, "-"), "0")
		if digits == "" {
			return "0", nil
		}
		if neg {
			return "-" + digits, nil
		}
		return digits, nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return "", fmt.Errorf("invalid number %q", lit)
	}
	return pyFloatRepr(f), nil
}

// pyFloatRepr formats f as Python's repr(float) (and str): the shortest round-tripping digits,
// positional when the decimal exponent is in [-5, 16), else d.ddde±XX.
func pyFloatRepr(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // [-]d[.ddd]e±XX
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	mant, expS, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expS)
	digits := strings.Replace(mant, ".", "", 1)
	var out bytes.Buffer
	if neg {
		out.WriteByte('-')
	}
	if exp < -4 || exp >= 16 {
		out.WriteString(digits[:1])
		if len(digits) > 1 {
			out.WriteString("." + digits[1:])
		}
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		fmt.Fprintf(&out, "e%s%02d", sign, exp)
		return out.String()
	}
	if exp < 0 {
		out.WriteString("0." + strings.Repeat("0", -exp-1) + digits)
		return out.String()
	}
	if len(digits) <= exp+1 {
		out.WriteString(digits + strings.Repeat("0", exp+1-len(digits)) + ".0")
		return out.String()
	}
	out.WriteString(digits[:exp+1] + "." + digits[exp+1:])
	return out.String()
}
