package chat

import (
	"slices"
	"strings"
	"testing"
)

// seq builds an id list; rep(id, n) repeats.
func seq(parts ...any) []int32 {
	var out []int32
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			out = append(out, int32(v))
		case []int32:
			out = append(out, v...)
		default:
			panic("seq: bad element")
		}
	}
	return out
}

func rep(id, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(id)
	}
	return out
}

// mask parses a loss mask written as '0'/'1' (spaces ignored, for grouping).
func mask(s string) []bool {
	var out []bool
	for _, c := range s {
		switch c {
		case '0':
			out = append(out, false)
		case '1':
			out = append(out, true)
		}
	}
	return out
}

func maskString(m []bool) string {
	var b strings.Builder
	for _, v := range m {
		if v {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	return b.String()
}

type renderCase struct {
	name  string
	conv  Conversation
	grids [][3]int
	opts  Options
	text  string  // RenderText
	ids   []int32 // hand-derived
	loss  string
	eosAt []int // positions whose target is <|endoftext|> (LlamaFactory)
}

func (c renderCase) run(t *testing.T) {
	t.Helper()
	enc := newTestEncoder()
	text, err := RenderText(c.conv, c.grids, c.opts)
	if err != nil {
		t.Fatalf("RenderText: %v", err)
	}
	if text != c.text {
		t.Errorf("RenderText:\n got %q\nwant %q", text, c.text)
	}
	r, err := Render(c.conv, c.grids, enc, c.opts)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if !slices.Equal(r.InputIDs, c.ids) {
		t.Errorf("ids:\n got %v\nwant %v", r.InputIDs, c.ids)
	}
	if want := mask(c.loss); !slices.Equal(r.Loss, want) {
		t.Errorf("loss:\n got %s\nwant %s", maskString(r.Loss), maskString(want))
	}
	// The whole-string property, on this case.
	if whole := enc.AppendEncode(nil, text); !slices.Equal(whole, r.InputIDs) {
		t.Errorf("ids differ from tokenizing RenderText:\n got %v\nwant %v", r.InputIDs, whole)
	}
	// Targets: input ids except the <|endoftext|> overrides.
	if len(c.eosAt) == 0 && r.Targets != nil {
		t.Errorf("Targets = %v, want nil", r.Targets)
	}
	if len(c.eosAt) > 0 {
		want := slices.Clone(c.ids)
		for _, p := range c.eosAt {
			want[p] = idEOS
		}
		if !slices.Equal(r.Targets, want) {
			t.Errorf("Targets:\n got %v\nwant %v", r.Targets, want)
		}
	}
	// Labels, built here from the hand-derived ids and mask.
	want := mask(c.loss)
	if len(want) != len(c.ids) {
		t.Fatalf("test case: %d mask flags for %d ids", len(want), len(c.ids))
	}
	shifted := make([]int32, len(c.ids))
	lbl := make([]int32, len(c.ids))
	for i := range c.ids {
		shifted[i], lbl[i] = -100, -100
		tgt := func(j int) int32 {
			if slices.Contains(c.eosAt, j) {
				return idEOS
			}
			return c.ids[j]
		}
		if i+1 < len(c.ids) && want[i+1] {
			shifted[i] = tgt(i + 1)
		}
		if want[i] {
			lbl[i] = tgt(i)
		}
	}
	if got := r.ShiftedLabels(); !slices.Equal(got, shifted) {
		t.Errorf("ShiftedLabels:\n got %v\nwant %v", got, shifted)
	}
	if got := r.Labels(); !slices.Equal(got, lbl) {
		t.Errorf("Labels:\n got %v\nwant %v", got, lbl)
	}
}

// cordLike: one image then the prompt, one answer (Megatron-Bridge's cord_v2 shape).
func cordLike() Conversation {
	return Conversation{
		Messages: []Message{
			{Role: User, Parts: []Part{Image(0), Text("Describe this image.")}},
			{Role: Assistant, Parts: []Part{Text("A cat.")}},
		},
		Images: [][]byte{{0xff, 0xd8}},
	}
}

func lfOpts(thinking bool) Options {
	o := DefaultOptions()
	o.Convention = LlamaFactory
	o.EnableThinking = thinking
	return o
}

func TestRenderMegatronBridge(t *testing.T) {
	img4 := rep(idImage, 4)
	cases := []renderCase{{
		name:  "cord-like, empty think trimmed",
		conv:  cordLike(),
		grids: [][3]int{{1, 4, 4}}, // 16 patches / 4 = 4 tokens
		text:  "[gMASK]<sop><|user|>\n<|begin_of_image|>" + strings.Repeat("<|image|>", 4) + "<|end_of_image|>Describe this image.<|assistant|>\n<think></think>\nA cat.",
		ids: seq(idGMASK, idSOP, idUser, idNL, idBOI, img4, idEOI, 5001, 5002, 5003, 5004,
			idAssistant, idNL, idThink, idEndThink, idNL, 5005, 5006, 5004),
		loss: "00 00 0 0000 0 0000 00 000 111",
	}, {
		name: "system, multi-turn, two images in one turn, image in a later turn, reasoning kept only after the last user",
		conv: Conversation{
			Messages: []Message{
				{Role: System, Parts: []Part{Text("You are helpful.")}},
				{Role: User, Parts: []Part{Text("Compare"), Image(0), Image(1)}},
				{Role: Assistant, Parts: []Part{Text("Same.")}, Reasoning: "hmm"},
				{Role: User, Parts: []Part{Image(2), Text("Why?")}},
				{Role: Assistant, Parts: []Part{Text("Because.")}, Reasoning: "ok"},
			},
			Images: make([][]byte, 3),
		},
		grids: [][3]int{{1, 2, 2}, {1, 2, 4}, {2, 2, 2}}, // 1, 2, 2 tokens
		text: "[gMASK]<sop><|system|>\nYou are helpful.<|user|>\nCompare" +
			"<|begin_of_image|><|image|><|end_of_image|><|begin_of_image|><|image|><|image|><|end_of_image|>" +
			"<|assistant|>\n<think></think>\nSame.<|user|>\n<|begin_of_image|><|image|><|image|><|end_of_image|>Why?" +
			"<|assistant|>\n<think>ok</think>\nBecause.",
		ids: seq(idGMASK, idSOP, idSystem, idNL, 5010, 5011, 5012, 5004,
			idUser, idNL, 5015, idBOI, idImage, idEOI, idBOI, idImage, idImage, idEOI,
			idAssistant, idNL, idThink, idEndThink, idNL, 5016, 5004,
			idUser, idNL, idBOI, idImage, idImage, idEOI, 5007, 5008,
			idAssistant, idNL, idThink, 5018, idEndThink, idNL, 5009, 5004),
		loss: "00000000 0000000000 0000011 00000000 00111111",
	}, {
		name: "thinking disabled: /nothink appended unless already there; later reasoning still rendered",
		conv: Conversation{Messages: []Message{
			{Role: User, Parts: []Part{Text("Why?")}},
			{Role: Assistant, Parts: []Part{Text("Because.")}},
			{Role: User, Parts: []Part{Text("Why?/nothink")}},
			{Role: Assistant, Parts: []Part{Text("<think>ok</think>\n\nBecause.")}}, // reasoning embedded in the content
		}},
		opts: func() Options { o := DefaultOptions(); o.EnableThinking = false; return o }(),
		text: "[gMASK]<sop><|user|>\nWhy?/nothink<|assistant|>\n<think></think>\nBecause." +
			"<|user|>\nWhy?/nothink<|assistant|>\n<think>ok</think>\nBecause.",
		ids: seq(idGMASK, idSOP, idUser, idNL, 5007, 5008, idNothink,
			idAssistant, idNL, idThink, idEndThink, idNL, 5009, 5004,
			idUser, idNL, 5007, 5008, idNothink,
			idAssistant, idNL, idThink, 5018, idEndThink, idNL, 5009, 5004),
		loss: "0000000 0000011 00000 00111111",
	}, {
		name: "observation with a terminator trained (IncludeTerminator)",
		conv: Conversation{Messages: []Message{
			{Role: User, Parts: []Part{Text("Weather?")}},
			{Role: Assistant, Parts: []Part{Text("  Look here.\n")}}, // stripped like the template
			{Role: Observation, Parts: []Part{Text("sunny")}},
			{Role: Assistant, Parts: []Part{Text("Thanks.")}},
		}},
		opts: func() Options { o := DefaultOptions(); o.IncludeTerminator = true; return o }(),
		text: "[gMASK]<sop><|user|>\nWeather?<|assistant|>\n<think></think>\nLook here." +
			"<|observation|>\n<tool_response>\nsunny\n</tool_response><|assistant|>\n<think></think>\nThanks.<|endoftext|>",
		ids: seq(idGMASK, idSOP, idUser, idNL, 5020, 5008,
			idAssistant, idNL, idThink, idEndThink, idNL, 5013, 5014, 5004,
			idObs, idNL, idToolResp, idNL, 5019, idNL, idToolRespE,
			idAssistant, idNL, idThink, idEndThink, idNL, 5021, 5004, idEOS),
		loss: "000000 00000111 1000000 00000111",
	}, {
		name: "empty content: the empty think block is all there is, and it is trained (no trim match)",
		conv: Conversation{Messages: []Message{
			{Role: User, Parts: []Part{Text("Why?")}},
			{Role: Assistant, Parts: []Part{Text(" ")}},
		}},
		text: "[gMASK]<sop><|user|>\nWhy?<|assistant|>\n<think></think>",
		ids:  seq(idGMASK, idSOP, idUser, idNL, 5007, 5008, idAssistant, idNL, idThink, idEndThink),
		loss: "000000 0011",
	}}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

func TestRenderLlamaFactory(t *testing.T) {
	img4 := rep(idImage, 4)
	prompt := seq(idGMASK, idSOP, idUser, idNL, idBOI, img4, idEOI, 5001, 5002, 5003, 5004, idAssistant)
	promptText := "[gMASK]<sop><|user|>\n<|begin_of_image|>" + strings.Repeat("<|image|>", 4) + "<|end_of_image|>Describe this image.<|assistant|>"
	cases := []renderCase{{
		name:  "cord-like: empty thought words and the answer trained, <|endoftext|> appended and trained",
		conv:  cordLike(),
		grids: [][3]int{{1, 4, 4}},
		opts:  lfOpts(true),
		text:  promptText + "<think>\n\n</think>\n\n\nA cat.<|endoftext|>",
		ids:   seq(prompt, idThink, idNL2, idEndThink, idNL3, 5005, 5006, 5004, idEOS),
		loss:  "000000000000000 11111111",
	}, {
		name:  "thinking disabled: thought words in the prompt; the token straddling prompt and answer is trained",
		conv:  cordLike(),
		grids: [][3]int{{1, 4, 4}},
		opts:  lfOpts(false),
		text:  promptText + "<think>\n\n</think>\n\n\nA cat.<|endoftext|>",
		ids:   seq(prompt, idThink, idNL2, idEndThink, idNL3, 5005, 5006, 5004, idEOS),
		loss:  "000000000000000 000 11111",
	}, {
		name: "system, observation, history reasoning dropped, final reasoning kept, eos target at the next prompt",
		conv: Conversation{Messages: []Message{
			{Role: System, Parts: []Part{Text("You are helpful.")}},
			{Role: User, Parts: []Part{Text("Why?")}},
			{Role: Assistant, Parts: []Part{Text("Because.")}, Reasoning: "hmm"},
			{Role: Observation, Parts: []Part{Text("sunny")}},
			{Role: Assistant, Parts: []Part{Text("Thanks.")}, Reasoning: "ok"},
		}},
		opts: lfOpts(true),
		text: "[gMASK]<sop><|system|>\nYou are helpful.<|user|>\nWhy?<|assistant|>" +
			"<think>\n\n</think>\n\n\nBecause.<|observation|>\nsunny<|assistant|>\n<think>ok</think>\nThanks.<|endoftext|>",
		ids: seq(idGMASK, idSOP, idSystem, idNL, 5010, 5011, 5012, 5004, idUser, idNL, 5007, 5008, idAssistant,
			idThink, idNL2, idEndThink, idNL3, 5009, 5004,
			idObs, idNL, 5019, idAssistant,
			idNL, idThink, 5018, idEndThink, idNL, 5021, 5004, idEOS),
		loss:  "0000000000000 111111 1000 11111111",
		eosAt: []int{19},
	}}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

func TestZeroOptionsAreDefaults(t *testing.T) {
	enc := newTestEncoder()
	a, err := Render(cordLike(), [][3]int{{1, 4, 4}}, enc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(cordLike(), [][3]int{{1, 4, 4}}, enc, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.InputIDs, b.InputIDs) || !slices.Equal(a.Loss, b.Loss) {
		t.Fatal("Options{} renders differently from DefaultOptions()")
	}
	if (Options{}).Hash() != DefaultOptions().Hash() {
		t.Fatal("Options{} and DefaultOptions() hash differently")
	}
}

func TestOptionsHashChanges(t *testing.T) {
	base := DefaultOptions()
	seen := map[string]string{base.Hash(): "default"}
	variants := map[string]Options{}
	o := base
	o.Convention = LlamaFactory
	variants["llama-factory"] = o
	o = base
	o.EnableThinking = false
	variants["no thinking"] = o
	o = base
	o.IncludeTerminator = true
	variants["terminator"] = o
	o = base
	o.MergeSize = 1
	variants["merge 1"] = o
	for _, name := range []string{"llama-factory", "no thinking", "terminator", "merge 1"} {
		h := variants[name].Hash()
		if prev, ok := seen[h]; ok {
			t.Errorf("%s hashes like %s", name, prev)
		}
		seen[h] = name
	}
}

func TestParseConvention(t *testing.T) {
	for _, c := range []Convention{MegatronBridge, LlamaFactory} {
		got, err := ParseConvention(c.String())
		if err != nil || got != c {
			t.Errorf("ParseConvention(%q) = %v, %v", c.String(), got, err)
		}
	}
	if _, err := ParseConvention("mb"); err == nil {
		t.Error("ParseConvention(\"mb\") accepted")
	}
}
