package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func execGraph(args ...string) (string, error) { return runCLI(append([]string{"graph"}, args...)...) }

func TestGraphCmd(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "tiny.svg")
	msg, err := execGraph(tinyYAML, "model.path="+tinyDir, "-o", svg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "wrote "+svg+": 9 nodes") {
		t.Errorf("message %q", msg)
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", svg, err)
		}
	}
	for _, want := range []string{"<svg", "rank 0", "rank 1", "decoder[1:3)", "optimizer r1"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	dot, err := execGraph(tinyYAML, "model.path="+tinyDir, "parallel.pp=1", "parallel.layout=", "--format", "dot", "-o", "-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dot, "digraph glmflow {") || !strings.Contains(dot, `"decoder[0:3)" -> "head"`) || strings.Contains(dot, "cluster_rank1") {
		t.Errorf("pp 1 DOT:\n%s", dot)
	}
	for _, bad := range [][]string{
		{tinyYAML, "model.path=" + tinyDir, "--format", "png", "-o", "-"},
		{tinyYAML, "model.path=" + tinyDir, "-o", filepath.Join(dir, "x.txt")},
		{tinyYAML, "model.path=" + tinyDir},
		{tinyYAML, "model.path=" + tinyDir, "parallel.layout=VEt|tL", "-o", "-", "--format", "dot"},
	} {
		if _, err := execGraph(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
