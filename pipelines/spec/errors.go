package spec

import (
	"fmt"
	"strconv"
)

// Error is a problem with one key of a spec. Its text names where the value came from:
//
//	FILE:LINE:COL: key train.iterations: want an integer, got string "ten"
//	override "train.iterations=ten": key train.iterations: want an integer, got string "ten"
//	key data.path (default): required: ...
type Error struct {
	File     string // the YAML file; empty when the value came from an override or a default
	Line     int    // 1-based position in File; 0 when unknown
	Col      int
	Override string // the key=value argument that gave the value, if any
	Key      string // dotted key path (a.b.c); empty for errors not tied to a key
	Msg      string
}

func (e *Error) Error() string {
	var where string
	switch {
	case e.Override != "":
		where = "override " + strconv.Quote(e.Override) + ": "
	case e.File != "" && e.Line > 0:
		where = fmt.Sprintf("%s:%d:%d: ", e.File, e.Line, e.Col)
	case e.File != "":
		where = e.File + ": "
	}
	switch {
	case e.Key == "":
		return where + e.Msg
	case where == "":
		return "key " + e.Key + " (default): " + e.Msg
	}
	return where + "key " + e.Key + ": " + e.Msg
}

// origin is where a key got its value: a position in a file or an override argument.
type origin struct {
	file      string
	line, col int
	override  string
}

func (o origin) err(key, format string, args ...any) *Error {
	return &Error{File: o.file, Line: o.line, Col: o.col, Override: o.override, Key: key,
		Msg: fmt.Sprintf(format, args...)}
}
