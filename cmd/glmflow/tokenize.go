package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/glmflow/glmflow/transforms/tokenizer"
	"github.com/spf13/cobra"
)

func newTokenizeCmd() *cobra.Command {
	var (
		path                          string
		addSpecial, decode, skip, quo bool
	)
	cmd := &cobra.Command{
		Use:   "tokenize --tokenizer tokenizer.json [--add-special-tokens] [--decode [--skip-special-tokens] [--quote]]",
		Short: "Encode text lines to token ids (or decode ids to text) with an HF tokenizer.json",
		Long: `Reads lines on stdin. Without --decode each line (its trailing "\n" removed, a "\r" kept)
is encoded and printed as one JSON array of ids, like HF's
tokenizer.encode(line, add_special_tokens=False).ids; --add-special-tokens also applies the
file's post-processor (add_special_tokens=True). With --decode each line is a JSON array of ids
and the decoded text is printed, raw or, with --quote, as a JSON string (so decoded newlines
keep one output line per input line). Errors name the input line.`,
		Example: `  echo "Hello world" | glmflow tokenize --tokenizer testdata/tokenizer/tokenizer.json
  echo "[15496, 995]" | glmflow tokenize --tokenizer gpt2/tokenizer.json --decode`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := tokenizer.Load(path)
			if err != nil {
				return err
			}
			if !decode && (skip || quo) {
				return errors.New("--skip-special-tokens and --quote apply only with --decode")
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			err = tokenizeLines(cmd.InOrStdin(), w, func(line string) (string, error) {
				if decode {
					return decodeLine(tok, line, skip, quo)
				}
				if !utf8.ValidString(line) {
					return "", errors.New("text is not valid UTF-8")
				}
				ids := tok.Encode(line)
				if addSpecial {
					ids = tok.EncodeWithSpecial(line)
				}
				return formatIDs(ids), nil
			})
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&path, "tokenizer", "", "HF tokenizer.json (required)")
	f.BoolVar(&addSpecial, "add-special-tokens", false, "apply the file's post-processor (HF add_special_tokens=True)")
	f.BoolVar(&decode, "decode", false, "read JSON arrays of ids and print text")
	f.BoolVar(&skip, "skip-special-tokens", false, "with --decode: drop special added tokens")
	f.BoolVar(&quo, "quote", false, "with --decode: print each text as a JSON string")
	_ = cmd.MarkFlagRequired("tokenizer")
	return cmd
}

// tokenizeLines applies fn to each input line and writes its result on its own line.
func tokenizeLines(r io.Reader, w io.Writer, fn func(string) (string, error)) error {
	br := bufio.NewReaderSize(r, 1<<16)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("stdin line %d: %w", n, err)
		}
		if line == "" && err == io.EOF {
			return nil
		}
		out, ferr := fn(strings.TrimSuffix(line, "\n"))
		if ferr != nil {
			return fmt.Errorf("stdin line %d: %w", n, ferr)
		}
		if _, werr := io.WriteString(w, out+"\n"); werr != nil {
			return werr
		}
		if err == io.EOF {
			return nil
		}
	}
}

func decodeLine(tok *tokenizer.Tokenizer, line string, skip, quote bool) (string, error) {
	var ids []int32
	if err := json.Unmarshal([]byte(line), &ids); err != nil {
		return "", fmt.Errorf("want a JSON array of token ids: %w", err)
	}
	text, err := tok.Decode(ids, skip)
	if err != nil {
		return "", err
	}
	if quote {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(text); err != nil {
			return "", err
		}
		return strings.TrimSuffix(b.String(), "\n"), nil
	}
	return text, nil
}

func formatIDs(ids []int32) string {
	b := make([]byte, 0, 2+7*len(ids))
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(id), 10)
	}
	return string(append(b, ']'))
}
