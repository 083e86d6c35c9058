package chat

import (
	"fmt"
	"regexp"
	"strings"
)

// testEncoder is a deterministic stand-in for the HF tokenizer with the behaviour rendering
// depends on: added tokens (GLM's, at their real ids) are matched first, leftmost-longest;
// the text between them is split by a GLM-like pre-tokenizer (context-dependent: "\n\n" is one
// pre-token, "\n" before a word another) and each pre-token is one id from a small vocabulary,
// or one id per byte (byteBase+b) when absent. Decode inverts Encode exactly.
type testEncoder struct {
	added map[string]int32
	vocab map[string]int32
	inv   map[int32]string
}

const byteBase = 1000

// glmAdded lists GLM-4.5V's added tokens in id order from 151329 (the order of the hub
// tokenizer_config's additional_special_tokens).
var glmAdded = []string{
	"<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>",
	"<|assistant|>", "<|observation|>", "<|begin_of_image|>", "<|end_of_image|>",
	"<|begin_of_video|>", "<|end_of_video|>", "<|begin_of_audio|>", "<|end_of_audio|>",
	"<|begin_of_transcription|>", "<|end_of_transcription|>", "<|code_prefix|>",
	"<|code_middle|>", "<|code_suffix|>", "<think>", "</think>", "<tool_call>", "</tool_call>",
	"<tool_response>", "</tool_response>", "<arg_key>", "</arg_key>", "<arg_value>",
	"</arg_value>", "/nothink", "<|begin_of_box|>", "<|end_of_box|>", "<|image|>", "<|video|>",
}

// Ids the hand-derived tests spell out.
const (
	idEOS       = 151329
	idGMASK     = 151331
	idSOP       = 151333
	idSystem    = 151335
	idUser      = 151336
	idAssistant = 151337
	idObs       = 151338
	idBOI       = 151339
	idEOI       = 151340
	idThink     = 151350
	idEndThink  = 151351
	idToolResp  = 151354
	idToolRespE = 151355
	idNothink   = 151360
	idImage     = 151363

	idNL  = 198  // "\n"
	idNL2 = 271  // "\n\n"
	idNL3 = 1406 // "\n\n\n"
)

var testVocab = map[string]int32{
	"\n": idNL, "\n\n": idNL2, "\n\n\n": idNL3,
	"Describe": 5001, " this": 5002, " image": 5003, ".": 5004, "A": 5005, " cat": 5006,
	"Why": 5007, "?": 5008, "Because": 5009, "You": 5010, " are": 5011, " helpful": 5012,
	"Look": 5013, " here": 5014, "Compare": 5015, "Same": 5016, "hmm": 5017, "ok": 5018,
	"sunny": 5019, "Weather": 5020, "Thanks": 5021,
}

// GLM-4 family pre-tokenizer regex, with \s+(?!\S) (Go's regexp has no lookahead) folded into \s+.
var pretokRE = regexp.MustCompile(`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+`)

func newTestEncoder() *testEncoder {
	e := &testEncoder{added: map[string]int32{}, vocab: testVocab, inv: map[int32]string{}}
	for i, s := range glmAdded {
		e.added[s] = int32(151329 + i)
		e.inv[int32(151329+i)] = s
	}
	for s, id := range testVocab {
		e.inv[id] = s
	}
	return e
}

func (e *testEncoder) TokenID(tok string) (int32, bool) {
	if id, ok := e.added[tok]; ok {
		return id, true
	}
	id, ok := e.vocab[tok]
	return id, ok
}

func (e *testEncoder) AppendEncode(dst []int32, text string) []int32 {
	for len(text) > 0 {
		at, tok := e.nextAdded(text)
		dst = e.appendPlain(dst, text[:at])
		if tok == "" {
			break
		}
		dst = append(dst, e.added[tok])
		text = text[at+len(tok):]
	}
	return dst
}

// nextAdded finds the leftmost (then longest) added token in s; ("", len(s)) when none.
func (e *testEncoder) nextAdded(s string) (int, string) {
	for i := range len(s) {
		best := ""
		for tok := range e.added {
			if len(tok) > len(best) && strings.HasPrefix(s[i:], tok) {
				best = tok
			}
		}
		if best != "" {
			return i, best
		}
	}
	return len(s), ""
}

func (e *testEncoder) appendPlain(dst []int32, s string) []int32 {
	for _, pt := range pretokRE.FindAllString(s, -1) {
		if id, ok := e.vocab[pt]; ok {
			dst = append(dst, id)
			continue
		}
		for i := range len(pt) {
			dst = append(dst, int32(byteBase+int(pt[i])))
		}
	}
	return dst
}

func (e *testEncoder) Decode(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		if s, ok := e.inv[id]; ok {
			b.WriteString(s)
			continue
		}
		if id >= byteBase && id < byteBase+256 {
			b.WriteByte(byte(id - byteBase))
			continue
		}
		panic(fmt.Sprintf("testEncoder: unknown id %d", id))
	}
	return b.String()
}
