package main

import (
	"bytes"
	"strings"
	"testing"
)

const (
	tokGPT2 = "../../transforms/tokenizer/testdata/gpt2/tokenizer.json"
	tokGLM  = "../../testdata/tokenizer/tokenizer.json"
)

func runTokenize(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newTokenizeCmd()
	var out bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestTokenizeEncode(t *testing.T) {
	// GPT-2 "Hello world" → [15496, 995] (published); empty line → []; last line without "\n".
	out, err := runTokenize(t, "Hello world\n\n<|endoftext|> Hello world", "--tokenizer", tokGPT2)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[15496,995]\n[]\n[50256,18435,995]\n"; out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
	out, err = runTokenize(t, "[gMASK]<sop><|user|>\n", "--tokenizer", tokGLM)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[151331,151333,151336]\n"; out != want {
		t.Fatalf("GLM got %q, want %q", out, want)
	}
}

func TestTokenizeDecode(t *testing.T) {
	out, err := runTokenize(t, "[15496, 995]\n[50256,198,15496]\n", "--tokenizer", tokGPT2, "--decode", "--quote")
	if err != nil {
		t.Fatal(err)
	}
	if want := "\"Hello world\"\n\"<|endoftext|>\\nHello\"\n"; out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
	out, err = runTokenize(t, "[50256,15496]\n", "--tokenizer", tokGPT2, "--decode", "--skip-special-tokens")
	if err != nil || out != "Hello\n" {
		t.Fatalf("skip: %q, %v", out, err)
	}
}

func TestTokenizeErrors(t *testing.T) {
	for _, c := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"[1]\n[1, x]\n", []string{"--decode"}, "stdin line 2: want a JSON array"},
		{"[1]\n[99999999]\n", []string{"--decode"}, "stdin line 2:"},
		{"ok\nbad \xff\n", nil, "stdin line 2: text is not valid UTF-8"},
		{"x", []string{"--quote"}, "only with --decode"},
	} {
		_, err := runTokenize(t, c.stdin, append([]string{"--tokenizer", tokGPT2}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %v: error %v, want %q", c.stdin, c.args, err, c.want)
		}
	}
	if _, err := runTokenize(t, "", "--tokenizer", "no/such/tokenizer.json"); err == nil {
		t.Error("missing tokenizer file accepted")
	}
}
