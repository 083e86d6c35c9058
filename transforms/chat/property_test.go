package chat

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// fragments random texts are built from: whitespace and newline runs the pre-tokenizer merges,
// added tokens the tokenizer splits out (allowed in text), and pieces of special tokens that
// must not merge with the template's tokens.
var fragments = []string{
	"\n", "\n\n", " ", "  ", "\t", "a", "Why", "?", ".", "A", " cat", "12", "1234", "é", "漢字",
	"<", "|", ">", "<|", "|>", "think>", "</", "/no", "/nothink", "<tool_response>",
	"<|begin_of_box|>", "<|end_of_box|>", "[g", "MASK]", "<s", "op>", "'s", "\x1c", "\u00a0",
}

func randText(rng *rand.Rand, allowThink bool) string {
	for {
		s := randText1(rng, allowThink)
		if checkReserved(Source{}, 0, 0, s, reservedTokens(DefaultOptions())) == nil {
			return s
		}
	}
}

func randText1(rng *rand.Rand, allowThink bool) string {
	var b strings.Builder
	for range rng.IntN(7) {
		f := fragments[rng.IntN(len(fragments))]
		if !allowThink && strings.Contains(f, "think>") {
			continue
		}
		b.WriteString(f)
	}
	if allowThink && rng.IntN(8) == 0 {
		b.WriteString("<think>")
	}
	return b.String()
}

// randConv returns a valid conversation for the convention, with its grids.
func randConv(rng *rand.Rand, c Convention) (Conversation, [][3]int) {
	var conv Conversation
	var grids [][3]int
	prompt := func(role Role) Message {
		m := Message{Role: role}
		for range rng.IntN(4) {
			if rng.IntN(3) == 0 {
				m.Parts = append(m.Parts, Image(len(conv.Images)))
				conv.Images = append(conv.Images, nil)
				grids = append(grids, [3]int{1 + rng.IntN(2), 2 * (1 + rng.IntN(3)), 2 * (1 + rng.IntN(3))})
			} else {
				m.Parts = append(m.Parts, Text(randText(rng, true)))
			}
		}
		return m
	}
	answer := func() Message {
		m := Message{Role: Assistant, Parts: []Part{Text(randText(rng, false))}}
		if rng.IntN(2) == 0 {
			m.Reasoning = randText(rng, false)
		}
		return m
	}
	if rng.IntN(2) == 0 {
		conv.Messages = append(conv.Messages, Message{Role: System, Parts: []Part{Text(randText(rng, true))}})
	}
	turns := 1 + rng.IntN(3)
	for range turns {
		if c == LlamaFactory {
			role := User
			if len(conv.Messages) > 1 && rng.IntN(3) == 0 {
				role = Observation
			}
			conv.Messages = append(conv.Messages, prompt(role), answer())
			continue
		}
		for range 1 + rng.IntN(2) {
			roles := []Role{User, User, Observation, System}
			conv.Messages = append(conv.Messages, prompt(roles[rng.IntN(len(roles))]))
			if conv.Messages[len(conv.Messages)-1].Role == System {
				conv.Messages[len(conv.Messages)-1].Parts = []Part{Text(randText(rng, true))}
			}
		}
		for range 1 + rng.IntN(2) {
			conv.Messages = append(conv.Messages, answer())
		}
	}
	return renumber(conv), grids
}

// renumber keeps image references in order after system messages lost their parts.
func renumber(conv Conversation) Conversation {
	n := 0
	for mi := range conv.Messages {
		for pi := range conv.Messages[mi].Parts {
			if conv.Messages[mi].Parts[pi].Kind == ImagePart {
				conv.Messages[mi].Parts[pi].Image = n
				n++
			}
		}
	}
	conv.Images = conv.Images[:n]
	return conv
}

// TestWholeStringProperty: for random conversations under every option combination, the ids
// equal the tokenization of RenderText as one string, decode back to it, and the untrainable
// tokens are never trained.
func TestWholeStringProperty(t *testing.T) {
	enc := newTestEncoder()
	rng := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() {
		n = 600
	}
	for i := range n {
		o := DefaultOptions()
		o.Convention = Convention(i % 2)
		o.EnableThinking = i%4 < 2
		o.IncludeTerminator = o.Convention == MegatronBridge && i%8 >= 4
		conv, grids := randConv(rng, o.Convention)
		grids = grids[:len(conv.Images)]
		text, err := RenderText(conv, grids, o)
		if err != nil {
			t.Fatalf("case %d: RenderText: %v", i, err)
		}
		r, err := Render(conv, grids, enc, o)
		if err != nil {
			t.Fatalf("case %d: Render: %v", i, err)
		}
		if whole := enc.AppendEncode(nil, text); !slices.Equal(whole, r.InputIDs) {
			t.Fatalf("case %d (%v): ids differ from tokenizing the whole string %q\n got %v\nwant %v", i, o, text, r.InputIDs, whole)
		}
		if got := enc.Decode(r.InputIDs); got != text {
			t.Fatalf("case %d: decode %q != %q", i, got, text)
		}
		if len(r.Loss) != len(r.InputIDs) {
			t.Fatalf("case %d: %d loss flags for %d ids", i, len(r.Loss), len(r.InputIDs))
		}
		images := 0
		for j, id := range r.InputIDs {
			switch id {
			case idGMASK, idSOP, idBOI, idImage, idEOI:
				if r.Loss[j] {
					t.Fatalf("case %d: token %d (id %d) trained", i, j, id)
				}
			}
			if id == idImage {
				images++
			}
		}
		want := 0
		for _, g := range grids {
			want += g[0] * g[1] * g[2] / 4
		}
		if images != want {
			t.Fatalf("case %d: %d image tokens, want %d", i, images, want)
		}
		if o.Convention == MegatronBridge {
			checkMegatronSpans(t, i, enc, conv, r, o)
		}
	}
}

// checkMegatronSpans derives, from the messages alone, the text each assistant turn trains
// under Megatron-Bridge's rules and compares it with the decoded trained tokens.
func checkMegatronSpans(t *testing.T, i int, enc *testEncoder, conv Conversation, r Rendered, o Options) {
	t.Helper()
	lastUser := -1
	for j, m := range conv.Messages {
		if m.Role == User {
			lastUser = j
		}
	}
	var want []string
	for j, m := range conv.Messages {
		if m.Role != Assistant {
			continue
		}
		content := pyStrip(m.Parts[0].Text)
		reasoning := ""
		if j > lastUser {
			reasoning = pyStrip(m.Reasoning)
		}
		span := ""
		switch {
		case reasoning != "":
			span = "<think>" + reasoning + "</think>"
			if content != "" {
				span += "\n" + content
			}
		case content != "":
			span = content
		default:
			span = "<think></think>"
		}
		if o.IncludeTerminator {
			if j+1 < len(conv.Messages) {
				span += map[Role]string{User: "<|user|>", Observation: "<|observation|>", System: "<|system|>", Assistant: "<|assistant|>"}[conv.Messages[j+1].Role]
			} else {
				span += "<|endoftext|>"
			}
		}
		want = append(want, span)
	}
	var got []string
	for j := 0; j < len(r.Loss); {
		if !r.Loss[j] {
			j++
			continue
		}
		k := j
		for k < len(r.Loss) && r.Loss[k] {
			k++
		}
		got = append(got, enc.Decode(r.InputIDs[j:k]))
		j = k
	}
	// Consecutive assistant turns with IncludeTerminator train "<|assistant|>" and run into
	// the next span; join both sides to compare.
	if strings.Join(got, "") != strings.Join(want, "") || (!o.IncludeTerminator && !slices.Equal(got, want)) {
		t.Fatalf("case %d: trained spans\n got %q\nwant %q", i, got, want)
	}
}
